import { randomBytes } from 'node:crypto';
import { DeployUsageError, parseFlags, setting, type FlagKind } from './flags.js';
import { defaultProject, type Gcloud } from './gcloud.js';

/**
 * `flowpos-mcp deploy secrets`: puts flowpos-mcp's secrets into Secret Manager and lets the service's own service
 * account read them (and only them). Values come from environment variables or are generated here, and reach gcloud
 * on stdin: never on a command line, never printed. Run it once before `deploy cloud-run`, and again to change a value.
 */

export const SECRETS_USAGE = `Usage: flowpos-mcp deploy secrets [options]

  --project ID                 [PROJECT, or gcloud's default]
  --service-account EMAIL      the Cloud Run service's identity (required) [SERVICE_ACCOUNT]
  --create-service-account     create that service account first
  --cloudsql-client            also grant it roles/cloudsql.client (for --cloudsql-instance in deploy cloud-run)

  --token-secret NAME          MCP_TOKEN_SECRET, signs the server's OAuth access tokens
                               [TOKEN_SECRET, default flowpos-mcp-token-secret]; value: $MCP_TOKEN_SECRET, else 48
                               random bytes generated here (only when the secret does not exist yet: a new value
                               would invalidate every token; rotate with MCP_TOKEN_SECRET_PREVIOUS, see the docs)
  --database-url-secret NAME   [DATABASE_URL_SECRET, default flowpos-database-url]; value: $DATABASE_URL (required
                               unless the secret exists)
  --redis-password-secret NAME [REDIS_PASSWORD_SECRET, default flowpos-redis-password, "none": Redis without AUTH];
                               value: $REDIS_PASSWORD, or Memorystore's AUTH string with --redis-instance
  --redis-instance NAME        read the AUTH string of this Memorystore instance [REDIS_INSTANCE]
  --region REGION              its region [REGION, default europe-west1]

  --dry-run                    print the gcloud commands instead of running them (values are never printed)
  -h, --help

Example:
  DATABASE_URL='postgres://flowpos:…@10.20.0.3:5432/flowpos' \\
  flowpos-mcp deploy secrets --project my-proj --service-account flowpos-mcp@my-proj.iam.gserviceaccount.com \\
    --redis-instance flowpos-redis --region europe-west1`;

export const SECRETS_FLAGS: Record<string, FlagKind> = {
  project: 'value',
  'service-account': 'value',
  'create-service-account': 'switch',
  'cloudsql-client': 'switch',
  'token-secret': 'value',
  'database-url-secret': 'value',
  'redis-password-secret': 'value',
  'redis-instance': 'value',
  region: 'value',
  'dry-run': 'switch',
};

export interface SecretsRequest {
  help: boolean;
  dryRun: boolean;
  project: string;
  serviceAccount: string;
  createServiceAccount: boolean;
  cloudsqlClient: boolean;
  tokenSecret: string;
  databaseUrlSecret: string;
  redisPasswordSecret: string;
  redisInstance: string;
  region: string;
  /** The values, from the environment; never printed. */
  tokenValue: string;
  databaseUrl: string;
  redisPassword: string;
}

export async function secretsRequest(argv: string[], env: NodeJS.ProcessEnv): Promise<SecretsRequest> {
  const flags = parseFlags(argv, SECRETS_FLAGS);
  const get = (flag: string, envName: string, fallback?: string) => setting(flags, env, flag, envName, fallback);
  const request: SecretsRequest = {
    help: flags.help,
    dryRun: flags.switches.has('dry-run'),
    project: get('project', 'PROJECT'),
    serviceAccount: get('service-account', 'SERVICE_ACCOUNT'),
    createServiceAccount: flags.switches.has('create-service-account'),
    cloudsqlClient: flags.switches.has('cloudsql-client'),
    tokenSecret: get('token-secret', 'TOKEN_SECRET', 'flowpos-mcp-token-secret'),
    databaseUrlSecret: get('database-url-secret', 'DATABASE_URL_SECRET', 'flowpos-database-url'),
    redisPasswordSecret: get('redis-password-secret', 'REDIS_PASSWORD_SECRET', 'flowpos-redis-password'),
    redisInstance: get('redis-instance', 'REDIS_INSTANCE'),
    region: get('region', 'REGION', 'europe-west1'),
    tokenValue: env.MCP_TOKEN_SECRET ?? '',
    databaseUrl: env.DATABASE_URL ?? '',
    redisPassword: env.REDIS_PASSWORD ?? '',
  };
  if (request.help) return request;
  if (!request.project && !request.dryRun) request.project = await defaultProject(env);
  if (!request.project) throw new DeployUsageError('--project is required (or PROJECT, or `gcloud config set project ID`)');
  if (!request.serviceAccount) throw new DeployUsageError(`--service-account is required, e.g. flowpos-mcp@${request.project}.iam.gserviceaccount.com`);
  if (!/^[^@]+@.+\.iam\.gserviceaccount\.com$/.test(request.serviceAccount)) {
    throw new DeployUsageError(`--service-account must be a service account email (NAME@PROJECT.iam.gserviceaccount.com), got '${request.serviceAccount}'`);
  }
  if (request.databaseUrl && !/^postgres(ql)?:\/\//.test(request.databaseUrl)) {
    throw new DeployUsageError('DATABASE_URL must start with postgres:// or postgresql://');
  }
  return request;
}

