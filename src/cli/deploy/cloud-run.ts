import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeployUsageError, parseFlags, setting, wholeNumber, type FlagKind } from './flags.js';
import { defaultProject, type Gcloud } from './gcloud.js';

/**
 * `flowpos-mcp deploy cloud-run`: builds the image with Cloud Build and deploys it to Cloud Run as many identical
 * instances with no session affinity, Redis (Memorystore) through Serverless VPC Access, PostgreSQL (Cloud SQL) by
 * private IP or the Cloud SQL connector, secrets from Secret Manager. docs/deploy-cloud-run.md explains every choice.
 */

export const CLOUD_RUN_USAGE = `Usage: flowpos-mcp deploy cloud-run [options]

Where
  --project ID                 Google Cloud project                      [PROJECT, or gcloud's default]
  --region REGION              Cloud Run and Artifact Registry region    [REGION, default europe-west1]
  --service NAME               Cloud Run service name                    [SERVICE, default flowpos-mcp]
Image
  --image IMAGE                image to deploy                           [IMAGE, default
                               REGION-docker.pkg.dev/PROJECT/REPOSITORY/SERVICE:TAG]
  --repository NAME            Artifact Registry repository              [REPOSITORY, default flowpos]
  --tag TAG                    image tag                                 [TAG, default the git commit]
  --no-build                   deploy IMAGE as it is (no Cloud Build)
Identity and URL
  --service-account EMAIL      the service's runtime identity (required) [SERVICE_ACCOUNT]
  --public-url URL             the URL clients use (required)            [PUBLIC_URL]
                               https://SERVICE-PROJECT_NUMBER.REGION.run.app or your own domain
  --no-allow-unauthenticated   require Cloud Run IAM (roles/run.invoker) in front of the app's own auth
Redis (Memorystore, reached through Serverless VPC Access)
  --vpc-connector NAME         Serverless VPC Access connector (required) [VPC_CONNECTOR]
  --vpc-egress MODE            private-ranges-only | all-traffic          [VPC_EGRESS, default private-ranges-only]
  --redis-host HOST            Memorystore IP (required)                  [REDIS_HOST]
  --redis-port PORT                                                       [REDIS_PORT, default 6379]
  --redis-tls                  Memorystore in-transit encryption          [REDIS_TLS=true]
  --redis-password-secret NAME secret holding the AUTH string; "none" if AUTH is off
                                                                          [REDIS_PASSWORD_SECRET, default flowpos-redis-password]
PostgreSQL (Cloud SQL)
  --database-url-secret NAME   secret holding DATABASE_URL                [DATABASE_URL_SECRET, default flowpos-database-url]
  --cloudsql-instance CONN     PROJECT:REGION:INSTANCE, mounted at /cloudsql/CONN (the connector); the secret's URL
                               is then postgres://USER:PASS@localhost/DB?host=/cloudsql/CONN [CLOUDSQL_INSTANCE]
Secrets
  --token-secret NAME          secret holding MCP_TOKEN_SECRET            [TOKEN_SECRET, default flowpos-mcp-token-secret]
Capacity
  --min-instances N            [MIN_INSTANCES, default 1: no cold start for the first agent]
  --max-instances N            [MAX_INSTANCES, default 10]
  --memory SIZE                [MEMORY, default 512Mi]
  --cpu N                      [CPU, default 1]
  --concurrency N              requests (open streams included) per instance [CONCURRENCY, default 80]
  --timeout SECONDS            longest request, so longest SSE stream     [TIMEOUT, default 3600]
  --max-stream-seconds N       MCP_SSE_MAX_STREAM_SECONDS: GET streams end (and resume elsewhere) after N s
                                                                          [MAX_STREAM_SECONDS, default 900]
Other
  --firebase-project ID        FIREBASE_PROJECT_ID (Firebase sign-in)     [FIREBASE_PROJECT_ID]
  --firebase-api-key KEY       FIREBASE_API_KEY: the Web API key (public, not a secret); turns on the browser
                               sign-in for Claude, ChatGPT, VS Code (needs --firebase-project) [FIREBASE_API_KEY]
  --env KEY=VALUE              another environment variable (repeatable)
  --dry-run                    print the gcloud commands instead of running them
  -h, --help

Every option also reads the environment variable in brackets. Example:
  flowpos-mcp deploy cloud-run --project my-proj --region europe-west1 \\
    --service-account flowpos-mcp@my-proj.iam.gserviceaccount.com \\
    --public-url https://flowpos-mcp-123456789012.europe-west1.run.app \\
    --vpc-connector flowpos-connector --redis-host 10.0.0.3`;

