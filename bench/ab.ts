/**
 * Two checkouts of flowpos-mcp side by side, to tell a change of a few per cent from this machine's drift: both
 * servers run at once (same core, same Redis, a database each), and the load alternates between them in short
 * rounds (bench/support/paired.ts, the rounds `npm run bench` compares its systems in), so whatever slows the
 * machine down slows both. Per round it reads each server's CPU time per call from /proc; it prints every round
 * and the median of the per-round ratios.
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
import { runPaired, type PairedScenarioId, type PairedSystem } from './support/paired.js';
import { canPin, pinPid } from './support/pin.js';
import { fmtNum as f } from './support/report.js';
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
const scenario = args.scenario as PairedScenarioId;
const rounds = Number(args.rounds);
const seconds = Number(args.seconds);
const connections = Number(args.connections);
const log = (line: string) => process.stdout.write(`${line}\n`);

interface Side {
  system: PairedSystem;
  server: ServerProcess;
  db: TestDatabase;
}

async function startSide(name: string, checkout: string, redisUrl: string, pin: boolean): Promise<Side> {
  const ipc = (await import(pathToFileURL(resolve(checkout, 'bench/support/ipc.ts')).href)) as typeof import('./support/ipc.js');
  const { db, name: database, key } = await createBenchDatabase(true);
  const server = await ipc.startServer('flowpos', {
    ...(pin ? { cpu: '0' } : {}),
    env: { ...FLOWPOS_ENV, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, REDIS_URL: redisUrl, MCP_REDIS_KEY_PREFIX: `ab-${name}:` },
  });
  return { system: { id: name, url: server.url, key, pids: [server.pid], database }, server, db };
}

async function main(): Promise<void> {
  const pin = canPin();
  if (pin) pinPid(process.pid, '1');
  const redis = await startBenchRedis();
  const sides: Side[] = [];
  try {
    sides.push(await startSide('A', args.a!, redis.url, pin));
    sides.push(await startSide('B', args.b!, redis.url, pin));
    log(`A = ${resolve(args.a!)}, B = ${resolve(args.b!)}; ${scenario}, ${connections} connections, ${rounds} rounds of ${seconds} s each`);
    const result = await runPaired(sides[0]!.system, [sides[1]!.system], {
      rounds,
      durationMs: seconds * 1000,
      warmupMs: 1000,
      connections,
      scenarios: [scenario],
      pinBackends: async (database) => {
        if (pin) await pinPostgresBackends(database, '1');
      },
      log,
    });
    if (result.failures) throw new Error(`${result.failures} failed calls, first: ${result.errors[0]}`);
    const s = result.scenarios[0]!;
    const b = s.contenders[0]!;
    s.base.rounds.forEach((ra, i) => {
      const rb = b.rounds[i]!;
      log(
        `round ${i + 1}: A ${f(ra.cpuUsPerStep)} µs/call (${f(ra.perSecond)}/s)  B ${f(rb.cpuUsPerStep)} µs/call (${f(rb.perSecond)}/s)  ` +
          `B/A ${f(ra.cpuUsPerStep && rb.cpuUsPerStep !== null ? rb.cpuUsPerStep / ra.cpuUsPerStep : null, 3)}`,
      );
    });
    log(
      `median: A ${f(s.base.cpuUsPerStep)} µs/call, B ${f(b.cpuUsPerStep)} µs/call; ` +
        `B/A CPU per call ${f(b.cpu?.median, 3)} (rounds ${f(b.cpu?.min, 3)}–${f(b.cpu?.max, 3)}); B/A calls/s ${f(b.throughput?.median, 3)}`,
    );
  } finally {
    for (const s of sides) {
      await s.server.stop();
      await s.db.drop().catch(() => {});
    }
    await redis.stop().catch(() => {});
  }
}

await main();
