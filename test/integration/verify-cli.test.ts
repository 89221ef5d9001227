import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runVerify, verifyCommand } from '../../src/cli/verify.js';
import { DEMO } from '../../src/db/seed.js';
import { freePort } from '../../src/cluster/ports.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { startJwksServer, type JwksFixture } from '../helpers/jwks.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs the CLI as a deploy script would and collects what it printed. */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env: { ...process.env, NODE_ENV: 'test' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `flowpos-mcp verify` against a real instance on Redis and PostgreSQL, whose PUBLIC_URL is the URL it is reached at. */
describe('flowpos-mcp verify', () => {
  let it: Instances;
  let jwks: JwksFixture;
  let base: string;
  before(async () => {
    jwks = await startJwksServer({ projectId: 'flowpos-verify' });
    const port = await freePort();
    base = `http://localhost:${port}`;
    it = await startInstances({
      count: 1,
      env: {
        PORT: String(port),
        PUBLIC_URL: base,
        FIREBASE_PROJECT_ID: jwks.projectId,
        FIREBASE_JWKS_URL: jwks.url,
        MCP_TOKEN_SECRET: 'verify-test-secret-verify-test-secret-000',
        MCP_TOKEN_TTL_SECONDS: '600',
      },
    });
  });
  after(async () => {
    await it?.stop();
    await jwks?.stop();
  });

  test('id-token mode with --redis-url: every check passes, the session key was capped by the token lifetime', async () => {
    const lines: string[] = [];
    const results = await runVerify({ url: base, idToken: await jwks.idToken(DEMO.users.demo), redisUrl: it.redisUrl!, keyPrefix: it.redis!.keyPrefix, out: (l) => lines.push(l) });
    assert.deepEqual(
      results.map((r) => [r.name, r.ok]),
      [
        ['discovery', true],
        ['token exchange', true],
        ['initialize', true],
        ['tool call', true],
        ['session in Redis', true],
        ['DELETE /mcp', true],
      ],
      lines.join('\n'),
    );
    assert.ok(lines.every((l) => l.startsWith('✓ ')), lines.join('\n'));
    assert.match(lines.find((l) => l.includes('session in Redis'))!, /≤ token lifetime 600 s/);
  });

  test('the CLI: API-key mode exits 0 and prints a ✓ line per check; a bad ID token exits 1 with ✗ lines', async () => {
    const ok = await runCli(['verify', '--url', base, '--api-key', it.keys.demo, '--redis-url', it.redisUrl!, '--key-prefix', it.redis!.keyPrefix]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /✓ discovery/);
    assert.match(ok.stdout, /✓ DELETE \/mcp/);
    assert.match(ok.stdout, /All 5 checks passed/);

    const bad = await runCli(['verify', '--url', base, '--id-token', await jwks.idToken(DEMO.users.demo, { aud: 'someone-else' })]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /✓ discovery/);
    assert.match(bad.stdout, /✗ token exchange: .*400 invalid_grant/);
    assert.match(bad.stdout, /✗ initialize: not run/);
  });

  test('a URL that is not the server\'s PUBLIC_URL fails discovery (the audience would not match)', async () => {
    const lines: string[] = [];
    const code = await verifyCommand(['--url', base.replace('localhost', '127.0.0.1'), '--api-key', it.keys.demo], (l) => lines.push(l));
    assert.equal(code, 1);
    assert.match(lines[0]!, /^✗ discovery: resource is "http:\/\/localhost:\d+\/mcp", expected "http:\/\/127\.0\.0\.1:\d+\/mcp"/);
    assert.ok(lines.some((l) => l.startsWith('✓ tool call')), 'the rest still runs');
  });

  test('usage errors exit 2', async () => {
    const quiet = () => {};
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      assert.equal(await verifyCommand(['--url', base], quiet), 2, 'needs a credential');
      assert.equal(await verifyCommand(['--url', base, '--api-key', 'k', '--id-token', 't'], quiet), 2, 'not both');
      assert.equal(await verifyCommand(['--api-key', 'k'], quiet), 2, 'needs --url');
    } finally {
      process.stderr.write = write;
    }
  });
});
