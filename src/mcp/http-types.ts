import type { Principal } from '../auth/principal.js';
import type { RequestHeaders } from './request-headers.js';

/** One /mcp request after the HTTP layer has checked Host/Origin, authenticated it and parsed its body. */
export interface McpHttpRequest {
  method: string;
  url: string;
  headers: RequestHeaders;
  body?: unknown;
  principal: Principal;
  /** Aborts when the client goes away. */
  signal?: AbortSignal;
  /** The business whose catalog version was read for this request (see PosService.refreshCaches). */
  catalogCurrent?: string;
}

/** Collects infrastructure failures that a tool swallowed into a tool result, so the layer can answer 503 instead. */
export interface FailureSink {
  failures: unknown[];
}

// A client sends the same Accept header on every request, so the last one parsed is kept (value and result).
let lastAccept: string | undefined;
let lastTypes: ReadonlySet<string> = new Set();

/** The media types an Accept header lists, parameters dropped ("application/json-seq" is not "application/json"). */
function acceptedTypes(headers: RequestHeaders): ReadonlySet<string> {
  const accept = headers.get('accept') ?? '';
  if (accept !== lastAccept) {
    lastTypes = new Set(accept.split(',').map((range) => range.split(';')[0]!.trim().toLowerCase()));
    lastAccept = accept;
  }
  return lastTypes;
}

export function acceptsBoth(headers: RequestHeaders): boolean {
  const types = acceptedTypes(headers);
  return types.has('application/json') && types.has('text/event-stream');
}

export function acceptsEventStream(headers: RequestHeaders): boolean {
  return acceptedTypes(headers).has('text/event-stream');
}
