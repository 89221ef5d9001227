import type { IncomingHttpHeaders } from 'node:http';

/**
 * The request's headers as the MCP layer and the SDK's transport read them (`get`, like a web `Headers`), straight
 * from Node's parsed headers: copying every header into a web `Headers` (which validates each name and value) was
 * the largest cost of the /mcp route itself. `web()` makes that copy, once, for what needs a real one (a web
 * `Request` for a streamed answer or a 2026-07-28 call).
 */
export class RequestHeaders {
  #web: Headers | undefined;

  constructor(private readonly raw: IncomingHttpHeaders) {}

  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }

  web(): Headers {
    if (this.#web) return this.#web;
    const headers = new Headers();
    for (const [name, value] of Object.entries(this.raw)) {
      if (value === undefined) continue;
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    return (this.#web = headers);
  }
}