export const CLOUD_RUN_FLAGS: Record<string, FlagKind> = {
  project: 'value',
  region: 'value',
  service: 'value',
  image: 'value',
  repository: 'value',
  tag: 'value',
  'no-build': 'switch',
  'service-account': 'value',
  'public-url': 'value',
  'allow-unauthenticated': 'switch',
  'no-allow-unauthenticated': 'switch',
  'vpc-connector': 'value',
  'vpc-egress': 'value',
  'redis-host': 'value',
  'redis-port': 'value',
  'redis-tls': 'switch',
  'redis-password-secret': 'value',
  'database-url-secret': 'value',
  'cloudsql-instance': 'value',
  'token-secret': 'value',
  'min-instances': 'value',
  'max-instances': 'value',
  memory: 'value',
  cpu: 'value',
  concurrency: 'value',
  timeout: 'value',
  'max-stream-seconds': 'value',
  'firebase-project': 'value',
  'firebase-api-key': 'value',
  env: 'list',
  'dry-run': 'switch',
};

/** The checkout this module belongs to (src/cli/deploy or dist/cli/deploy): the Cloud Build context. */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** What was asked for, after flags, environment and defaults. */
export interface CloudRunRequest {
  help: boolean;
  dryRun: boolean;
  /** The gcloud commands, in order; empty with help. */
  commands: string[][];
  service: string;
  publicUrl: string;
}

/**
 * Every check happens here, before anything runs: a refusal never leaves a build submitted and no deploy. The
 * project falls back to gcloud's default only for a real run (a dry run must not depend on the machine).
 */