/**
 * Secrets that exist get a new version, except the token secret when it is generated here (a new random value
 * would invalidate every token). A dry run shows both branches, since it asks gcloud nothing.
 */
export async function putSecrets(r: SecretsRequest, gcloud: Gcloud, out: (line: string) => void): Promise<void> {
  const project = `--project=${r.project}`;
  const exists = (name: string) => gcloud.succeeds(['gcloud', 'secrets', 'describe', name, project]);
  const put = async (name: string, value: string, what: string, onlyIfMissing: boolean) => {
    const create = ['gcloud', 'secrets', 'create', name, project, '--replication-policy=automatic', '--data-file=-'];
    const add = ['gcloud', 'secrets', 'versions', 'add', name, project, '--data-file=-'];
    if (gcloud.dryRun) {
      gcloud.note(`${name}: created if missing${onlyIfMissing ? ', left as it is if it exists' : ', else a new version'}`);
      await gcloud.runWithValue(create, value, what);
      if (!onlyIfMissing) await gcloud.runWithValue(add, value, what);
    } else if (await exists(name)) {
      if (onlyIfMissing) out(`secret ${name} exists: left as it is`);
      else await gcloud.runWithValue(add, value, what);
    } else {
      await gcloud.runWithValue(create, value, what);
    }
  };
  const grant = (name: string) =>
    gcloud.run(['gcloud', 'secrets', 'add-iam-policy-binding', name, project, `--member=serviceAccount:${r.serviceAccount}`, '--role=roles/secretmanager.secretAccessor']);

  // Each value that is needed and absent is refused before anything is written.
  if (!gcloud.dryRun && !r.databaseUrl && !(await exists(r.databaseUrlSecret))) {
    throw new DeployUsageError(
      `set DATABASE_URL (postgres://USER:PASS@PRIVATE_IP:5432/DB, or …@localhost/DB?host=/cloudsql/PROJECT:REGION:INSTANCE): secret ${r.databaseUrlSecret} does not exist yet`,
    );
  }
  const redisNeeded = r.redisPasswordSecret !== 'none';
  if (!gcloud.dryRun && redisNeeded && !r.redisPassword && !r.redisInstance && !(await exists(r.redisPasswordSecret))) {
    throw new DeployUsageError('set REDIS_PASSWORD or --redis-instance (Memorystore AUTH), or pass --redis-password-secret none if AUTH is off');
  }

  if (r.createServiceAccount) {
    await gcloud.run(['gcloud', 'iam', 'service-accounts', 'create', r.serviceAccount.slice(0, r.serviceAccount.indexOf('@')), project, '--display-name=flowpos-mcp (Cloud Run)']);
  }

  // MCP_TOKEN_SECRET: given, or generated once (48 random bytes, 64 URL-safe characters).
  if (r.tokenValue) await put(r.tokenSecret, r.tokenValue, 'MCP_TOKEN_SECRET', false);
  else await put(r.tokenSecret, randomBytes(48).toString('base64url'), 'generated', true);
  await grant(r.tokenSecret);

  // DATABASE_URL: given, or already stored.
  if (r.databaseUrl) await put(r.databaseUrlSecret, r.databaseUrl, 'DATABASE_URL', false);
  await grant(r.databaseUrlSecret);

  // REDIS_PASSWORD: given, read from Memorystore, or none (AUTH disabled).
  if (redisNeeded) {
    let password = r.redisPassword;
    let what = 'REDIS_PASSWORD';
    if (!password && r.redisInstance) {
      what = `AUTH string of Memorystore instance ${r.redisInstance}`;
      const read = ['gcloud', 'redis', 'instances', 'get-auth-string', r.redisInstance, project, `--region=${r.region}`, '--format=value(authString)'];
      const authString = await gcloud.output(read);
      password = gcloud.dryRun ? '<auth string>' : authString;
      if (!password) throw new DeployUsageError(`Memorystore instance ${r.redisInstance} has no AUTH string: enable AUTH, or pass --redis-password-secret none`);
    }
    if (password) await put(r.redisPasswordSecret, password, what, false);
    await grant(r.redisPasswordSecret);
  }

  if (r.cloudsqlClient) {
    await gcloud.run(['gcloud', 'projects', 'add-iam-policy-binding', r.project, `--member=serviceAccount:${r.serviceAccount}`, '--role=roles/cloudsql.client', '--condition=None']);
  }

  if (!gcloud.dryRun) out(`Secrets ready for ${r.serviceAccount}. Next: flowpos-mcp deploy cloud-run`);
}
