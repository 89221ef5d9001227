#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { createFlowposServer } from './app.js';
import { createApiKey, listApiKeys, revokeApiKey } from './auth/api-key-repo.js';
import { ALL_SCOPES, type Scope } from './auth/principal.js';
import { ConfigError, loadConfig, MCP_PATH, type Config } from './config.js';
import type { Db } from './db/db.js';
import { migrate } from './db/migrate.js';
import { openDb } from './db/open.js';
import { seedDemo } from './db/seed.js';
import { addMembership, removeMembership } from './db/memberships-repo.js';
import { ensureUser } from './db/users-repo.js';
import { ensureDemoKey } from './demo-key.js';
import { announceMembershipChange } from './state/announce-change.js';

const USAGE = `Usage: flowpos-mcp <command> [options]

Commands:
  serve                                  start the MCP server (config from the environment)
  cluster [--instances N] [--port P]     N servers (default 3) behind a round-robin balancer with no
                                         session affinity, sharing Redis and PostgreSQL (local demo)
  migrate                                apply pending database migrations
  seed [--demo]                          load the demo users, businesses and products
  apikey create --user <uid> [--name N] [--scopes pos:read,pos:write] [--expires-in 30d] [--json]
                                         create an API key; prints only the key (use --json for details)
  apikey list [--user <uid>] [--json]    list keys (never their secrets)
  apikey revoke <keyId>                  revoke a key at once
  member add --user <uid> --business <id> [--role staff|owner] [--email E]
                                         give a user (e.g. a Firebase uid) access to a business
  member remove --user <uid> --business <id>
  tools [--url URL] [--key KEY] [--json] list the server's tools and their arguments (an MCP client)
  call <tool> [--args JSON] [--url URL] [--key KEY] [--json]
                                         call one tool and print its text (--json: its structured result);
                                         --url defaults to http://localhost:$PORT/mcp, --key to
                                         $FLOWPOS_API_KEY or the demo key in $FLOWPOS_DATA_DIR
  verify --url URL (--id-token T | --api-key K) [--redis-url U]
                                         run the deployment checklist against a running server: one
                                         ✓/✗ line per check, exit 0 only if all pass (docs/auth.md)
  deploy secrets [options] [--dry-run]   put the secrets into Secret Manager for Cloud Run
  deploy cloud-run [options] [--dry-run] build with Cloud Build and deploy to Cloud Run, no session affinity
                                         (\`flowpos-mcp deploy --help\` lists the options)

Configuration is read from the environment; see README.md.`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  // Clients of a running server: they need no server configuration (and must work where it would not load).
  if (command === 'tools' || command === 'call') return (await import('./client-cli.js')).clientCommand(command, rest);
  if (command === 'verify') return (await import('./cli/verify.js')).verifyCommand(rest);
  if (command === 'deploy') return (await import('./cli/deploy/command.js')).deployCommand(rest);
  const config = loadConfig();
  switch (command) {
    case 'serve':
      return serve(config);
    case 'cluster':
      return (await import('./cluster/command.js')).clusterCommand(rest, config);
    case 'migrate':
      // withDb must not migrate first, or this would always report "up to date".
      return withDb({ ...config, migrateOnStart: false }, async (db) => {
        const { applied } = await migrate(db);
        process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'Database is up to date.\n');
        return 0;
      });
    case 'seed': {
      const { values } = parseArgs({ args: rest, options: { demo: { type: 'boolean', default: false } }, strict: true });
      if (!values.demo) throw new UsageError('seed loads demo data only; run `flowpos-mcp seed --demo`.');
      if (config.production) throw new UsageError('refusing to load demo data with NODE_ENV=production.');
      return withDb(config, async (db) => {
        await migrate(db);
        await seedDemo(db);
        process.stdout.write('Demo data loaded: users demo-user, demo-user-2.\n');
        return 0;
      });
    }
    case 'apikey':
      return apikey(config, rest);
    case 'member':
      return member(config, rest);
    default:
      throw new UsageError(`unknown command "${command}".`);
  }
}

