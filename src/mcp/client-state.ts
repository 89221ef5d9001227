import type { McpServer } from '@modelcontextprotocol/server';
import type { SessionRecord } from '../state/session-store.js';

interface ServerInternals {
  _clientCapabilities?: unknown;
  _clientVersion?: unknown;
  _negotiatedProtocolVersion?: string;
  transport?: { setProtocolVersion?: (v: string) => void };
}

/**
 * Gives a fresh per-request server what its `initialize` handler would have recorded, so capability checks
 * (elicitation, sampling) and era-dependent encoding behave as in a long-lived session.
 *
 * The SDK has no public way to hand a per-request server the stored handshake (see REFERENCE.md); replaying
 * `initialize` over an in-memory pair costs ~20 µs per request, so we set the three fields `_oninitialize`
 * sets. test/integration/client-state.test.ts fails if an SDK upgrade renames them.
 */
export function restoreClientState(server: McpServer, record: Pick<SessionRecord, 'clientCapabilities' | 'clientInfo' | 'protocolVersion'>): void {
  const internals = server.server as unknown as ServerInternals;
  internals._clientCapabilities = record.clientCapabilities;
  internals._clientVersion = record.clientInfo;
  internals._negotiatedProtocolVersion = record.protocolVersion;
  internals.transport?.setProtocolVersion?.(record.protocolVersion);
}
