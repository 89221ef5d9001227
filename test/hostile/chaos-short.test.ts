import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTable, runChaos } from '../../scripts/chaos.js';

/**
 * `npm run chaos`, shortened: the 3-instance cluster under 30 concurrent sessions for 12 s while one instance is
 * kill -9ed, Redis (append-only, fsync always) is killed and restarted, and PostgreSQL is cut for 2 s. The audit
 * (scripts/chaos.ts) holds every acknowledged cart write and order to account and checks stock and statuses.
 */
test('chaos, short: kill -9, Redis restart, PostgreSQL cut under load — nothing acknowledged is lost', { timeout: 88_000 }, async () => {
  const lines: string[] = [];
  const report = await runChaos({ durationMs: 12_000, sessions: 30, killEveryMs: 15_000, pgCutMs: 2_000, log: (line) => lines.push(line) });
  console.log(formatTable(report));
  const figure = (name: string) => report.figures.find(([k]) => k.startsWith(name))?.[1];
  assert.deepEqual(report.violations, [], lines.slice(-20).join('\n'));
  assert.equal(figure('instance kills'), 1);
  assert.equal(figure('acknowledged cart writes lost'), 0);
  assert.equal(figure('acknowledged orders missing'), 0);
  assert.equal(figure('idempotency keys with more than one order'), 0);
  assert.equal(figure('5xx outside the window'), 0);
  assert.ok(Number(figure('acknowledged cart writes')) > 50, 'the load really wrote');
});
