import type { JSONRPCMessage, McpServer, Transport } from '@modelcontextprotocol/server';
import type { McpHttpRequest } from './http-types.js';

/**
 * A 2025-era answer sent as JSON, without a web `Response`: the status, the headers and the JSON text, which the
 * HTTP layer writes as they are.
 */
export interface JsonAnswer {
  readonly kind: 'json';
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export function jsonAnswer(message: unknown, headers: Record<string, string> = {}): JsonAnswer {
  return { kind: 'json', status: 200, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(message) };
}

export function isJsonAnswer(value: unknown): value is JsonAnswer {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'json' && !(value instanceof Response);
}

/** A response of our own server (built by the SDK, not by a client): its shape is enough, no schema parse. */
export function isResponse(message: JSONRPCMessage): message is JSONRPCMessage & { id: string | number } {
  const m = message as { method?: unknown; id?: unknown; result?: unknown; error?: unknown };
  return m.method === undefined && (typeof m.id === 'string' || typeof m.id === 'number') && (m.result !== undefined || m.error !== undefined);
}

/**
 * What the transport needs of a request: method and headers (`url` and `signal` for the handlers' `ctx.http.req`).
 * A plain object instead of a web `Request`, whose construction copies the headers and links a new AbortSignal.
 */
export function requestInfo(req: McpHttpRequest): Request {
  // The signal only when someone reads it: the JSON path of the transport never does.
  return {
    method: 'POST',
    url: req.url,
    headers: req.headers,
    get signal() {
      return req.signal ?? new AbortController().signal;
    },
  } as unknown as Request;
}

/**
 * Closes a per-request server after its answer, on the next turn of the event loop (by then the SDK has finished
 * its bookkeeping of the request it answered). When nothing is pending on it (no outbound request awaiting a
 * reply, no handler still running, no timer), the SDK's close would only build a "Connection closed" SdkError
 * (with its stack trace) to reject nothing; the transport is then closed without telling the server, which is
 * dropped with it. Otherwise, or if the SDK's bookkeeping is not where it is expected, the ordinary close.
 */
export function closeAnsweredServer(server: McpServer, transport: Transport): void {
  setImmediate(closeNow, server, transport);
}

function closeNow(server: McpServer, transport: Transport): void {
  const protocol = server.server as unknown as {
    _responseHandlers?: Map<unknown, unknown>;
    _requestHandlerAbortControllers?: Map<unknown, unknown>;
    _timeoutInfo?: Map<unknown, unknown>;
  };
  const idle =
    protocol._responseHandlers?.size === 0 && protocol._requestHandlerAbortControllers?.size === 0 && protocol._timeoutInfo?.size === 0;
  if (idle) {
    transport.onclose = undefined;
    void transport.close().catch(() => {});
    return;
  }
  void transport.close().catch(() => {});
  void server.close().catch(() => {});
}
