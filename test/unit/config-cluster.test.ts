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

test('REDIS_CLUSTER_NODES takes host:port seeds and URLs, with REDIS_PASSWORD and REDIS_TLS applied', () => {
  assert.deepEqual(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000, b:7001,[::1]:7002,c' }).redisClusterNodes, [
    'redis://a:7000',
    'redis://b:7001',
    'redis://[::1]:7002',
    'redis://c:6379',
  ]);
  const secured = loadConfig({ REDIS_CLUSTER_NODES: 'a:7000,rediss://b:7001', REDIS_PASSWORD: 'p@ss:w/rd', REDIS_TLS: 'true' });
  assert.deepEqual(secured.redisClusterNodes, ['rediss://:p%40ss%3Aw%2Frd@a:7000', 'rediss://:p%40ss%3Aw%2Frd@b:7001']);
  assert.equal(secured.redisUrl, undefined);
  const production = loadConfig({ REDIS_CLUSTER_NODES: 'redis://:x@a:7000', NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x' });
  assert.deepEqual(production.redisClusterNodes, ['redis://:x@a:7000'], 'a cluster satisfies production without REDIS_URL');
  assert.equal(loadConfig({}).redisClusterNodes, undefined);
});

test('REDIS_CLUSTER_NODES and REDIS_URL (or REDIS_HOST/REDIS_PORT) are mutually exclusive; the error names both', () => {
  assert.match(problems({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_URL: 'redis://x:6379' }), /REDIS_CLUSTER_NODES and REDIS_URL/);
  assert.match(problems({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_HOST: 'x' }), /REDIS_CLUSTER_NODES and REDIS_HOST/);
  assert.match(problems({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_PORT: '6380' }), /REDIS_CLUSTER_NODES and REDIS_PORT/);
});

test('bad REDIS_CLUSTER_NODES entries are named by position, never echoed', () => {
  const message = problems({
    REDIS_CLUSTER_NODES: 'http://a:7000,a:notaport,redis://:s3cret@a:1/3,redis://:s3cret@b:2',
  });
  assert.match(message, /entry 1/);
  assert.match(message, /entry 2/);
  assert.match(message, /entry 3.*database 0/);
  assert.doesNotMatch(message, /s3cret|notaport/);
  assert.match(problems({ REDIS_CLUSTER_NODES: 'redis://a:7000', REDIS_TLS: 'true' }), /entry 1 says redis:\/\/ but REDIS_TLS/);
  assert.match(problems({ REDIS_CLUSTER_NODES: 'redis://:x@a:7000,b:7001' }), /same scheme .* and credentials/);
  assert.match(problems({ REDIS_CLUSTER_NODES: 'redis://:x@a:7000', REDIS_PASSWORD: 'y' }), /other than REDIS_PASSWORD/);
});
