import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { ROOT } from '../helpers/serve-process.js';
import { configEnvNames } from './env-names.js';

/**
 * deploy/compose.yaml and its balancer, read without Docker: three instances of the image behind a round-robin
 * nginx with no affinity, Redis and PostgreSQL with health checks, and only settings the server actually reads.
 */

const COMPOSE = join(ROOT, 'deploy/compose.yaml');

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  deploy?: { replicas?: number };
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test: string[] | string };
  ports?: string[];
  volumes?: string[];
  command?: string[];
  stop_grace_period?: string;
}

const compose = parse(readFileSync(COMPOSE, 'utf8')) as { services: Record<string, Service> };
const services = compose.services;

/** `${NAME:-default}` → default, as Compose resolves it when NAME is unset. */
const withDefaults = (value: string) => value.replace(/\$\{(\w+):?-([^}]*)\}/g, (_, _name: string, fallback: string) => fallback);

/** The services built from this repository's Dockerfile: the flowpos-mcp instances. */
const appServices = Object.entries(services).filter(([, s]) => s.build && resolve(dirname(COMPOSE), s.build.context) === resolve(ROOT));

const balancerEntry = Object.entries(services).find(([, s]) => s.image?.startsWith('nginx'));

describe('deploy/compose.yaml', () => {
  test('three flowpos-mcp instances, all built from the repository Dockerfile, reachable only through the balancer', () => {
    const instances = appServices.reduce((n, [, s]) => n + (s.deploy?.replicas ?? 1), 0);
    assert.equal(instances, 3, `three instances (${appServices.map(([name]) => name).join(', ')})`);
    for (const [name, s] of appServices) {
      assert.ok(existsSync(join(resolve(dirname(COMPOSE), s.build!.context), s.build!.dockerfile ?? 'Dockerfile')), `${name}: its Dockerfile exists`);
      assert.equal(s.ports, undefined, `${name} publishes no port: clients go through the balancer`);
      assert.ok(s.healthcheck, `${name} has a health check`);
      assert.match(JSON.stringify(s.healthcheck.test), /\/(ready|health)\b/);
      assert.ok(/^\d+s$/.test(s.stop_grace_period ?? '') && Number.parseInt(s.stop_grace_period!, 10) > Number(s.environment?.SHUTDOWN_GRACE_SECONDS ?? 8), `${name}: Docker waits longer than the shutdown grace period before SIGKILL`);
    }
  });

  test('the instances read only settings src/config.ts knows, in production mode, pointed at the compose Redis and PostgreSQL', () => {
    const names = configEnvNames();
    for (const [name, s] of appServices) {
      const env = s.environment ?? {};
      for (const key of Object.keys(env)) assert.ok(names.has(key), `${name}: ${key} is a setting src/config.ts reads`);
      assert.equal(env.NODE_ENV, 'production');
      assert.equal(env.HOST, '0.0.0.0', 'reachable from the balancer container');
      assert.equal(env.PORT, '4000');
      assert.ok(services[env.REDIS_HOST!], `REDIS_HOST names a compose service (${env.REDIS_HOST})`);
      const db = new URL(withDefaults(env.DATABASE_URL!));
      assert.ok(services[db.hostname], `DATABASE_URL's host names a compose service (${db.hostname})`);
      const postgres = services[db.hostname]!.environment!;
      assert.equal(db.username, postgres.POSTGRES_USER);
      assert.equal(decodeURIComponent(db.password), withDefaults(postgres.POSTGRES_PASSWORD!), 'the same default password on both sides');
      assert.equal(db.pathname, `/${postgres.POSTGRES_DB}`);
      const redis = services[env.REDIS_HOST!]!;
      assert.ok(redis.command?.map(withDefaults).includes(withDefaults(env.REDIS_PASSWORD!)), 'Redis requires the password the app sends');
      for (const dep of [env.REDIS_HOST!, db.hostname]) assert.equal(s.depends_on?.[dep]?.condition, 'service_healthy', `${name} waits for ${dep} to be healthy`);
      const publicUrl = new URL(withDefaults(env.PUBLIC_URL!));
      const published = balancerEntry![1].ports!.map((p) => p.split(':')[0]);
      assert.ok(published.includes(publicUrl.port), `PUBLIC_URL (${publicUrl.href}) is the balancer's published port`);
    }
  });

  test('Redis and PostgreSQL have health checks and keep their data in volumes', () => {
    for (const name of ['redis', 'postgres']) {
      const s = services[name];
      assert.ok(s, `a ${name} service`);
      assert.ok(s.healthcheck, `${name} has a health check`);
      assert.ok(s.volumes?.length, `${name} keeps its data in a volume`);
    }
    assert.ok(services.redis!.command?.includes('--appendonly'), 'Redis persists (sessions and carts survive its restart)');
  });
});

