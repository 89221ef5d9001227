/**
 * Heap of one Redis-backed flowpos process after full GCs, sampled between rounds of 2025-era tool calls in the same
 * sessions (the long run's load, shorter): what grows with calls, if anything, rather than what RSS does. With
 * --new-sessions every round opens its own sessions, so the instance's session-server cache grows by as many.
 *
 *   npx tsx bench/leak-check.ts [--rounds 6] [--seconds 20] [--connections 50] [--new-sessions]
 */
import { parseArgs } from 'node:util';
import { createBenchDatabase, startBenchRedis } from './support/backing.js';
import { startServer } from './support/ipc.js';
import { Http, runPhase } from './support/load.js';
import { canPin } from './support/pin.js';
import { chooseActiveBusiness, legacyToolStep, setupSession } from './support/scenarios.js';
import { FLOWPOS_ENV } from './support/systems.js';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '6' }, seconds: { type: 'string', default: '20' }, connections: { type: 'string', default: '50' }, 'new-sessions': { type: 'boolean', default: false } } });

const redis = await startBenchRedis();
const { db, key } = await createBenchDatabase(true);
const server = await startServer('flowpos', {
  ...(canPin() ? { cpu: '0' } : {}),
  env: { ...FLOWPOS_ENV, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, REDIS_URL: redis.url },
});
try {
  const http = new Http(server.url, Number(args.connections));
  await chooseActiveBusiness(http, key);
  const sessions = await Promise.all(Array.from({ length: Number(args.connections) }, (_, vu) => setupSession(http, key, `c${vu}`)));
  for (let round = 1; round <= Number(args.rounds); round++) {
    const r = await runPhase({
      name: 'round',
      vus: Number(args.connections),
      warmupMs: 0,
      durationMs: Number(args.seconds) * 1000,
      setup: async (vu) => (args['new-sessions'] ? setupSession(http, key, `r${round}-${vu}`) : sessions[vu]!),
      step: legacyToolStep(http, key),
    });
    const m = await server.memory();
    process.stdout.write(`round ${round}: ${r.total} calls, ${r.failures} failures; heap after GC ${((m.heapUsed ?? 0) / 2 ** 20).toFixed(1)} MB, RSS ${(m.rss / 2 ** 20).toFixed(1)} MB\n`);
  }
  await http.close();
} finally {
  await server.stop().catch(() => {});
  await redis.stop().catch(() => {});
  await db.drop().catch(() => {});
}
