import type { Principal } from '../auth/principal.js';

/** One /mcp request after the HTTP layer has checked Host/Origin, authenticated it and parsed its body. */
export interface McpHttpRequest {
  method: string;
  url: string;
  headers: Headers;
  body?: unknown;
  principal: Principal;
  /** Aborts when the client goes away. */
  signal?: AbortSignal;
}

/** Collects infrastructure failures that a tool swallowed into a tool result, so the layer can answer 503 instead. */
export interface FailureSink {
  failures: unknown[];
}

export function acceptsBoth(headers: Headers): boolean {
  const accept = headers.get('accept') ?? '';
  return accept.includes('application/json') && accept.includes('text/event-stream');
}

export function acceptsEventStream(headers: Headers): boolean {
  return (headers.get('accept') ?? '').includes('text/event-stream');
}