describe('deploy/nginx.conf', () => {
  const [balancerName, balancer] = balancerEntry ?? [];
  const mount = balancer?.volumes?.find((v) => v.endsWith(':/etc/nginx/nginx.conf:ro') || v.includes(':/etc/nginx/nginx.conf'));
  const confPath = mount ? resolve(dirname(COMPOSE), mount.split(':')[0]!) : '';
  const conf = confPath && existsSync(confPath) ? readFileSync(confPath, 'utf8').replace(/#.*$/gm, '') : '';

  test('is the balancer service\'s configuration', () => {
    assert.ok(balancer, 'a balancer service (nginx)');
    assert.ok(mount, `${balancerName} mounts an nginx.conf`);
    assert.ok(conf, `${confPath} exists`);
    assert.ok(balancer.depends_on?.app ?? Object.keys(balancer.depends_on ?? {}).some((d) => appServices.some(([n]) => n === d)), 'the balancer starts after the instances');
  });

  test('round robin over the instances with no affinity of any kind', () => {
    const upstream = /upstream\s+(\w+)\s*\{([^}]*)\}/.exec(conf);
    assert.ok(upstream, 'an upstream block');
    const [, upstreamName, body] = upstream;
    for (const directive of ['ip_hash', 'hash', 'sticky', 'least_conn', 'random', 'ntlm']) {
      assert.doesNotMatch(body!, new RegExp(`^\\s*${directive}\\b`, 'm'), `no ${directive}: nothing pins a client to an instance`);
    }
    assert.doesNotMatch(conf, /\bsticky\b|\bproxy_cookie_\w+|\bsrv_id\b/, 'no cookie-based stickiness anywhere');
    const servers = [...body!.matchAll(/^\s*server\s+([^\s;]+)/gm)].map((m) => m[1]!);
    const appNames = new Set(appServices.map(([n]) => n));
    assert.ok(servers.length > 0);
    for (const server of servers) {
      const [host, port] = server.split(':');
      assert.ok(appNames.has(host!), `upstream server ${server} is a flowpos-mcp service`);
      assert.equal(port, services[host!]!.environment!.PORT, `${server} uses the instances' PORT`);
    }
    assert.match(conf, new RegExp(`proxy_pass\\s+http://${upstreamName};`));
  });

  test('streams pass through: no buffering, long read timeout, HTTP/1.1 keep-alive to the instances', () => {
    assert.match(conf, /proxy_buffering\s+off;/);
    const timeout = /proxy_read_timeout\s+(\d+)s;/.exec(conf);
    assert.ok(timeout && Number(timeout[1]) >= 900, 'a quiet SSE stream is not cut before MCP_SSE_MAX_STREAM_SECONDS');
    assert.match(conf, /proxy_http_version\s+1\.1;/);
    assert.doesNotMatch(conf, /proxy_next_upstream\s[^;]*non_idempotent/, 'a POST that reached an instance is never sent again');
  });
});
