import { createHash, randomBytes } from 'node:crypto';

/**
 * Cart ids the server picks. A 2025-era session has a cart of its own, so an agent that keeps its session sees
 * what it put there without naming it; the id is a digest of the session id, so it names the cart without
 * exposing the session (cart ids reach the model, its transcript and our logs). A call with no session and no
 * cart_id (2026-07-28 requests) starts a cart with a random id. Both fit the CartId schema, so the agent passes
 * them back as they are.
 */
export function sessionCartId(sessionId: string): string {
  return `s_${createHash('sha256').update(sessionId).digest('base64url').slice(0, 16)}`;
}

export function newCartId(): string {
  return `c_${randomBytes(12).toString('base64url')}`;
}
