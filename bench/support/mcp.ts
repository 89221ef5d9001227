/**
 * The MCP messages the benchmark sends, built as raw JSON-RPC so every system gets exactly the same bytes, and
 * the checks every answer must pass: a failed check counts as a failure, never as a call.
 */
export const LEGACY_VERSION = '2025-11-25';
export const MODERN_VERSION = '2026-07-28';
export const TOOL = 'add_item_to_cart';
export const SKU = 'COF-LATTE-12';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export function baseHeaders(key: string | undefined): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(key ? { authorization: `Bearer ${key}` } : {}),
  };
}

export function sessionHeaders(key: string | undefined, sessionId: string): Record<string, string> {
  return { ...baseHeaders(key), 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION };
}

export function modernHeaders(key: string | undefined, tool: string): Record<string, string> {
  return { ...baseHeaders(key), 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'tools/call', 'mcp-name': tool };
}

export function initializeBody(id: number): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'flowpos-bench', version: '1' } },
  });
}

export const INITIALIZED_BODY = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });

export function toolCallBody(id: number, name: string, args: Record<string, unknown>): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
}

export function modernToolCallBody(id: number, name: string, args: Record<string, unknown>): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name,
      arguments: args,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
        'io.modelcontextprotocol/clientInfo': { name: 'flowpos-bench', version: '1' },
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    },
  });
}

function header(reply: Reply, name: string): string | undefined {
  const v = reply.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The JSON-RPC message of a JSON body, or the last `data:` event of an SSE body. */
export function message(reply: Reply): Record<string, unknown> | undefined {
  const type = header(reply, 'content-type') ?? '';
  let json = reply.text;
  if (type.startsWith('text/event-stream')) {
    const data = reply.text.split('\n').filter((l) => l.startsWith('data: ') && l.length > 6);
    const last = data[data.length - 1];
    if (!last) return undefined;
    json = last.slice(6);
  }
  try {
    const parsed: unknown = JSON.parse(json);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function describe(reply: Reply): string {
  return `${reply.status} ${reply.text.slice(0, 300).replace(/\s+/g, ' ')}`;
}

/** Null when `reply` is a successful JSON-RPC result for request `id`; else why not. */
export function checkResult(reply: Reply, id: number): string | null {
  if (reply.status !== 200) return `status ${describe(reply)}`;
  const msg = message(reply);
  if (!msg) return `no JSON-RPC message: ${describe(reply)}`;
  if (msg.jsonrpc !== '2.0' || msg.id !== id) return `wrong id or version: ${describe(reply)}`;
  const result = msg.result as Record<string, unknown> | undefined;
  if (!result || typeof result !== 'object') return `no result: ${describe(reply)}`;
  if (result.isError === true) return `tool error: ${describe(reply)}`;
  return null;
}

/** Null when `reply` is a successful tool result carrying structured content; else why not. */
export function checkToolResult(reply: Reply, id: number): string | null {
  const problem = checkResult(reply, id);
  if (problem) return problem;
  const result = message(reply)!.result as Record<string, unknown>;
  if (!result.structuredContent || !Array.isArray(result.content)) return `tool result without content: ${describe(reply)}`;
  return null;
}

/** The session id of a successful initialize, or why there is none. */
export function checkInitialize(reply: Reply, id: number): { sessionId: string } | { error: string } {
  const problem = checkResult(reply, id);
  if (problem) return { error: problem };
  const result = message(reply)!.result as { protocolVersion?: unknown };
  if (typeof result.protocolVersion !== 'string') return { error: `initialize without protocolVersion: ${describe(reply)}` };
  const sessionId = header(reply, 'mcp-session-id');
  if (!sessionId) return { error: 'initialize without Mcp-Session-Id' };
  return { sessionId };
}

export function checkAccepted(reply: Reply): string | null {
  return reply.status === 202 ? null : `notification not accepted: ${describe(reply)}`;
}
