import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { flag, runDeploy, SAMPLE } from './deploy-cli.js';
import { configEnvNames, gcloudList } from './env-names.js';

/**
 * `flowpos-mcp deploy cloud-run|secrets --dry-run`: the gcloud commands they would run, read back word by word from
 * what they print. No gcloud, no project, no network.
 */

describe('flowpos-mcp deploy cloud-run --dry-run', () => {
  test('builds with Cloud Build from the repository root, then deploys that image with every flag', async () => {
    const r = await runDeploy('cloud-run', SAMPLE);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.commands.length, 2, r.stdout);
    const [build, deploy] = r.commands as [string[], string[]];
    const image = 'europe-west1-docker.pkg.dev/demo-proj/flowpos/flowpos-mcp:v1';

    assert.deepEqual(build.slice(0, 3), ['gcloud', 'builds', 'submit']);
    assert.ok(existsSync(join(build[3]!, 'Dockerfile')), `the build context (${build[3]}) holds the Dockerfile`);
    assert.equal(flag(build, '--tag'), image);
    assert.equal(flag(build, '--project'), 'demo-proj');

    assert.deepEqual(deploy.slice(0, 4), ['gcloud', 'run', 'deploy', 'flowpos-mcp']);
    const expected: Record<string, string> = {
      '--project': 'demo-proj',
      '--region': 'europe-west1',
      '--image': image,
      '--service-account': 'flowpos-mcp@demo-proj.iam.gserviceaccount.com',
      '--port': '4000',
      '--min-instances': '2',
      '--max-instances': '20',
      '--memory': '1Gi',
      '--cpu': '2',
      '--concurrency': '60',
      '--timeout': '3600',
      '--vpc-connector': 'flowpos-connector',
      '--vpc-egress': 'private-ranges-only',
      '--add-cloudsql-instances': 'demo-proj:europe-west1:flowpos-pg',
    };
    for (const [name, value] of Object.entries(expected)) assert.equal(flag(deploy, name), value, `${name} in ${deploy.join(' ')}`);
    assert.equal(flag(deploy, '--no-session-affinity'), '', 'affinity is switched off explicitly');
    assert.ok(!deploy.some((w) => w.startsWith('--session-affinity')), 'never --session-affinity: any instance serves any session');
    assert.equal(flag(deploy, '--allow-unauthenticated'), '', 'public at the Cloud Run layer; the app authenticates every request');
  });

  test('--firebase-api-key turns on the browser sign-in as a plain variable; it needs --firebase-project', async () => {
    const r = await runDeploy('cloud-run', [...SAMPLE, '--firebase-project', 'flowpos-prod', '--firebase-api-key', 'AIzaSyExampleWebKey_123']);
    assert.equal(r.code, 0, r.stderr);
    const env = gcloudList(flag(r.commands[1]!, '--set-env-vars')!);
    assert.ok(env.includes('FIREBASE_PROJECT_ID=flowpos-prod'));
    assert.ok(env.includes('FIREBASE_API_KEY=AIzaSyExampleWebKey_123'));
    const alone = await runDeploy('cloud-run', [...SAMPLE, '--firebase-api-key', 'AIzaSyExampleWebKey_123']);
    assert.notEqual(alone.code, 0);
    assert.match(alone.stderr, /--firebase-api-key needs --firebase-project/);
  });

  test('environment and secrets: production settings, every name one that src/config.ts reads', async () => {
    const r = await runDeploy('cloud-run', SAMPLE);
    const deploy = r.commands[1]!;
    const names = configEnvNames();

    const env = Object.fromEntries(gcloudList(flag(deploy, '--set-env-vars')!).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    for (const name of Object.keys(env)) assert.ok(names.has(name), `${name} is a setting src/config.ts reads`);
    assert.equal(env.NODE_ENV, 'production');
    assert.equal(env.PUBLIC_URL, 'https://flowpos-mcp-123456789012.europe-west1.run.app');
    assert.equal(env.REDIS_HOST, '10.20.0.3');
    assert.equal(env.REDIS_PORT, '6379');
    assert.ok(Number(env.MCP_SSE_MAX_STREAM_SECONDS) > 0 && Number(env.MCP_SSE_MAX_STREAM_SECONDS) < 3600, 'GET streams end before the request timeout');
    assert.ok(Number(env.SHUTDOWN_GRACE_SECONDS) < 10, 'the grace period fits in the 10 s Cloud Run waits after SIGTERM');
    for (const secretOnly of ['DATABASE_URL', 'REDIS_PASSWORD', 'MCP_TOKEN_SECRET']) assert.equal(env[secretOnly], undefined, `${secretOnly} is never a plain env var`);

    const secrets = Object.fromEntries(gcloudList(flag(deploy, '--set-secrets')!).map((kv) => kv.split('=') as [string, string]));
    assert.deepEqual(secrets, {
      MCP_TOKEN_SECRET: 'flowpos-mcp-token-secret:latest',
      DATABASE_URL: 'flowpos-database-url:latest',
      REDIS_PASSWORD: 'flowpos-redis-password:latest',
    });
    for (const name of Object.keys(secrets)) assert.ok(names.has(name), `${name} is a setting src/config.ts reads`);
  });

  test('every value can come from the environment instead of a flag', async () => {
    const fromFlags = (await runDeploy('cloud-run', SAMPLE)).commands;
    const fromEnv = await runDeploy('cloud-run', ['--dry-run'], {
      PROJECT: 'demo-proj',
      REGION: 'europe-west1',
      SERVICE_ACCOUNT: 'flowpos-mcp@demo-proj.iam.gserviceaccount.com',
      PUBLIC_URL: 'https://flowpos-mcp-123456789012.europe-west1.run.app',
      VPC_CONNECTOR: 'flowpos-connector',
      REDIS_HOST: '10.20.0.3',
      CLOUDSQL_INSTANCE: 'demo-proj:europe-west1:flowpos-pg',
      MIN_INSTANCES: '2',
      MAX_INSTANCES: '20',
      MEMORY: '1Gi',
      CPU: '2',
      CONCURRENCY: '60',
      TAG: 'v1',
    });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.deepEqual(fromEnv.commands, fromFlags);
  });

  test('--no-build deploys a given image; a list value switches gcloud to another delimiter; no Redis AUTH secret when told', async () => {
    const r = await runDeploy('cloud-run', [
      ...SAMPLE,
      '--no-build',
      '--image', 'europe-west1-docker.pkg.dev/demo-proj/flowpos/flowpos-mcp:release-7',
      '--env', 'MCP_ALLOWED_ORIGINS=https://a.example,https://b.example',
      '--redis-password-secret', 'none',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.commands.length, 1, 'no Cloud Build');
    const deploy = r.commands[0]!;
    assert.equal(flag(deploy, '--image'), 'europe-west1-docker.pkg.dev/demo-proj/flowpos/flowpos-mcp:release-7');
    const raw = flag(deploy, '--set-env-vars')!;
    assert.match(raw, /^\^@\^/);
    assert.ok(gcloudList(raw).includes('MCP_ALLOWED_ORIGINS=https://a.example,https://b.example'));
    assert.ok(!flag(deploy, '--set-secrets')!.includes('REDIS_PASSWORD'));
  });

  test('refuses to run without what it needs, and refuses --session-affinity', async () => {
    const without = (drop: string) => {
      const args = [...SAMPLE];
      args.splice(args.indexOf(drop), 2);
      return runDeploy('cloud-run', args);
    };
    for (const [dropped, message] of [
      ['--service-account', /--service-account is required/],
      ['--public-url', /--public-url is required/],
      ['--vpc-connector', /--vpc-connector is required/],
      ['--redis-host', /--redis-host is required/],
      ['--project', /--project is required/],
    ] as const) {
      const r = await without(dropped);
      assert.equal(r.code, 2, `without ${dropped}: ${r.stdout}`);
      assert.match(r.stderr, message);
      assert.equal(r.commands.length, 0, 'nothing is run');
    }
    const sticky = await runDeploy('cloud-run', [...SAMPLE, '--session-affinity']);
    assert.equal(sticky.code, 2);
    assert.match(sticky.stderr, /unknown option '--session-affinity'/);
    const longStreams = await runDeploy('cloud-run', [...SAMPLE, '--max-stream-seconds', '3600']);
    assert.equal(longStreams.code, 2);
    assert.match(longStreams.stderr, /must stay below --timeout/);
  });

  test('a bad value is refused with the flag it came from, before any command is printed', async () => {
    for (const [extra, message] of [
      [['--min-instances', 'two'], /^flowpos-mcp deploy cloud-run: --min-instances takes a whole number, got 'two'$/],
      [['--redis-port', '63 79'], /--redis-port takes a whole number, got '63 79'/],
      [['--timeout', '0'], /--timeout is 1\.\.3600 seconds on Cloud Run, got 0/],
      [['--min-instances', '30'], /--min-instances \(30\) is above --max-instances \(20\)/],
      [['--vpc-egress', 'everything'], /--vpc-egress is private-ranges-only or all-traffic, got 'everything'/],
      [['--public-url', 'https://flowpos.example/mcp'], /--public-url must be a base URL like https:\/\/host \(no path\), got 'https:\/\/flowpos.example\/mcp'/],
      [['--env', 'NO_EQUALS_SIGN'], /--env takes KEY=VALUE, got 'NO_EQUALS_SIGN'/],
      [['--env', 'A=1,2', '--env', 'B=x@y'], /an environment value holds both ',' and '@'/],
      [['--memory'], /--memory needs a value/],
      [['--tag', '--no-build'], /--tag needs a value/],
      [['--dry-run=yes'], /--dry-run takes no value, got 'yes'/],
      [['europe-west1'], /unexpected argument 'europe-west1'/],
    ] as const) {
      const r = await runDeploy('cloud-run', [...SAMPLE, ...extra]);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '', 'nothing is printed, so nothing would have run');
    }
    const fromEnv = await runDeploy('cloud-run', SAMPLE, { REDIS_TLS: 'maybe' });
    assert.equal(fromEnv.code, 2);
    assert.match(fromEnv.stderr, /REDIS_TLS is true or false \(or use --redis-tls\), got 'maybe'/);
  });

  test('--redis-tls, --no-allow-unauthenticated, and the last of --allow-unauthenticated / --no-allow-unauthenticated wins', async () => {
    const r = await runDeploy('cloud-run', [...SAMPLE, '--redis-tls', '--no-allow-unauthenticated']);
    assert.equal(r.code, 0, r.stderr);
    const deploy = r.commands[1]!;
    assert.ok(gcloudList(flag(deploy, '--set-env-vars')!).includes('REDIS_TLS=true'));
    assert.equal(flag(deploy, '--no-allow-unauthenticated'), '');
    assert.equal(flag(deploy, '--allow-unauthenticated'), null);
    const back = await runDeploy('cloud-run', [...SAMPLE, '--no-allow-unauthenticated', '--allow-unauthenticated']);
    assert.equal(flag(back.commands[1]!, '--allow-unauthenticated'), '');
  });
});

