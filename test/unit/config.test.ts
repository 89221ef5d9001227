import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail('expected a ConfigError');
};

test('defaults give a working embedded development server on loopback', () => {
  const c = loadConfig({});
  assert.equal(c.port, 4000);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.publicUrl, 'http://localhost:4000');
  assert.equal(c.redisUrl, undefined);
  assert.equal(c.demoSeed, true);
  assert.equal(c.sessionIdleTtlMs, 3_600_000);
  assert.ok(c.allowedHosts?.includes('localhost'));
});

test('errors name the variable and what is wrong', () => {
  assert.match(problems({ PORT: 'eighty' }), /PORT/);
  assert.match(problems({ REDIS_URL: 'http://x' }), /REDIS_URL/);
  assert.match(problems({ MCP_SESSION_IDLE_TTL_SECONDS: '1' }), /MCP_SESSION_IDLE_TTL_SECONDS/);
  assert.match(problems({ NODE_ENV: 'staging' }), /NODE_ENV/);
  assert.match(problems({ REDIS_PORT: '6380' }), /REDIS_HOST: required/);
});

test('the per-instance caches: defaults, off switches, and errors naming the variable', () => {
  const c = loadConfig({});
  assert.deepEqual(c.sessionCache, { size: 2000, idleMs: 300_000 });
  assert.equal(c.catalogCacheMs, 5000);
  const off = loadConfig({ MCP_SESSION_CACHE_SIZE: '0', CATALOG_CACHE_SECONDS: '0', MCP_SESSION_CACHE_IDLE_SECONDS: '30' });
  assert.deepEqual(off.sessionCache, { size: 0, idleMs: 30_000 });
  assert.equal(off.catalogCacheMs, 0);
  assert.match(problems({ MCP_SESSION_CACHE_SIZE: '-1' }), /MCP_SESSION_CACHE_SIZE/);
  assert.match(problems({ MCP_SESSION_CACHE_IDLE_SECONDS: '0' }), /MCP_SESSION_CACHE_IDLE_SECONDS/);
  assert.match(problems({ CATALOG_CACHE_SECONDS: 'soon' }), /CATALOG_CACHE_SECONDS/);
});

test('production never falls back to memory or the embedded database', () => {
  const msg = problems({ NODE_ENV: 'production' });
  assert.match(msg, /REDIS_URL: required/);
  assert.match(msg, /DATABASE_URL: required/);
  assert.match(problems({ NODE_ENV: 'production', REDIS_URL: 'redis://r:6379', DATABASE_URL: 'postgres://db/x', DEMO_SEED: 'true' }), /DEMO_SEED/);
  const ok = loadConfig({ NODE_ENV: 'production', REDIS_URL: 'redis://r:6379', DATABASE_URL: 'postgres://db/x', PUBLIC_URL: 'https://pos.example.com' });
  assert.equal(ok.host, '0.0.0.0');
  assert.equal(ok.demoSeed, false);
  assert.deepEqual(ok.allowedHosts?.[0], 'pos.example.com');
});

test('REDIS_HOST/PORT/PASSWORD compose a URL, the password encoded', () => {
  const c = loadConfig({ REDIS_HOST: '10.0.0.3', REDIS_PORT: '6380', REDIS_PASSWORD: 'p@ss:word' });
  assert.equal(c.redisUrl, 'redis://:p%40ss%3Aword@10.0.0.3:6380');
});

test('a secret value is never echoed in an error', () => {
  assert.doesNotMatch(problems({ DATABASE_URL: 'mysql://user:hunter2@db/x' }), /hunter2/);
});
