/** Raw JSON-RPC over HTTP, for checks the SDK client would hide (statuses, headers, exact error codes). */
export interface RpcResponse {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export const LEGACY_VERSION = '2025-11-25';
export const MODERN_VERSION = '2026-07-28';

export function baseHeaders(key?: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(key ? { authorization: `Bearer ${key}` } : {}),
    ...extra,
  };
}

export async function post(url: string, body: unknown, headers: Record<string, string>): Promise<RpcResponse> {
  const res = await fetch(`${url}/mcp`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return read(res);
}

export async function read(res: Response): Promise<RpcResponse> {
  const text = await res.text();
  let body: unknown = undefined;
  if (res.headers.get('content-type')?.includes('text/event-stream')) {
    const data = text
      .split('\n')
      .filter((l) => l.startsWith('data: ') && l.length > 6)
      .map((l) => JSON.parse(l.slice(6)) as unknown);
    body = data[data.length - 1];
  } else if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  return { status: res.status, headers: res.headers, body, text };
}

let nextId = 1;

/** Opens a 2025-era session the way every client does: initialize, then notifications/initialized. */
export async function openSession(url: string, key: string, capabilities: Record<string, unknown> = {}): Promise<string> {
  const init = await post(
    url,
    { jsonrpc: '2.0', id: nextId++, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities, clientInfo: { name: 'test', version: '1' } } },
    baseHeaders(key),
  );
  if (init.status !== 200) throw new Error(`initialize failed: ${init.status} ${init.text}`);
  const sessionId = init.headers.get('mcp-session-id');
  if (!sessionId) throw new Error('initialize returned no Mcp-Session-Id');
  const ack = await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, baseHeaders(key, { 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION }));
  if (ack.status !== 202) throw new Error(`initialized failed: ${ack.status} ${ack.text}`);
  return sessionId;
}

/** tools/call inside a 2025-era session; returns the raw response. */
export function callTool(url: string, key: string, sessionId: string, name: string, args: Record<string, unknown> = {}): Promise<RpcResponse> {
  return post(
    url,
    { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name, arguments: args } },
    baseHeaders(key, { 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION }),
  );
}

/** tools/call as a stateless 2026-07-28 request. */
export function callToolModern(url: string, key: string, name: string, args: Record<string, unknown> = {}): Promise<RpcResponse> {
  return post(
    url,
    {
      jsonrpc: '2.0',
      id: nextId++,
      method: 'tools/call',
      params: {
        name,
        arguments: args,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
          'io.modelcontextprotocol/clientInfo': { name: 'test', version: '1' },
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    },
    baseHeaders(key, { 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'tools/call', 'mcp-name': name }),
  );
}

/** The structured result of a successful tool call, or a thrown error describing what came back instead. */
export function structured(res: RpcResponse): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (res.status !== 200 || !res.body?.result) throw new Error(`expected a result, got ${res.status} ${res.text.slice(0, 500)}`);
  if (res.body.result.isError) throw new Error(`tool error: ${JSON.stringify(res.body.result.content)}`);
  return res.body.result.structuredContent;
}

export function toolError(res: RpcResponse): { code: string; message: string } {
  if (res.status !== 200 || !res.body?.result?.isError) throw new Error(`expected a tool error, got ${res.status} ${res.text.slice(0, 500)}`);
  return res.body.result.structuredContent?.error ?? { code: 'unknown', message: res.body.result.content?.[0]?.text };
}
