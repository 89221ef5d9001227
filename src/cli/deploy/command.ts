import { CLOUD_RUN_USAGE, cloudRunRequest, deployCloudRun } from './cloud-run.js';
import { DeployUsageError } from './flags.js';
import { dryRunGcloud, GcloudFailed, realGcloud, requireGcloud } from './gcloud.js';
import { putSecrets, SECRETS_USAGE, secretsRequest } from './secrets.js';

export const DEPLOY_USAGE = `Usage: flowpos-mcp deploy <cloud-run | secrets> [options] [--dry-run]

  secrets     put MCP_TOKEN_SECRET, DATABASE_URL and REDIS_PASSWORD into Secret Manager and let the
              service account read them (run it first)
  cloud-run   build the image with Cloud Build and deploy it to Cloud Run, no session affinity

--dry-run prints each gcloud command, one a line, instead of running it. docs/deploy-cloud-run.md explains it all.

${SECRETS_USAGE}

${CLOUD_RUN_USAGE}`;

export interface DeployIo {
  env?: NodeJS.ProcessEnv;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

/** `flowpos-mcp deploy …`; needs no server configuration (it runs on a laptop, not where the server runs). */
export async function deployCommand(argv: string[], io: DeployIo = {}): Promise<number> {
  const env = io.env ?? process.env;
  const out = io.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = io.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    out(DEPLOY_USAGE);
    return sub ? 0 : 2;
  }
  try {
    if (sub === 'cloud-run') {
      const request = await cloudRunRequest(rest, env);
      if (request.help) {
        out(CLOUD_RUN_USAGE);
        return 0;
      }
      if (!request.dryRun) requireGcloud(env);
      await deployCloudRun(request, request.dryRun ? dryRunGcloud(out) : realGcloud(env), out);
      return 0;
    }
    if (sub === 'secrets') {
      const request = await secretsRequest(rest, env);
      if (request.help) {
        out(SECRETS_USAGE);
        return 0;
      }
      if (!request.dryRun) requireGcloud(env);
      await putSecrets(request, request.dryRun ? dryRunGcloud(out) : realGcloud(env), out);
      return 0;
    }
    throw new DeployUsageError(`unknown deploy target '${sub}': cloud-run or secrets (see flowpos-mcp deploy --help)`);
  } catch (e) {
    const where = sub === 'cloud-run' || sub === 'secrets' ? `flowpos-mcp deploy ${sub}` : 'flowpos-mcp deploy';
    if (e instanceof DeployUsageError) {
      err(`${where}: ${e.message}`);
      return 2;
    }
    if (e instanceof GcloudFailed) {
      err(`${where}: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
}
