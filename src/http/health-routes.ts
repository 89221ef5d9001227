import type { FastifyInstance } from 'fastify';

export interface Probe {
  name: 'redis' | 'database';
  ping(): Promise<void>;
}

const PROBE_TIMEOUT_MS = 1500;

/** /health says the process is alive and touches nothing; /ready says whether it can serve, and what is missing. */
export async function healthRoutes(app: FastifyInstance, opts: { probes: Probe[]; isShuttingDown: () => boolean }): Promise<void> {
  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
    const checks: Record<string, string> = {};
    await Promise.all(
      opts.probes.map(async (probe) => {
        checks[probe.name] = await withTimeout(probe.ping(), PROBE_TIMEOUT_MS).then(
          () => 'ok',
          (err: Error) => `unavailable: ${err.message.slice(0, 200)}`,
        );
      }),
    );
    const failed = Object.entries(checks).filter(([, v]) => v !== 'ok').map(([k]) => k);
    if (opts.isShuttingDown()) failed.push('shutting_down');
    if (failed.length) reply.code(503).header('retry-after', '2');
    return { status: failed.length ? 'unavailable' : 'ready', failed, checks };
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