describe('flowpos-mcp deploy secrets --dry-run', () => {
  const SA = 'flowpos-mcp@demo-proj.iam.gserviceaccount.com';
  const values = {
    DATABASE_URL: 'postgres://flowpos:db-pw-0123456789@10.30.0.5:5432/flowpos',
    REDIS_PASSWORD: 'redis-auth-9876543210',
    MCP_TOKEN_SECRET: 'token-secret-abcdefghijklmnopqrstuvwxyz012345',
  };

  test('creates (or adds a version to) each secret from stdin and grants the service account access to each, printing no value', async () => {
    const r = await runDeploy('secrets', ['--dry-run', '--project', 'demo-proj', '--service-account', SA], values);
    assert.equal(r.code, 0, r.stderr);
    for (const v of Object.values(values)) assert.ok(!r.stdout.includes(v) && !r.stderr.includes(v), 'no secret value is printed');
    assert.ok(!r.stdout.includes('db-pw-'), 'not even part of the database password');

    const deploySecrets = Object.fromEntries(
      gcloudList(flag((await runDeploy('cloud-run', SAMPLE)).commands[1]!, '--set-secrets')!).map((kv) => kv.split('=') as [string, string]),
    );
    for (const secretName of Object.values(deploySecrets).map((s) => s.replace(/:latest$/, ''))) {
      const create = r.commands.find((c) => c.slice(0, 4).join(' ') === `gcloud secrets create ${secretName}`);
      assert.ok(create, `gcloud secrets create ${secretName} (the name deploy cloud-run mounts)`);
      assert.equal(flag(create, '--data-file'), '-', 'the value comes on stdin, not on the command line');
      assert.equal(flag(create, '--project'), 'demo-proj');
      const addVersion = r.commands.find((c) => c.slice(0, 5).join(' ') === `gcloud secrets versions add ${secretName}`);
      assert.ok(addVersion, `gcloud secrets versions add ${secretName}, for when it exists`);
      const grant = r.commands.find((c) => c.slice(0, 4).join(' ') === `gcloud secrets add-iam-policy-binding ${secretName}`);
      assert.ok(grant, `access to ${secretName} is granted`);
      assert.equal(flag(grant, '--member'), `serviceAccount:${SA}`);
      assert.equal(flag(grant, '--role'), 'roles/secretmanager.secretAccessor');
    }
    assert.ok(!r.commands.some((c) => c.includes('projects') && c.includes('add-iam-policy-binding') && c.some((w) => w.includes('secretAccessor'))), 'access per secret, never project-wide');
  });

  test('generates the token secret when none is given, and only creates it (a new value would invalidate every token)', async () => {
    const r = await runDeploy('secrets', ['--dry-run', '--project', 'demo-proj', '--service-account', SA, '--redis-password-secret', 'none'], { DATABASE_URL: values.DATABASE_URL });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /gcloud secrets create flowpos-mcp-token-secret .*< \(generated, \d+ characters\)/);
    assert.ok(!r.commands.some((c) => c.join(' ').startsWith('gcloud secrets versions add flowpos-mcp-token-secret')));
    assert.ok(!r.stdout.includes('flowpos-redis-password'), 'no Redis secret when AUTH is off');
  });

  test('Memorystore AUTH string, service account creation and the Cloud SQL client role on request', async () => {
    const r = await runDeploy('secrets', ['--dry-run', '--project', 'demo-proj', '--service-account', SA, '--redis-instance', 'flowpos-redis', '--region', 'europe-west1', '--create-service-account', '--cloudsql-client'], {
      DATABASE_URL: values.DATABASE_URL,
    });
    assert.equal(r.code, 0, r.stderr);
    const words = r.commands.map((c) => c.join(' '));
    assert.ok(words.some((w) => w.startsWith('gcloud iam service-accounts create flowpos-mcp --project=demo-proj')));
    assert.ok(words.some((w) => w.startsWith('gcloud redis instances get-auth-string flowpos-redis --project=demo-proj --region=europe-west1')));
    assert.ok(words.some((w) => w.startsWith('gcloud projects add-iam-policy-binding demo-proj') && w.includes('--role=roles/cloudsql.client')));
  });

  test('refuses without a service account, or with a malformed one', async () => {
    const none = await runDeploy('secrets', ['--dry-run', '--project', 'demo-proj'], values);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--service-account is required/);
    const bad = await runDeploy('secrets', ['--dry-run', '--project', 'demo-proj', '--service-account', 'someone@example.com'], values);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /must be a service account email/);
  });
});
