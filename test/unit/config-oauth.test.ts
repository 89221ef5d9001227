import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, GOOGLE_SECURETOKEN_JWKS_URL, loadConfig } from '../../src/config.js';

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail('expected a ConfigError');
};

const SECRET = 's'.repeat(32);
const PRODUCTION = { NODE_ENV: 'production', REDIS_URL: 'redis://r:6379', DATABASE_URL: 'postgres://db/x', PUBLIC_URL: 'https://pos.example.com' };

test('OAuth is off by default: no project, no secret, Google\'s JWKS, a day-long token lifetime', () => {
  assert.deepEqual(loadConfig({}).oauth, { firebaseJwksUrl: GOOGLE_SECURETOKEN_JWKS_URL, tokenTtlSeconds: 86400 });
});

test('a Firebase project needs MCP_TOKEN_SECRET of at least 32 characters, and the error names the variable, not the value', () => {
  assert.match(problems({ FIREBASE_PROJECT_ID: 'my-project' }), /MCP_TOKEN_SECRET: required when FIREBASE_PROJECT_ID is set/);
  const short = problems({ FIREBASE_PROJECT_ID: 'my-project', MCP_TOKEN_SECRET: 'too-short-secret' });
  assert.match(short, /MCP_TOKEN_SECRET: at least 32 characters/);
  assert.doesNotMatch(short, /too-short-secret/);
  assert.match(problems({ MCP_TOKEN_SECRET: SECRET, MCP_TOKEN_SECRET_PREVIOUS: 'short' }), /MCP_TOKEN_SECRET_PREVIOUS: at least 32/);
  assert.match(problems({ MCP_TOKEN_SECRET_PREVIOUS: SECRET }), /MCP_TOKEN_SECRET_PREVIOUS: set MCP_TOKEN_SECRET too/);
  const ok = loadConfig({ FIREBASE_PROJECT_ID: 'my-project', MCP_TOKEN_SECRET: SECRET, MCP_TOKEN_SECRET_PREVIOUS: 'p'.repeat(40), MCP_TOKEN_TTL_SECONDS: '3600' }).oauth;
  assert.deepEqual(ok, { firebaseProjectId: 'my-project', firebaseJwksUrl: GOOGLE_SECURETOKEN_JWKS_URL, tokenSecret: SECRET, tokenSecretPrevious: 'p'.repeat(40), tokenTtlSeconds: 3600 });
});

test('the Auth Emulator is refused under NODE_ENV=production (it would accept unsigned tokens)', () => {
  const env = { ...PRODUCTION, FIREBASE_PROJECT_ID: 'demo-x', MCP_TOKEN_SECRET: SECRET, FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099' };
  assert.match(problems(env), /FIREBASE_AUTH_EMULATOR_HOST: must not be set when NODE_ENV=production/);
  assert.equal(loadConfig({ ...env, NODE_ENV: 'development' }).oauth.firebaseEmulatorHost, '127.0.0.1:9099');
  assert.equal(loadConfig({ ...PRODUCTION, FIREBASE_PROJECT_ID: 'p-1', MCP_TOKEN_SECRET: SECRET }).oauth.firebaseProjectId, 'p-1');
});

test('bad values name their variable', () => {
  assert.match(problems({ FIREBASE_PROJECT_ID: 'Not A Project' }), /FIREBASE_PROJECT_ID/);
  assert.match(problems({ FIREBASE_JWKS_URL: 'ftp://x' }), /FIREBASE_JWKS_URL/);
  assert.match(problems({ FIREBASE_AUTH_EMULATOR_HOST: 'localhost' }), /FIREBASE_AUTH_EMULATOR_HOST: host:port/);
  assert.match(problems({ MCP_TOKEN_TTL_SECONDS: '10' }), /MCP_TOKEN_TTL_SECONDS/);
});
