import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LIMIT_MS = 120_000;

/**
 * bench/ab.ts (docs/performance.md tells how to compare two checkouts with it) end to end on two servers of this
 * checkout: every round reads both servers' CPU, and the medians come out. Figures are never asserted.
 * BENCH_FROM_SOURCE=1: no `npm run build` into the dist/ that the bench test beside this one may be building.
 */
test('bench/ab.ts runs two checkouts in alternating rounds and prints each round and the medians', { timeout: LIMIT_MS + 15_000 }, async () => {
  const args = ['tsx', 'bench/ab.ts', '--a', '.', '--b', '.', '--rounds', '2', '--seconds', '1', '--connections', '4', '--scenario', 'agent'];
  const child = spawn('npx', args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BENCH_FROM_SOURCE: '1' } });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }, LIMIT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  assert.equal(code, 0, output);
  const rounds = [...output.matchAll(/^round (\d+): A (\d+) µs\/call \((\d+)\/s\) {2}B (\d+) µs\/call \((\d+)\/s\) {2}B\/A (\d+\.\d{3})$/gm)];
  assert.deepEqual(
    rounds.map((r) => r[1]),
    ['1', '2'],
    `one line per round, with both sides' CPU per call and calls/s:\n${output}`,
  );
  for (const r of rounds) for (const n of r.slice(2, 6)) assert.ok(Number(n) > 0, `every figure measured: ${r[0]}`);
  assert.match(output, /^median: A \d+ µs\/call, B \d+ µs\/call; B\/A CPU per call \d+\.\d{3} \(rounds \d+\.\d{3}–\d+\.\d{3}\); B\/A calls\/s \d+\.\d{3}$/m, output);
});