async function serve(config: Config): Promise<number> {
  const server = await createFlowposServer(config);
  const base = await server.listen();
  const log = server.app.log;
  // A stray rejection inside a client library (e.g. a Redis Cluster re-subscription after failover) must not take
  // down an instance and the requests it is serving; it is logged for someone to look at.
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection'));
  if (!config.redisUrl && !config.redisClusterNodes) log.warn('REDIS_URL is not set: sessions and carts live in this process only (fine for one instance, not for several).');
  if (!config.allowedHosts) log.warn('PUBLIC_URL is not set and HOST is not loopback: any Host header is accepted. Set PUBLIC_URL in production.');
  if (config.oauth.signIn) {
    log.info(
      { authorizationEndpoint: `${config.publicUrl}/authorize`, firebaseProject: config.oauth.firebaseProjectId, emulator: config.oauth.firebaseEmulatorHost ?? null },
      'browser sign-in is on: MCP clients (Claude, ChatGPT, VS Code, the Inspector) can connect with OAuth',
    );
  } else if (config.oauth.firebaseProjectId) {
    log.info('token exchange is on; set FIREBASE_API_KEY to let MCP clients sign people in with the browser (docs/auth.md)');
  }
  if (config.demoSeed && !config.production) {
    const key = await ensureDemoKey(server.db, config.dataDir);
    const url = `${config.publicUrl}${MCP_PATH}`;
    process.stdout.write(
      `\nflowpos-mcp is listening on ${base}\n  MCP endpoint: ${url}\n  Demo API key (user demo-user): ${key}\n\n` +
        `  Try it:\n    curl -s ${url} -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' \\\n` +
        `      -H 'Accept: application/json, text/event-stream' \\\n` +
        `      -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' -i\n\n`,
    );
  }
  const code = await new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down');
      // In-flight requests get the grace period; closing Redis and PostgreSQL gets a few seconds more, not forever.
      const hardDeadline = setTimeout(() => {
        log.error({ afterMs: config.shutdownGraceMs + SHUTDOWN_CLOSE_MARGIN_MS }, 'shutdown did not finish in time');
        resolve(1);
      }, config.shutdownGraceMs + SHUTDOWN_CLOSE_MARGIN_MS);
      server.close().then(
        () => {
          clearTimeout(hardDeadline);
          log.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          clearTimeout(hardDeadline);
          log.error({ err }, 'error during shutdown');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  // Everything is closed; a handle someone forgot must not keep the process (and the platform's deploy) waiting.
  setTimeout(() => process.exit(code), code === 0 ? 2_000 : 0).unref();
  return code;
}

const SHUTDOWN_CLOSE_MARGIN_MS = 5_000;

async function apikey(config: Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      user: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
      'expires-in': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  return withDb(config, async (db) => {
    if (sub === 'create') {
      if (!values.user) throw new UsageError('apikey create needs --user <uid>.');
      const scopes = parseScopes(values.scopes);
      const expiresAt = values['expires-in'] ? new Date(Date.now() + parseDuration(values['expires-in'])) : undefined;
      await ensureUser(db, { id: values.user });
      const { key, record } = await createApiKey(db, { userId: values.user, name: values.name ?? 'api key', scopes, ...(expiresAt ? { expiresAt } : {}) });
      process.stdout.write(values.json ? `${JSON.stringify({ key, ...record }, null, 2)}\n` : `${key}\n`);
      return 0;
    }
    if (sub === 'list') {
      const keys = await listApiKeys(db, values.user ? { userId: values.user } : {});
      if (values.json) {
        process.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
      } else {
        for (const k of keys) {
          const state = k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt.getTime() < Date.now() ? 'expired' : 'active';
          process.stdout.write(`${k.keyId}\t${k.userId}\t${state}\t${k.scopes.join(',')}\t${k.name ?? ''}\tlast used ${k.lastUsedAt?.toISOString() ?? 'never'}\n`);
        }
        if (keys.length === 0) process.stdout.write('No API keys.\n');
      }
      return 0;
    }
    if (sub === 'revoke') {
      const keyId = positionals[0];
      if (!keyId) throw new UsageError('apikey revoke needs a key id (see `flowpos-mcp apikey list`).');
      const done = await revokeApiKey(db, keyId);
      process.stderr.write(done ? `Revoked ${keyId}.\n` : `No active key ${keyId}.\n`);
      return done ? 0 : 1;
    }
    throw new UsageError('apikey needs create, list or revoke.');
  });
}

async function member(config: Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: { user: { type: 'string' }, business: { type: 'string' }, role: { type: 'string', default: 'staff' }, email: { type: 'string' } },
    strict: true,
  });
  if (sub !== 'add' && sub !== 'remove') throw new UsageError('member needs add or remove.');
  if (!values.user || !values.business) throw new UsageError(`member ${sub} needs --user <uid> and --business <id>.`);
  const role = values.role;
  if (role !== 'staff' && role !== 'owner') throw new UsageError(`--role is staff or owner; got "${role}".`);
  return withDb(config, async (db) => {
    if (sub === 'add') {
      const done = await addMembership(db, { userId: values.user!, businessId: values.business!, role, ...(values.email ? { email: values.email } : {}) });
      if (!done) {
        process.stderr.write(`No business ${values.business}.\n`);
        return 1;
      }
      await announceMembershipChange(config, values.user!);
      process.stdout.write(`${values.user} is now ${role} of ${values.business}.\n`);
      return 0;
    }
    const done = await removeMembership(db, { userId: values.user!, businessId: values.business! });
    // Running instances stop using the user's cached businesses at their next request.
    if (done) await announceMembershipChange(config, values.user!);
    process.stderr.write(done ? `Removed ${values.user} from ${values.business}.\n` : `${values.user} was not a member of ${values.business}.\n`);
    return done ? 0 : 1;
  });
}

function parseScopes(value: string | undefined): Scope[] {
  if (!value) return [...ALL_SCOPES];
  const scopes = value.split(/[ ,]+/).filter(Boolean);
  const bad = scopes.filter((s) => !(ALL_SCOPES as readonly string[]).includes(s));
  if (bad.length) throw new UsageError(`unknown scope(s) ${bad.join(', ')}; use ${ALL_SCOPES.join(', ')}.`);
  return scopes as Scope[];
}

function parseDuration(value: string): number {
  const m = /^(\d+)\s*(s|m|h|d)$/.exec(value.trim());
  if (!m) throw new UsageError(`--expires-in takes a number and a unit (s, m, h, d), e.g. 30d; got "${value}".`);
  const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

async function withDb(config: Config, fn: (db: Db) => Promise<number>): Promise<number> {
  const db = await openDb({ ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}), dataDir: config.dataDir, poolMax: 2 });
  try {
    if (config.migrateOnStart) await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // parseArgs rejects unknown or malformed options with a TypeError carrying an ERR_PARSE_ARGS_* code.
    const badOption = typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('ERR_PARSE_ARGS_');
    if (err instanceof ConfigError || err instanceof UsageError || badOption) {
      process.stderr.write(`flowpos-mcp: ${(err as Error).message}\n`);
      if (!(err instanceof ConfigError)) process.stderr.write(`Run \`flowpos-mcp --help\` for usage.\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`flowpos-mcp: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
