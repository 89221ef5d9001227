import type { AuthInfo, JSONRPCMessage, JSONRPCRequest, ScopeChallenge, Transport } from '@modelcontextprotocol/server';
import { isResponse } from './json-answer.js';

type ScopeChallengeResolver = (context: { request: JSONRPCRequest; authInfo?: AuthInfo }) => ScopeChallenge | undefined | Promise<ScopeChallenge | undefined>;

/** What `serve` hands the server with the request (the SDK's MessageExtraInfo, as its HTTP transports fill it). */
export interface DirectRequestExtra {
  authInfo: AuthInfo;
  request: Request;
}

/**
 * An SDK transport for a 2025-era session's JSON-answered requests, reached after the HTTP layer and the session
 * layer have made every check the SDK's HTTP transport would make again (Accept, Content-Type, one strictly valid
 * JSON-RPC request, the session id and its owner, the protocol version): the request goes straight to the
 * connected server's `onmessage`, and its response comes back as the message itself. The SDK's web-standard
 * transport repeats those checks with several full schema parses per request, which, with the garbage they leave,
 * were a sixth of a cached session's CPU per call (docs/performance.md).
 *
 * A request that meets a scope challenge (a write with a read-only token) is not served here: `serve` says so and
 * the caller takes the SDK transport's path, which answers the challenge in the SDK's own words.
 */
export class DirectJsonTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];
  readonly sessionId: string | undefined;
  #scopeChallenge: ScopeChallengeResolver | undefined;
  #pending: { id: JSONRPCRequest['id']; resolve: (message: JSONRPCMessage | undefined) => void } | undefined;
  #closed = false;

  constructor(sessionId?: string) {
    this.sessionId = sessionId;
  }

  async start(): Promise<void> {}

  /** Called by McpServer.connect: how a tool or resource declares the scopes it needs. */
  setScopeChallengeResolver(resolver: ScopeChallengeResolver): void {
    this.#scopeChallenge = resolver;
  }

  /**
   * One request, answered: the server's response, 'challenge' when the SDK's transport must answer it (see
   * above), or undefined when the transport was closed before the server answered.
   */
  async serve(request: JSONRPCRequest, extra: DirectRequestExtra): Promise<JSONRPCMessage | 'challenge' | undefined> {
    if (this.#closed) return undefined;
    if (this.#pending) throw new Error('DirectJsonTransport serves one request at a time');
    if (this.#scopeChallenge && (await this.#scopeChallenge({ request, authInfo: extra.authInfo })) !== undefined) return 'challenge';
    return new Promise((resolve) => {
      this.#pending = { id: request.id, resolve };
      this.onmessage?.(request, extra);
    });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const pending = this.#pending;
    if (pending && isResponse(message) && message.id === pending.id) {
      this.#pending = undefined;
      pending.resolve(message);
    }
    // Anything else the server sends while answering in JSON (a notification, a request of its own) has no
    // channel here, as with the SDK's transport in JSON mode without a standalone stream: requests that need one
    // (progress, elicitation) are served on a stream instead (LegacySessionLayer.wantsStream).
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.resolve(undefined);
    this.onclose?.();
  }
}
