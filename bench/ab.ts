/**
 * Two checkouts of flowpos-mcp side by side, to tell a change of a few per cent from this machine's drift: both
 * servers run at once (same core, same Redis, a database each), and the load alternates between them in short
 * rounds, so whatever slows the machine down slows both. Per round it reads each server's CPU time per call
 * from /proc; it prints every round and the median of the per-round ratios.
 *
 *   npx tsx bench/ab.ts --b /path/to/other/checkout [--a .] [--rounds 8] [--seconds 5] [--connections 50] [--scenario tools|opens|agent]
 *
 * Each checkout's own bench/support/ipc.ts starts its server, so each runs its own src/ (a git worktree with
 * node_modules linked in is enough). The load generator is this checkout's. Compare two worktrees, neither of them
 * this one: a server of this very checkout has been seen to take up to 1.4× the calls/s of an identical one from
 * another checkout at the same CPU per call (not understood yet), which two other checkouts do not show. CPU per
 * call, the figure this compares, has not shown the effect.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createBenchDatabase, pinPostgresBackends, startBenchRedis, type TestDatabase } from './support/backing.js';
import type { ServerProcess } from './support/ipc.js';
import { Http, runPhase } from './support/load.js';
import { spread } from './support/paired.js';
import { canPin, pinPid, procCpuSeconds } from './support/pin.js';
import { agentStep, chooseActiveBusiness, legacyToolStep, openSession, setupSession } from './support/scenarios.js';
import { FLOWPOS_ENV } from './support/systems.js';

const { values: args } = parseArgs({
  options: {
    a: { type: 'string', default: '.' },
    b: { type: 'string' },
    rounds: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    scenario: { type: 'string', default: 'tools' },
  },
});
if (!args.b) throw new Error('--b <checkout> is required: the checkout to compare with --a (default: this one)');
if (!['tools', 'opens', 'agent'].includes(args.scenario!)) throw new Error(`--scenario must be tools, opens or agent, not ${args.scenario}`);
const rounds = Number(args.rounds);
const seconds = Number(args.seconds);
const connections = Number(args.connections);
const log = (line: string) => process.stdout.write(`${line}\n`);

interface Side {
  name: string;
  server: ServerProcess;
  db: TestDatabase;
  database: string;
  http: Http;
  key: string;
  sessions?: { sessionId: string; cartId: string }[];
  perCallUs: number[];
  perSecond: number[];
}

async function startSide(name: string, checkout: string, redisUrl: string, pin: boolean): Promise<Side> {
  const ipc = (await import(pathToFileURL(resolve(checkout, 'bench/support/ipc.ts')).href)) as typeof import('./support/ipc.js');
  const { db, name: database, key } = await createBenchDatabase(true);
  const server = await ipc.startServer('flowpos', {
    ...(pin ? { cpu: '0' } : {}),
    env: { ...FLOWPOS_ENV, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, REDIS_URL: redisUrl, MCP_REDIS_KEY_PREFIX: `ab-${name}:` },
  });
  const http = new Http(server.url, connections);
  await chooseActiveBusiness(http, key);
  return { name, server, db, database, http, key: key!, perCallUs: [], perSecond: [] };
}

async function round(side: Side, pin: boolean): Promise<void> {
  if (pin) await pinPostgresBackends(side.database, '1');
  const cpu0 = procCpuSeconds(side.server.pid);
  const options = { name: side.name, vus: connections, warmupMs: 1000, durationMs: seconds * 1000 };
  const r =
    args.scenario === 'tools'
      ? await runPhase({
          ...options,
          setup: async (vu) => (side.sessions![vu] ??= await setupSession(side.http, side.key, `ab${vu}`)),
          step: legacyToolStep(side.http, side.key),
        })
      : await runPhase({
          ...options,
          setup: async (vu) => `ab${vu}`,
          step:
            args.scenario === 'opens'
              ? async () => {
                  const s = await openSession(side.http, side.key);
                  return 'error' in s ? s.error : null;
                }
              : agentStep(side.http, side.key),
        });
  const cpu1 = procCpuSeconds(side.server.pid);
  if (r.failures) throw new Error(`${side.name}: ${r.failures} failed calls, first: ${r.errors[0]}`);
  // The warm-up's calls are in the CPU delta too; runPhase counts only the measured window, so scale by time.
  const calls = r.perSecond * (seconds + 1);
  side.perCallUs.push(cpu0 !== undefined && cpu1 !== undefined ? ((cpu1 - cpu0) * 1e6) / calls : NaN);
  side.perSecond.push(r.perSecond);
}

const median = (xs: number[]) => spread(xs)?.median ?? NaN;

async function main(): Promise<void> {
  const pin = canPin();
  if (pin) pinPid(process.pid, '1');
  const redis = await startBenchRedis();
  const sides: Side[] = [];
  try {
    sides.push(await startSide('a', args.a!, redis.url, pin));
    sides.push(await startSide('b', args.b!, redis.url, pin));
    for (const s of sides) s.sessions = [];
    log(`A = ${resolve(args.a!)}, B = ${resolve(args.b!)}; ${args.scenario}, ${connections} connections, ${rounds} rounds of ${seconds} s each`);
    for (let i = 0; i < rounds; i++) {
      // Alternate which goes first, so neither always follows the other.
      const order = i % 2 ? [sides[1]!, sides[0]!] : sides;
      for (const s of order) await round(s, pin);
      const [a, b] = sides as [Side, Side];
      log(
        `round ${i + 1}: A ${a.perCallUs.at(-1)!.toFixed(0)} µs/call (${a.perSecond.at(-1)!.toFixed(0)}/s)  ` +
          `B ${b.perCallUs.at(-1)!.toFixed(0)} µs/call (${b.perSecond.at(-1)!.toFixed(0)}/s)  B/A ${(b.perCallUs.at(-1)! / a.perCallUs.at(-1)!).toFixed(3)}`,
      );
    }
    const [a, b] = sides as [Side, Side];
    const ratios = a.perCallUs.map((x, i) => b.perCallUs[i]! / x);
    log(
      `median: A ${median(a.perCallUs).toFixed(0)} µs/call, B ${median(b.perCallUs).toFixed(0)} µs/call; ` +
        `B/A CPU per call ${median(ratios).toFixed(3)} (rounds ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}); ` +
        `B/A calls/s ${median(a.perSecond.map((x, i) => b.perSecond[i]! / x)).toFixed(3)}`,
    );
  } finally {
    for (const s of sides) {
      await s.http.close();
      await s.server.stop();
      await s.db.drop().catch(() => {});
    }
    await redis.stop().catch(() => {});
  }
}

await main();
