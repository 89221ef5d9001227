import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { redactUrl } from './backing.js';
import { startCluster, type Cluster } from './cluster.js';

export const CLUSTER_USAGE = `Usage: flowpos-mcp cluster [--instances N] [--port P]

Starts N server processes (default 3) on ports P+1..P+N sharing one Redis and one PostgreSQL, behind a
round-robin load balancer on port P (default $PORT or 4000) with no session affinity. Without REDIS_URL a
private redis-server is started; without DATABASE_URL the local PostgreSQL (127.0.0.1:5432, database
flowpos_cluster) is used, else a throwaway one in $FLOWPOS_DATA_DIR/cluster-pg. Ctrl-C stops everything.`;

/** `flowpos-mcp cluster`: runs until SIGINT/SIGTERM, then stops everything it started and returns 0. */
export async function clusterCommand(argv: string[], config: Config): Promise<number> {
  let instances = 3;
  let port = config.port;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { instances: { type: 'string', short: 'n' }, port: { type: 'string', short: 'p' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(`${CLUSTER_USAGE}\n`);
      return 0;
    }
    if (values.instances !== undefined) instances = integer('--instances', values.instances, 1, 32);
    if (values.port !== undefined) port = integer('--port', values.port, 1, 65535 - instances);
  } catch (err) {
    process.stderr.write(`flowpos-mcp cluster: ${err instanceof Error ? err.message : String(err)}\n${CLUSTER_USAGE}\n`);
    return 2;
  }

  const abort = new AbortController();
  let cluster: Cluster | undefined;
  let stopping = false;
  let firstSignalAt = 0;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        // One Ctrl-C often arrives twice (the terminal signals the whole group and npm/tsx relay it too): only a
        // later one means "stop waiting". The exit hook then kills whatever still runs, by pid.
        if (Date.now() - firstSignalAt < 2_000) return;
        process.stderr.write(`\n[cluster] ${sig} again: killing everything now.\n`);
        process.exit(130);
      }
      stopping = true;
      firstSignalAt = Date.now();
      process.stdout.write(`\n[cluster] ${sig}: stopping the balancer, the instances and what the cluster started …\n`);
      abort.abort();
      if (!cluster) return; // start-up sees the abort and cleans up itself
      cluster.stop().then(resolve, (err: unknown) => {
        process.stderr.write(`[cluster] error while stopping: ${String(err)}\n`);
        resolve();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  try {
    cluster = await startCluster({
      instances,
      port,
      host: config.host,
      ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
      ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
      ...(process.env.PUBLIC_URL ? { publicUrl: config.publicUrl } : {}),
      dataDir: config.dataDir,
      signal: abort.signal,
    });
  } catch (err) {
    if (abort.signal.aborted) {
      process.stdout.write('[cluster] stopped during start-up.\n');
      return 0;
    }
    process.stderr.write(`flowpos-mcp cluster: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  if (stopping) {
    // The signal came while the last step was finishing.
    await cluster.stop();
    return 0;
  }

  const { redis, postgres } = cluster.backing;
  const rows = [
    ['redis', `${redactUrl(cluster.redisUrl)}  (${redis.description})`],
    ['postgres', `${redactUrl(cluster.databaseUrl)}  (${postgres.description})`],
    ...cluster.instances.map((i) => [i.name, `${i.url}  pid ${i.pid}`]),
    ['balancer', `${cluster.url}  round robin, no affinity, pid ${process.pid}`],
  ];
  process.stdout.write(
    `\nflowpos-mcp cluster: ${instances} instance${instances > 1 ? 's' : ''} behind a round-robin balancer (no session affinity)\n` +
      rows.map(([k, v]) => `  ${k!.padEnd(9)} ${v}\n`).join('') +
      `\n  MCP endpoint: ${cluster.mcpUrl}\n` +
      `  Demo API key (user demo-user): ${cluster.demoKey}\n` +
      `  Every response names the instance that served it in the x-flowpos-upstream header.\n` +
      `  Ctrl-C stops everything.\n\n`,
  );
  await stopped;
  process.stdout.write('[cluster] stopped.\n');
  return 0;
}

function integer(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new Error(`${name} takes a whole number from ${min} to ${max}; got "${value}".`);
  return n;
}
