import type { McpServer } from '@modelcontextprotocol/server';
import type { Principal } from '../auth/principal.js';
import type { FailureSink } from './http-types.js';
import type { UserEvents } from './user-events.js';

/** What a per-request MCP server knows about the call it serves. Built by the era router, read by the tools. */
export interface McpCallContext {
  era: 'legacy' | 'modern';
  principal: Principal;
  /** Present for 2025-era requests inside a session. */
  session?: McpSessionHandle;
  /** Where tools report infrastructure failures they cannot express as a tool result. */
  sink: FailureSink;
  /** Tells the user's other sessions and listeners (any instance) that something of theirs changed. */
  userEvents: UserEvents;
  /**
   * When the request is known to be a `tools/call` (2025-era requests: one JSON-RPC request per server), the tool
   * it names: the factory may then register that tool alone. Absent: everything.
   */
  toolCall?: string;
  /** The request is an `initialize`: the server only has to answer the handshake (capabilities are declared). */
  handshake?: boolean;
}

export interface McpSessionHandle {
  id: string;
  activeBusinessId?: string;
  /** The business whose catalog version this request read: cached catalog rows of it may be used. */
  catalogCurrent?: string;
  /** Records the session's active business where every instance sees it on the next request. */
  setActiveBusiness(businessId: string): Promise<void>;
  /** Sends a server→client message on the session's GET stream, wherever that stream is held. */
  notify(message: { method: string; params?: Record<string, unknown> }): Promise<void>;
}

export type McpServerFactory = (ctx: McpCallContext) => McpServer;
