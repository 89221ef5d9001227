import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clientCommand } from '../../src/client-cli.js';
import { DEMO } from '../../src/db/seed.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { freePort } from '../../src/cluster/ports.js';
import { cleanEnv, startProcess } from '../helpers/serve-process.js';

/**
 * `flowpos-mcp tools` and `flowpos-mcp call` as a person runs them, through the official MCP client, against a
 * running server. Exit 0 done, 1 the tool said no, 2 usage or connection problems. Two runs go through the real
 * `flowpos-mcp` process (the dispatch in cli.ts, exit codes, stdout); the rest call the same command function
 * in this process, which is what keeps this file fast on a busy machine.
 */

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function cliProcess(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const proc = startProcess('src/cli.ts', args, cleanEnv(env));
  try {
    const exit = await proc.waitForExit(30_000);
    return { code: exit.code, stdout: proc.stdout(), stderr: proc.stderr() };
  } finally {
    proc.kill();
  }
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const [command, ...rest] = args;
  assert.ok(command === 'tools' || command === 'call');
  const code = await clientCommand(command, rest, {
    env: cleanEnv(env),
    out: (t) => (stdout += t),
    err: (t) => (stderr += t),
  });
  return { code, stdout, stderr };
}

const show = (r: Run) => `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

describe('flowpos-mcp tools | call', () => {
  let it: Instances;
  let url: string;
  let key: string;
  let dataDir: string;
  before(async () => {
    it = await startInstances({ count: 1, state: 'memory' });
    url = `${it.urls[0]}/mcp`;
    key = it.keys.demo;
    dataDir = await mkdtemp(join(tmpdir(), 'flowpos-cli-client-'));
  });
  after(async () => {
    await it.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('tools: every tool with its arguments, readable; --json gives the definitions', async () => {
    const run = await cliProcess(['tools', '--url', url, '--key', key]);
    assert.equal(run.code, 0, show(run));
    assert.match(run.stdout, /^13 tools at http:\/\/localhost:\d+\/mcp$/m, show(run));
    for (const name of ['list_businesses', 'set_active_business', 'add_item_to_cart', 'view_cart', 'checkout', 'get_order']) {
      assert.match(run.stdout, new RegExp(`^${name}\\b`, 'm'), `${name} listed`);
    }
    assert.match(run.stdout, /--args sku: string, required/);
    assert.match(run.stdout, /--args cart_id: string, optional/);

    const json = await cli(['tools', '--json', '--url', url, '--key', key]);
    assert.equal(json.code, 0, show(json));
    const tools = JSON.parse(json.stdout) as { name: string; inputSchema: { type: string } }[];
    assert.equal(tools.length, 13);
    assert.ok(tools.every((t) => t.inputSchema.type === 'object'));
  });

  test('call: text by default, structuredContent with --json; the cart outlives each call\'s session', async () => {
    const set = await cli(['call', 'set_active_business', '--args', JSON.stringify({ business_id: DEMO.businesses.coffee }), '--url', url, '--key', key]);
    assert.equal(set.code, 0, show(set));
    assert.match(set.stdout, /Corner Coffee|biz_corner_coffee/i, show(set));

    const add = await cli(['call', 'add_item_to_cart', '--args', '{"sku":"COF-LATTE-12","quantity":2,"cart_id":"cli"}', '--url', url, '--key', key]);
    assert.equal(add.code, 0, show(add));
    assert.ok(add.stdout.trim().length > 0 && !add.stdout.trimStart().startsWith('{'), `human text, not JSON: ${add.stdout}`);

    const view = await cli(['call', 'view_cart', '--args', '{"cart_id":"cli"}', '--json', '--url', url, '--key', key]);
    assert.equal(view.code, 0, show(view));
    const cart = JSON.parse(view.stdout) as { lines: { sku: string; quantity: number }[] };
    assert.deepEqual(cart.lines.map((l) => [l.sku, l.quantity]), [['COF-LATTE-12', 2]]);
  });

  test('a tool error prints its message and exits 1; so does an unknown tool', async () => {
    const refused = await cliProcess(['call', 'get_product', '--args', '{"sku":"NO-SUCH-SKU"}', '--url', url, '--key', key]);
    assert.equal(refused.code, 1, show(refused));
    assert.match(refused.stderr, /get_product failed: .+/, show(refused));
    assert.equal(refused.stdout, '');

    const unknown = await cli(['call', 'no_such_tool', '--url', url, '--key', key]);
    assert.equal(unknown.code, 1, show(unknown));
    assert.match(unknown.stderr, /no_such_tool/);
  });

  test('connection problems exit 2 with a clear message: nothing listening, a refused key', async () => {
    const port = await freePort();
    const down = await cli(['call', 'list_businesses', '--url', `http://127.0.0.1:${port}/mcp`, '--key', key]);
    assert.equal(down.code, 2, show(down));
    assert.match(down.stderr, /cannot connect to http:\/\/127\.0\.0\.1:\d+\/mcp: connection refused/, show(down));

    const badKey = await cli(['tools', '--url', url, '--key', 'fpk_aaaaaaaaaaaa_not-a-real-secret-at-all-000000']);
    assert.equal(badKey.code, 2, show(badKey));
    assert.match(badKey.stderr, /refused the API key \(HTTP 401\)/, show(badKey));
  });

  test('usage errors exit 2 before connecting: malformed --args, a missing tool name', async () => {
    const bad = await cli(['call', 'view_cart', '--args', '{not json', '--url', url, '--key', key]);
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /--args must be a JSON object/);
    const none = await cli(['call', '--url', url, '--key', key]);
    assert.equal(none.code, 2, show(none));
    assert.match(none.stderr, /call needs exactly one tool name/);
  });

  test('defaults: --url from PORT, --key from FLOWPOS_API_KEY or the demo key file in FLOWPOS_DATA_DIR', async () => {
    const port = new URL(url).port;
    await writeFile(join(dataDir, 'demo-api-key'), `${key}\n`);
    const fromFile = await cli(['call', 'list_businesses', '--json'], { PORT: port, FLOWPOS_DATA_DIR: dataDir });
    assert.equal(fromFile.code, 0, show(fromFile));
    assert.equal((JSON.parse(fromFile.stdout) as { businesses: unknown[] }).businesses.length, 2);

    const fromEnv = await cli(['tools'], { PORT: port, FLOWPOS_API_KEY: key, FLOWPOS_DATA_DIR: join(dataDir, 'empty') });
    assert.equal(fromEnv.code, 0, show(fromEnv));

    const noKey = await cli(['tools'], { PORT: port, FLOWPOS_DATA_DIR: join(dataDir, 'empty') });
    assert.equal(noKey.code, 2, show(noKey));
    assert.match(noKey.stderr, /no API key: pass --key, set FLOWPOS_API_KEY/);
  });
});