export async function cloudRunRequest(argv: string[], env: NodeJS.ProcessEnv, root = REPOSITORY_ROOT): Promise<CloudRunRequest> {
  const flags = parseFlags(argv, CLOUD_RUN_FLAGS);
  const dryRun = flags.switches.has('dry-run');
  if (flags.help) return { help: true, dryRun, commands: [], service: '', publicUrl: '' };
  const get = (flag: string, envName: string, fallback?: string) => setting(flags, env, flag, envName, fallback);

  let project = get('project', 'PROJECT');
  const region = get('region', 'REGION', 'europe-west1');
  const service = get('service', 'SERVICE', 'flowpos-mcp');
  const repository = get('repository', 'REPOSITORY', 'flowpos');
  const build = !flags.switches.has('no-build');
  const serviceAccount = get('service-account', 'SERVICE_ACCOUNT');
  const publicUrl = get('public-url', 'PUBLIC_URL');
  // The last of the pair wins, as it would in a shell script's loop.
  const allowUnauthenticated = lastSwitch(argv, 'allow-unauthenticated', 'no-allow-unauthenticated') !== 'no-allow-unauthenticated';
  const vpcConnector = get('vpc-connector', 'VPC_CONNECTOR');
  const vpcEgress = get('vpc-egress', 'VPC_EGRESS', 'private-ranges-only');
  const redisHost = get('redis-host', 'REDIS_HOST');
  const redisPort = get('redis-port', 'REDIS_PORT', '6379');
  const redisTls = flags.switches.has('redis-tls') ? 'true' : env.REDIS_TLS || 'false';
  const redisPasswordSecret = get('redis-password-secret', 'REDIS_PASSWORD_SECRET', 'flowpos-redis-password');
  const databaseUrlSecret = get('database-url-secret', 'DATABASE_URL_SECRET', 'flowpos-database-url');
  const cloudsqlInstance = get('cloudsql-instance', 'CLOUDSQL_INSTANCE');
  const tokenSecret = get('token-secret', 'TOKEN_SECRET', 'flowpos-mcp-token-secret');
  const memory = get('memory', 'MEMORY', '512Mi');
  const cpu = get('cpu', 'CPU', '1');
  const firebaseProject = get('firebase-project', 'FIREBASE_PROJECT_ID');
  const firebaseApiKey = get('firebase-api-key', 'FIREBASE_API_KEY');
  const extraEnv = flags.lists.get('env') ?? [];
  for (const kv of extraEnv) if (!kv.includes('=')) throw new DeployUsageError(`--env takes KEY=VALUE, got '${kv}'`);

  if (!project && !dryRun) project = await defaultProject(env);
  if (!project) throw new DeployUsageError('--project is required (or PROJECT, or `gcloud config set project ID`)');
  if (!serviceAccount) {
    throw new DeployUsageError(
      `--service-account is required: the service's own identity, e.g. flowpos-mcp@${project}.iam.gserviceaccount.com (never the default compute account)`,
    );
  }
  if (!publicUrl) {
    throw new DeployUsageError(
      `--public-url is required: https://${service}-PROJECT_NUMBER.${region}.run.app (PROJECT_NUMBER: \`gcloud projects describe ${project} --format='value(projectNumber)'\`) or your own domain`,
    );
  }
  if (!/^https?:\/\/[^/]+\/?$/.test(publicUrl)) throw new DeployUsageError(`--public-url must be a base URL like https://host (no path), got '${publicUrl}'`);
  if (!vpcConnector) throw new DeployUsageError('--vpc-connector is required: Memorystore has only a private IP, reached through Serverless VPC Access');
  if (!redisHost) {
    throw new DeployUsageError(`--redis-host is required (the Memorystore instance's IP: \`gcloud redis instances describe NAME --region ${region} --format='value(host)'\`)`);
  }
  if (vpcEgress !== 'private-ranges-only' && vpcEgress !== 'all-traffic') {
    throw new DeployUsageError(`--vpc-egress is private-ranges-only or all-traffic, got '${vpcEgress}'`);
  }
  if (redisTls !== 'true' && redisTls !== 'false') throw new DeployUsageError(`REDIS_TLS is true or false (or use --redis-tls), got '${redisTls}'`);
  const minInstances = wholeNumber('min-instances', get('min-instances', 'MIN_INSTANCES', '1'));
  const maxInstances = wholeNumber('max-instances', get('max-instances', 'MAX_INSTANCES', '10'));
  const concurrency = wholeNumber('concurrency', get('concurrency', 'CONCURRENCY', '80'));
  const timeout = wholeNumber('timeout', get('timeout', 'TIMEOUT', '3600'));
  wholeNumber('redis-port', redisPort);
  const maxStreamSeconds = wholeNumber('max-stream-seconds', get('max-stream-seconds', 'MAX_STREAM_SECONDS', '900'));
  if (minInstances > maxInstances) throw new DeployUsageError(`--min-instances (${minInstances}) is above --max-instances (${maxInstances})`);
  if (timeout < 1 || timeout > 3600) throw new DeployUsageError(`--timeout is 1..3600 seconds on Cloud Run, got ${timeout}`);
  if (maxStreamSeconds > 0 && maxStreamSeconds >= timeout) {
    throw new DeployUsageError(
      `--max-stream-seconds (${maxStreamSeconds}) must stay below --timeout (${timeout}), so streams end with a retry hint before Cloud Run cuts them`,
    );
  }
  if (firebaseApiKey && !firebaseProject) throw new DeployUsageError('--firebase-api-key needs --firebase-project');

  let image = get('image', 'IMAGE');
  if (!image) image = `${region}-docker.pkg.dev/${project}/${repository}/${service}:${get('tag', 'TAG') || commitTag(root)}`;

  const commands: string[][] = [];
  if (build) {
    // The Dockerfile at the repository root; .dockerignore keeps node_modules, .git and local state out of the upload.
    if (!existsSync(join(root, 'Dockerfile'))) {
      throw new DeployUsageError(`no Dockerfile in ${root} to build from: run this from a checkout, or deploy a built image with --no-build --image IMAGE`);
    }
    commands.push(['gcloud', 'builds', 'submit', root.replace(/\/$/, ''), `--project=${project}`, `--region=${region}`, `--tag=${image}`]);
  }

  const baseUrl = publicUrl.replace(/\/$/, '');
  const envVars = [
    'NODE_ENV=production',
    `PUBLIC_URL=${baseUrl}`,
    `REDIS_HOST=${redisHost}`,
    `REDIS_PORT=${redisPort}`,
    `REDIS_TLS=${redisTls}`,
    `MCP_SSE_MAX_STREAM_SECONDS=${maxStreamSeconds}`,
    // Cloud Run sends SIGTERM and waits 10 s before SIGKILL: in-flight requests get 8 of them.
    'SHUTDOWN_GRACE_SECONDS=8',
    `GOOGLE_CLOUD_PROJECT=${project}`,
    ...(firebaseProject ? [`FIREBASE_PROJECT_ID=${firebaseProject}`] : []),
    ...(firebaseApiKey ? [`FIREBASE_API_KEY=${firebaseApiKey}`] : []),
    ...extraEnv,
  ];
  const secrets = [
    `MCP_TOKEN_SECRET=${tokenSecret}:latest`,
    `DATABASE_URL=${databaseUrlSecret}:latest`,
    ...(redisPasswordSecret !== 'none' ? [`REDIS_PASSWORD=${redisPasswordSecret}:latest`] : []),
  ];
  commands.push([
    'gcloud', 'run', 'deploy', service,
    `--project=${project}`,
    `--region=${region}`,
    `--image=${image}`,
    `--service-account=${serviceAccount}`,
    '--port=4000',
    `--min-instances=${minInstances}`,
    `--max-instances=${maxInstances}`,
    `--memory=${memory}`,
    `--cpu=${cpu}`,
    `--concurrency=${concurrency}`,
    `--timeout=${timeout}`,
    // Any instance serves any request of any session: sessions live in Redis.
    '--no-session-affinity',
    '--cpu-boost',
    '--execution-environment=gen2',
    `--vpc-connector=${vpcConnector}`,
    `--vpc-egress=${vpcEgress}`,
    `--set-env-vars=${gcloudList(envVars)}`,
    `--set-secrets=${gcloudList(secrets)}`,
    ...(cloudsqlInstance ? [`--add-cloudsql-instances=${cloudsqlInstance}`] : []),
    // Public at the Cloud Run layer; every /mcp request still needs an API key or an OAuth access token.
    allowUnauthenticated ? '--allow-unauthenticated' : '--no-allow-unauthenticated',
  ]);
  return { help: false, dryRun, commands, service, publicUrl: baseUrl };
}

export async function deployCloudRun(request: CloudRunRequest, gcloud: Gcloud, out: (line: string) => void): Promise<void> {
  for (const command of request.commands) await gcloud.run(command);
  if (!gcloud.dryRun) out(`\nDeployed ${request.service}. Check it end to end:\n  flowpos-mcp verify --url ${request.publicUrl} --api-key <key>`);
}

/** gcloud splits list flags on commas; a value with a comma (a list) needs another delimiter, chosen with ^D^. */
export function gcloudList(items: string[]): string {
  if (!items.some((i) => i.includes(','))) return items.join(',');
  const both = items.find((i) => i.includes('@'));
  if (both) throw new DeployUsageError(`an environment value holds both ',' and '@': ${both}`);
  return `^@^${items.join('@')}`;
}

/** The image tag when none is given: the checkout's commit, else the time (UTC, to the second). */
function commitTag(root: string): string {
  try {
    return execFileSync('git', ['-C', root, 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  }
}

function lastSwitch(argv: string[], ...names: string[]): string | undefined {
  const seen = argv.filter((a) => names.some((n) => a === `--${n}`));
  return seen.at(-1)?.slice(2);
}
