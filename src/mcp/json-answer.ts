import {
  WebStandardStreamableHTTPServerTransport,
  type JSONRPCMessage,
  type McpServer,
  type Transport,
  type TransportSendOptions,
} from '@modelcontextprotocol/server';
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

/** The transport's bookkeeping of a JSON-mode exchange (fields of the SDK class, not part of its typed API). */
interface JsonModeInternals {
  _requestToStreamMapping?: Map<unknown, string>;
  _streamMapping?: Map<string, { resolveJson?: (response: Response) => void; cleanup: () => void }>;
}

/** What handleRequest resolves with once the answer was captured (ignored: the caller reads `answer`). */
const CAPTURED = Symbol('json answer captured') as unknown as Response;

/**
 * The SDK's stateless web-standard transport in JSON mode, minus the `Response` it would build for the answer:
 * every check of an incoming request (Accept, Content-Type, JSON-RPC shape, protocol version, scope challenges)
 * stays the SDK's, but when the server sends the response to the (single) request, the message is kept in `answer`
 * instead of going through `Response.json` (a JSON serialisation into a web stream, which the HTTP layer would
 * then read back into a string). Anything else — an error response of the transport itself, a batch — takes the
 * SDK's own path and comes back as a `Response`.
 */
export class JsonAnswerTransport extends WebStandardStreamableHTTPServerTransport {
  answer: JSONRPCMessage | undefined;

  constructor() {
    super({ sessionIdGenerator: undefined, enableJsonResponse: true });
  }

  override async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    // A response of our own server (built by the SDK, not by a client): its shape is enough, no schema parse of
    // the whole result needed.
    if (isResponse(message)) {
      const internals = this as unknown as JsonModeInternals;
      const streamId = internals._requestToStreamMapping?.get(message.id);
      const stream = streamId === undefined ? undefined : internals._streamMapping?.get(streamId);
      const related = streamId === undefined ? 0 : [...internals._requestToStreamMapping!.values()].filter((id) => id === streamId).length;
      if (stream?.resolveJson && related === 1 && this.answer === undefined) {
        this.answer = message;
        internals._requestToStreamMapping!.delete(message.id);
        stream.cleanup();
        stream.resolveJson(CAPTURED);
        return;
      }
    }
    return super.send(message, options);
  }
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
