import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startInstances, type Instances } from '../helpers/instances.js';

const run = promisify(execFile);

/** The README's curl walk-through, run as written (only the URL and key are this test's). */
describe('README walk-through', () => {
  let it: Instances;
  let blocks: string[];
  before(async () => {
    it = await startInstances({ count: 1, state: 'memory', db: 'pglite' });
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Try it with curl'), readme.indexOf('## Tools'));
    blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  });
  after(() => it.stop());

  test('the README gives the start and test commands first', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const head = readme.split('\n').slice(0, 6).join('\n');
    assert.match(head, /npm install && npm start/);
    assert.match(head, /npm test/);
  });

  test('the 2025-era curl session works as written', async () => {
    const script = blocks[0]!.replace('http://localhost:4000', it.urls[0]!);
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { env: { ...process.env, KEY: it.keys.demo } });
    assert.match(stdout, /Corner Coffee/);
    assert.match(stdout, /Active business is now Corner Coffee/);
    assert.match(stdout, /COF-LATTE-12/);
    assert.match(stdout, /Placed order ord_/);
    assert.match(stdout.trim(), /204$/);
  });

  test('the 2026-07-28 curl request works as written', async () => {
    const script = `URL=${it.urls[0]}/mcp\n${blocks[1]!}`;
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { env: { ...process.env, KEY: it.keys.demo } });
    const body = JSON.parse(stdout);
    assert.equal(body.result.isError, undefined, stdout);
    assert.equal(body.result.structuredContent.business_id, 'biz_corner_coffee', 'the modern request sees the business chosen in the session above');
    assert.match(body.result.structuredContent.cart_id, /^c_[A-Za-z0-9_-]{16}$/, 'a call with no session and no cart_id starts a cart of its own');
    assert.deepEqual(body.result.structuredContent.lines.map((l: { sku: string; quantity: number }) => [l.sku, l.quantity]), [['COF-LATTE-12', 1]]);
  });
});
