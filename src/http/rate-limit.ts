import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { RateLimiter, RateLimitRule } from '../state/rate-limiter.js';

export interface RateLimitPolicy {
  limiter: RateLimiter;
  /** Every request of a user (0: no limit). */
  requestsPerWindow: number;
  /** tools/call of a write tool by a user (0: no limit). */
  writesPerWindow: number;
  windowMs: number;
  writeTools: Iterable<string>;
  /** Told about each refusal (metrics). */
  onLimited?: (limit: 'requests' | 'writes') => void;
}

/**
 * The /mcp rate check, run after authentication and body parsing: one limiter call per request, which charges the
 * user's request bucket and, for a write tool call, the write bucket too — or, when either is full, neither, and
 * the request is refused with 429 before anything runs (so a refused write changes nothing). undefined when both
 * limits are off.
 */
export function rateLimitCheck(policy: RateLimitPolicy): ((request: FastifyRequest) => Promise<void>) | undefined {
  const { limiter, requestsPerWindow, writesPerWindow, windowMs } = policy;
  if (requestsPerWindow <= 0 && writesPerWindow <= 0) return undefined;
  const writeTools = new Set(policy.writeTools);
  const requests: RateLimitRule | undefined = requestsPerWindow > 0 ? { bucket: 'requests', limit: requestsPerWindow, windowMs } : undefined;
  const writes: RateLimitRule | undefined = writesPerWindow > 0 ? { bucket: 'writes', limit: writesPerWindow, windowMs } : undefined;
  const window = `${Math.round(windowMs / 1000)} s`;
  // The same two rule lists every time: a limiter may then keep what it derives from a list (RedisRateLimiter does).
  const forRead: readonly RateLimitRule[] = requests ? [requests] : [];
  const forWrite: readonly RateLimitRule[] = [...forRead, ...(writes ? [writes] : [])];

  return async (request) => {
    const principal = request.principal;
    if (!principal) return;
    const rules = isWriteCall(request.body, writeTools) ? forWrite : forRead;
    if (rules.length === 0) return;
    const verdict = await limiter.hit(principal.uid, rules);
    if (verdict.allowed) return;
    const limit = verdict.bucket === 'writes' ? 'writes' : 'requests';
    const retryAfterSeconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
    policy.onLimited?.(limit);
    const detail =
      limit === 'writes'
        ? `At most ${writesPerWindow} cart changes and checkouts per ${window}; this call was not made. Retry in ${retryAfterSeconds} s (Retry-After, data.retryAfterSeconds).`
        : `At most ${requestsPerWindow} requests per ${window}. Retry in ${retryAfterSeconds} s (Retry-After, data.retryAfterSeconds).`;
    throw new AppError('rate_limited', detail, { 'retry-after': String(retryAfterSeconds) }, { limit, retryAfterSeconds });
  };
}

/**
 * A refused tools/call is answered as the tool's error result (HTTP 200, Retry-After still set), not as a 429: MCP
 * clients turn a transport error into an exception the model never reads, while a tool result reaches the agent,
 * which can then wait and retry. Other refused requests keep the 429. undefined when `err` is no such refusal.
 */
export function rateLimitedToolResult(err: unknown, body: unknown): { headers: Record<string, string>; body: unknown } | undefined {
  if (!(err instanceof AppError) || err.code !== 'rate_limited') return undefined;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { method, id } = body as { method?: unknown; id?: unknown };
  if (method !== 'tools/call' || (typeof id !== 'string' && typeof id !== 'number')) return undefined;
  const { limit, retryAfterSeconds } = err.data as { limit: string; retryAfterSeconds: number };
  const message = err.message.replace(/^Too Many Requests\.?\s*/, '');
  return {
    headers: err.headers,
    body: {
      jsonrpc: '2.0',
      id,
      result: {
        isError: true,
        content: [{ type: 'text', text: `Rate limited: ${message}` }],
        structuredContent: { error: { code: 'rate_limited', message, limit, retry_after_seconds: retryAfterSeconds } },
      },
    },
  };
}

function isWriteCall(body: unknown, writeTools: ReadonlySet<string>): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const { method, params } = body as { method?: unknown; params?: { name?: unknown } };
  return method === 'tools/call' && typeof params?.name === 'string' && writeTools.has(params.name);
}
