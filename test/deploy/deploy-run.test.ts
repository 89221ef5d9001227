import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLOUD_RUN_FLAGS } from '../../src/cli/deploy/cloud-run.js';
import { SECRETS_FLAGS } from '../../src/cli/deploy/secrets.js';
import { ROOT } from '../helpers/serve-process.js';
import { bareEnv, runDeploy, SAMPLE } from './deploy-cli.js';

/**
 * Without --dry-run the commands spawn gcloud. No real gcloud can run here (no project, no network), so a recording
 * stand-in on PATH logs each call's argument array and stdin: what is checked is that a real run spawns exactly the
 * commands a dry run prints, with secret values on stdin only, and stops at the first failure.
 */
const dir = mkdtempSync(join(tmpdir(), 'flowpos-gcloud-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const LOG = join(dir, 'calls.jsonl');
writeFileSync(
  join(dir, 'gcloud'),
  `#!${process.execPath}
const fs = require('node:fs');
const argv = process.argv.slice(2);
const stdin = argv.includes('--data-file=-') ? fs.readFileSync(0, 'utf8') : null;
fs.appendFileSync(${JSON.stringify(LOG)}, JSON.stringify({ argv, stdin }) + '\\n');
const line = argv.join(' ');
if (line.startsWith('secrets describe ')) process.exit((process.env.FAKE_EXISTING || '').split(',').includes(argv[2]) ? 0 : 1);
if (line.startsWith('redis instances get-auth-string ')) process.stdout.write('auth-from-memorystore\\n');
if (process.env.FAKE_FAIL && line.startsWith(process.env.FAKE_FAIL)) process.exit(3);
`,
);
chmodSync(join(dir, 'gcloud'), 0o755);

function calls(): { argv: string[]; stdin: string | null }[] {
  try {
    return readFileSync(LOG, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } finally {
    rmSync(LOG, { force: true });
  }
}
const withGcloud = (extra: Record<string, string> = {}) => ({ PATH: `${dir}${delimiter}${bareEnv().PATH}`, ...extra });

describe('flowpos-mcp deploy without --dry-run', () => {
  test('cloud-run spawns exactly the commands the dry run prints, in order; a failed build stops before the deploy', async () => {
    const printed = (await runDeploy('cloud-run', SAMPLE)).commands;
    const real = await runDeploy('cloud-run', SAMPLE.filter((a) => a !== '--dry-run'), withGcloud());
    assert.equal(real.code, 0, real.stderr);
    assert.deepEqual(calls().map((c) => ['gcloud', ...c.argv]), printed);
    assert.match(real.stdout, /Deployed flowpos-mcp\. Check it end to end/);

    const failed = await runDeploy('cloud-run', SAMPLE.filter((a) => a !== '--dry-run'), withGcloud({ FAKE_FAIL: 'builds submit' }));
    assert.equal(failed.code, 3, 'gcloud’s exit code');
    assert.match(failed.stderr, /gcloud builds submit .* failed \(exit 3\)/);
    assert.deepEqual(calls().map((c) => c.argv.slice(0, 2)), [['builds', 'submit']], 'no deploy after a failed build');
  });

  test('secrets: values reach gcloud on stdin only; an existing generated token secret is left alone, an existing one gets a new version', async () => {
    const values = { DATABASE_URL: 'postgres://flowpos:db-pw-0123456789@10.30.0.5:5432/flowpos', REDIS_PASSWORD: 'redis-auth-9876543210' };
    const sa = 'flowpos-mcp@demo-proj.iam.gserviceaccount.com';
    const r = await runDeploy('secrets', ['--project', 'demo-proj', '--service-account', sa], withGcloud({ ...values, FAKE_EXISTING: 'flowpos-mcp-token-secret,flowpos-database-url' }));
    assert.equal(r.code, 0, r.stderr);
    const log = calls();
    for (const c of log) for (const v of Object.values(values)) assert.ok(!c.argv.some((w) => w.includes(v)), `no value on a command line: ${c.argv.join(' ')}`);
    const writes = log.filter((c) => c.stdin !== null).map((c) => [c.argv.slice(0, 4).join(' '), c.stdin]);
    assert.deepEqual(writes, [
      ['secrets versions add flowpos-database-url', values.DATABASE_URL],
      ['secrets create flowpos-redis-password --project=demo-proj', values.REDIS_PASSWORD],
    ]);
    assert.match(r.stdout, /secret flowpos-mcp-token-secret exists: left as it is/);
    assert.equal(log.filter((c) => c.argv[1] === 'add-iam-policy-binding').length, 3, 'access to each of the three secrets');

    const auth = await runDeploy('secrets', ['--project', 'demo-proj', '--service-account', sa, '--redis-instance', 'flowpos-redis'], withGcloud({ DATABASE_URL: values.DATABASE_URL }));
    assert.equal(auth.code, 0, auth.stderr);
    const redis = calls().find((c) => c.argv.slice(0, 3).join(' ') === 'secrets create flowpos-redis-password');
    assert.equal(redis?.stdin, 'auth-from-memorystore', 'the AUTH string read from Memorystore, without its newline');
  });

  test('secrets refuses a missing DATABASE_URL before writing anything', async () => {
    const r = await runDeploy('secrets', ['--project', 'demo-proj', '--service-account', 'flowpos-mcp@demo-proj.iam.gserviceaccount.com'], withGcloud());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /set DATABASE_URL .*secret flowpos-database-url does not exist yet/);
    assert.ok(calls().every((c) => c.argv[1] === 'describe'), 'only looked, wrote nothing');
  });
});

describe('flowpos-mcp deploy, the command', () => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'deploy', ...args], { cwd: ROOT, env: bareEnv(env), encoding: 'utf8', timeout: 30_000 });

  test('--help documents every flag of both commands', () => {
    const r = cli(['--help']);
    assert.equal(r.status, 0, r.stderr);
    for (const name of [...Object.keys(CLOUD_RUN_FLAGS), ...Object.keys(SECRETS_FLAGS)]) {
      if (name === 'allow-unauthenticated') continue; // the default; its opposite is documented
      assert.match(r.stdout, new RegExp(`--${name}\\b`), `--${name} is documented`);
    }
  });

  test('needs no server configuration, and a refusal is exit 2 on stderr', () => {
    // A PORT the server would refuse: deploy must not load the server's configuration.
    const r = cli(['cloud-run', '--dry-run', '--session-affinity'], { PORT: 'not-a-port' });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^flowpos-mcp deploy cloud-run: unknown option '--session-affinity' \(see --help\)\n$/);
    const target = cli(['app-engine']);
    assert.equal(target.status, 2);
    assert.match(target.stderr, /unknown deploy target 'app-engine': cloud-run or secrets/);
  });
});
