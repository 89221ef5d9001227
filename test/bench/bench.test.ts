import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from '../../bench/support/report.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LIMIT_MS = 150_000;

/**
 * `npm run bench -- --quick` end to end: every system starts, takes load and stops, and every answer it gave was
 * a valid JSON-RPC result. Timings are never asserted (they depend on the machine and whatever else runs on it).
 */
test('npm run bench -- --quick measures every system and gets only valid answers', { timeout: LIMIT_MS + 15_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'flowpos-bench-test-'));
  try {
    const { code, output, timedOut } = await runGroup('npm', ['run', '--silent', 'bench', '--', '--quick', '--out', out], {}, LIMIT_MS);
    assert.equal(timedOut, false, `the quick benchmark took longer than ${LIMIT_MS / 1000} s:\n${output}`);
    assert.equal(code, 0, `the quick benchmark failed (exit ${code}):\n${output}`);

    const file = readdirSync(out).find((f) => f.endsWith('.json'));
    assert.ok(file, `no result written:\n${output}`);
    assert.ok(readdirSync(out).some((f) => f.endsWith('.md')), 'no markdown table written');
    const result = JSON.parse(readFileSync(join(out, file), 'utf8')) as BenchResult;

    assert.equal(result.settings.mode, 'quick');
    assert.equal(result.failures, 0, `failed responses:\n${JSON.stringify(Object.values(result.systems).map((s) => s?.errors), null, 2)}`);
    // flowpos-mcp is measured as it ships: built into dist/ by the run itself.
    assert.equal(result.settings.flowposBuild, 'dist');
    const ids = ['sdk-stateful', 'sdk-per-request', 'http-floor', 'flowpos-memory', 'flowpos-redis', 'flowpos-cluster'] as const;
    for (const id of ids) {
      const s = result.systems[id];
      assert.ok(s, `${id} was not measured`);
      assert.equal(s.failures, 0, `${id}: ${s.errors.join('\n')}`);
    }
    // The HTTP floor takes the same load (it is the ceiling the targets are read against), without idle sessions.
    const floor = result.systems['http-floor']!;
    assert.ok((floor.toolCalls?.total ?? 0) > 0 && (floor.single?.total ?? 0) > 0 && (floor.opens?.total ?? 0) > 0, 'the HTTP floor took no load');
    assert.equal(floor.idle, undefined);
    for (const id of ['sdk-stateful', 'flowpos-memory', 'flowpos-redis', 'flowpos-cluster'] as const) {
      const s = result.systems[id]!;
      // `total` counts every good answer of the phase (its short window may see none on a busy machine).
      assert.ok((s.toolCalls?.total ?? 0) > 0, `${id}: no tool call in sessions completed`);
      assert.ok((s.single?.total ?? 0) > 0, `${id}: no tool call on one connection completed`);
      assert.ok((s.opens?.total ?? 0) > 0, `${id}: no session was opened`);
      assert.ok((s.agentSteps?.total ?? 0) > 0, `${id}: no ADK-style agent step (open, call, delete) completed`);
      assert.equal(s.idle?.sessions, result.settings.idleSessions, `${id}: not every idle session opened`);
    }
    for (const id of ['sdk-per-request', 'flowpos-memory', 'flowpos-redis', 'flowpos-cluster'] as const) {
      assert.ok((result.systems[id]!.modern?.total ?? 0) > 0, `${id}: no 2026-07-28 tool call completed`);
    }
    // The counters behind P3 and P4 were read (their values are the full run's business).
    const redis = result.systems['flowpos-redis']!;
    assert.ok(redis.wire && redis.wire.redisRoundTripsPerCall !== null && redis.wire.redisRoundTripsPerCall > 0, 'Redis round trips were not counted');
    assert.ok((redis.wire.redisCommands['evalsha cart-add'] ?? 0) > 0, `the cart script was not seen: ${JSON.stringify(redis.wire.redisCommands)}`);
    assert.ok(redis.idle?.redisPerSessionBytes !== null && redis.idle!.redisPerSessionBytes > 0, 'Redis memory per session was not measured');
    assert.ok(redis.redisRoundTripUs != null && redis.redisRoundTripUs > 0, 'the bare Redis round trip (the floor under P6) was not measured');
    assert.ok(result.targets.some((t) => t.id === 'P6' && /floor here/.test(t.value)), `P6 is not shown against its floor: ${JSON.stringify(result.targets)}`);
    // The paired comparison ran every scenario with the baseline, flowpos on Redis and both ceilings, every side
    // took load in every round, and P1/P2 are read from it, with the ceilings of the same rounds next to them.
    const paired = result.paired;
    assert.ok(paired, 'the paired comparison did not run');
    assert.deepEqual(paired.scenarios.map((s) => s.scenario), ['tools', 'opens', 'agent']);
    for (const s of paired.scenarios) {
      assert.equal(s.base.id, 'sdk-stateful');
      assert.deepEqual(s.contenders.map((c) => c.id), ['flowpos-redis', 'flowpos-memory', 'http-floor']);
      for (const side of [s.base, ...s.contenders]) {
        assert.equal(side.rounds.length, result.settings.pairedRounds, `${s.scenario} ${side.id}: not every round ran`);
        for (const r of side.rounds) assert.ok(r.perSecond > 0 && r.cpuUsPerStep !== null && r.cpuUsPerStep > 0, `${s.scenario} ${side.id}: a round took no load or its CPU was not read`);
      }
      for (const c of s.contenders) {
        const t = c.throughput;
        assert.ok(t && Number.isFinite(t.median) && t.min <= t.median && t.median <= t.max, `${s.scenario} ${c.id}: no ratio`);
      }
    }
    for (const id of ['P1', 'P2']) {
      const t = result.targets.find((x) => x.id === id && /baseline/.test(x.text) && !/cluster/.test(x.text));
      assert.match(t?.value ?? '', /paired \(median of \d+ rounds/, `${id} is not read from the paired rounds: ${JSON.stringify(t)}`);
      assert.match(t?.value ?? '', /ceilings in the same rounds: memory store ×[\d.]+, HTTP floor ×[\d.]+/, `${id} is not shown against its paired ceilings: ${JSON.stringify(t)}`);
    }
    assert.equal(result.targets.length, 8);
    for (const t of result.targets) assert.match(t.status, /^(met|met \(stretch\)|not met|not measured)$/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

const AB_LIMIT_MS = 120_000;

/**
 * bench/ab.ts (docs/performance.md tells how to compare two checkouts with it) end to end on two servers of this
 * checkout: every round reads both servers' CPU, and the medians come out. Figures are never asserted. In this file,
 * after the test above, because both pin servers to the same core: run at once, each starves the other's rounds.
 * BENCH_FROM_SOURCE=1: its servers from src/, sparing a second `npm run build`.
 */
test('bench/ab.ts runs two checkouts in alternating rounds and prints each round and the medians', { timeout: AB_LIMIT_MS + 15_000 }, async () => {
  const args = ['tsx', 'bench/ab.ts', '--a', '.', '--b', '.', '--rounds', '2', '--seconds', '1', '--connections', '4', '--scenario', 'agent'];
  const { code, output, timedOut } = await runGroup('npx', args, { BENCH_FROM_SOURCE: '1' }, AB_LIMIT_MS);
  assert.equal(timedOut, false, `bench/ab.ts took longer than ${AB_LIMIT_MS / 1000} s:\n${output}`);
  assert.equal(code, 0, output);
  const rounds = [...output.matchAll(/^round (\d+): A ([\d,]+) µs\/call \(([\d,]+)\/s\) {2}B ([\d,]+) µs\/call \(([\d,]+)\/s\) {2}B\/A (\d+\.\d{3})$/gm)];
  assert.deepEqual(
    rounds.map((r) => r[1]),
    ['1', '2'],
    `one line per round, with both sides' CPU per call and calls/s:\n${output}`,
  );
  for (const r of rounds) for (const n of r.slice(2, 6)) assert.ok(Number(n!.replaceAll(',', '')) > 0, `every figure measured: ${r[0]}`);
  assert.match(output, /^median: A [\d,]+ µs\/call, B [\d,]+ µs\/call; B\/A CPU per call \d+\.\d{3} \(rounds \d+\.\d{3}–\d+\.\d{3}\); B\/A calls\/s \d+\.\d{3}$/m, output);
});

/**
 * Runs a command in its own process group, so one that overstays is stopped with everything it started: SIGTERM
 * after limitMs, SIGKILL 5 s later. Keeps the output's last 20,000 characters.
 */
async function runGroup(cmd: string, args: string[], env: Record<string, string>, limitMs: number): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  const child = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  let timedOut = false;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // gone
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    signal('SIGTERM');
    setTimeout(() => signal('SIGKILL'), 5_000).unref();
  }, limitMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, output, timedOut };
}
