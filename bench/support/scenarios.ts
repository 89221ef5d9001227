import type { Http } from './load.js';
import {
  baseHeaders,
  checkAccepted,
  checkInitialize,
  checkToolResult,
  INITIALIZED_BODY,
  initializeBody,
  modernHeaders,
  modernToolCallBody,
  sessionHeaders,
  SKU,
  TOOL,
  toolCallBody,
} from './mcp.js';

/** What the virtual users do: open 2025-era sessions, call add_item_to_cart in them, or call it statelessly. */
let nextId = 1;
export const rpcId = () => nextId++;

export interface Session {
  sessionId: string;
  cartId: string;
}

/** initialize + notifications/initialized; the session id, or why it failed. */
export async function openSession(http: Http, key: string | undefined): Promise<{ sessionId: string } | { error: string }> {
  const id = rpcId();
  const init = checkInitialize(await http.post('/mcp', baseHeaders(key), initializeBody(id)), id);
  if ('error' in init) return init;
  const ack = checkAccepted(await http.post('/mcp', sessionHeaders(key, init.sessionId), INITIALIZED_BODY));
  return ack ? { error: ack } : init;
}

export async function setupSession(http: Http, key: string | undefined, cartId: string): Promise<Session> {
  const s = await openSession(http, key);
  if ('error' in s) throw new Error(`could not open a session: ${s.error}`);
  return { sessionId: s.sessionId, cartId };
}

export function legacyToolStep(http: Http, key: string | undefined) {
  return async (_vu: number, s: Session) => {
    const id = rpcId();
    const reply = await http.post('/mcp', sessionHeaders(key, s.sessionId), toolCallBody(id, TOOL, { sku: SKU, quantity: 1, cart_id: s.cartId }));
    return checkToolResult(reply, id);
  };
}

/**
 * One step of an agent built on Google's ADK as it drives MCP over 2025-era sessions: a session per tool call —
 * initialize, notifications/initialized, the call, then DELETE.
 */
export function agentStep(http: Http, key: string | undefined) {
  return async (vu: number) => {
    const s = await openSession(http, key);
    if ('error' in s) return s.error;
    const id = rpcId();
    const reply = await http.post('/mcp', sessionHeaders(key, s.sessionId), toolCallBody(id, TOOL, { sku: SKU, quantity: 1, cart_id: `a${vu}` }));
    const problem = checkToolResult(reply, id);
    if (problem) return problem;
    // No body, so no Content-Type (Fastify, under the baseline, refuses an empty JSON body).
    const { 'content-type': _json, ...headers } = sessionHeaders(key, s.sessionId);
    const closed = await http.send('DELETE', '/mcp', headers);
    return closed.status === 200 || closed.status === 204 ? null : `DELETE answered ${closed.status} ${closed.text.slice(0, 200)}`;
  };
}

export function modernToolStep(http: Http, key: string | undefined) {
  return async (_vu: number, cartId: string) => {
    const id = rpcId();
    const reply = await http.post('/mcp', modernHeaders(key, TOOL), modernToolCallBody(id, TOOL, { sku: SKU, quantity: 1, cart_id: cartId }));
    return checkToolResult(reply, id);
  };
}


/** flowpos sessions start in the user's last active business: choose it once (a no-op for the baselines). */
export async function chooseActiveBusiness(http: Http, key: string | undefined): Promise<void> {
  if (!key) return;
  const s = await setupSession(http, key, 'setup');
  const id = rpcId();
  const reply = await http.post('/mcp', sessionHeaders(key, s.sessionId), toolCallBody(id, 'set_active_business', { business_id: 'biz_corner_coffee' }));
  const problem = checkToolResult(reply, id);
  if (problem) throw new Error(`set_active_business failed: ${problem}`);
}
