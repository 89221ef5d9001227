import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startJwksServer, type JwksFixture } from '../helpers/jwks.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { metricSum } from '../helpers/metrics.js';
import { postJson } from '../helpers/oauth.js';

/**
 * Dynamic Client Registration and /authorize are anonymous by design (that is how MCP clients meet a server and
 * people start signing in), and both store something, so each address gets OAUTH_REGISTRATIONS_PER_HOUR
 * registrations and OAUTH_AUTHORIZE_PER_MINUTE authorization requests, counted in Redis across instances.
 */
describe('client registration and authorization rate limits, two instances', () => {
  let it: Instances;
  let jwks: JwksFixture;
  before(async () => {
    jwks = await startJwksServer({ projectId: 'flowpos-test' });
    it = await startInstances({
      count: 2,
      env: {
        PUBLIC_URL: 'http://localhost:4000',
        FIREBASE_PROJECT_ID: jwks.projectId,
        FIREBASE_JWKS_URL: jwks.url,
        FIREBASE_API_KEY: 'web-api-key',
        MCP_TOKEN_SECRET: 'registration-limit-secret-registration-limit',
        OAUTH_REGISTRATIONS_PER_HOUR: '3',
        OAUTH_AUTHORIZE_PER_MINUTE: '4',
      },
    });
  });
  after(async () => {
    await it?.stop();
    await jwks?.stop();
  });

  test('the fourth registration from one address within the hour is refused with 429 and Retry-After, on either instance; nothing is stored', async () => {
    const register = (i: number) => postJson(`${it.urls[i % 2]}/register`, { client_name: `c${i}`, redirect_uris: ['http://127.0.0.1:9999/cb'] });
    for (let i = 0; i < 3; i++) assert.equal((await register(i)).status, 201, `registration ${i + 1}`);
    const before = await it.servers[0]!.db.query('SELECT count(*)::int AS n FROM oauth_clients');
    for (const i of [3, 4]) {
      const refused = await register(i);
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error, 'invalid_request');
      assert.match(refused.body.error_description, /Too many client registrations from this address; retry in \d+ s/);
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
    }
    const after = await it.servers[0]!.db.query('SELECT count(*)::int AS n FROM oauth_clients');
    assert.deepEqual(after.rows, before.rows);
    assert.equal(await metricSum(it.urls, 'flowpos_oauth_events_total', { event: 'client_registered' }), 3);
    assert.equal(await metricSum(it.urls, 'flowpos_oauth_events_total', { event: 'registration_limited' }), 2);
  });

  test('the fifth /authorize from one address within the minute gets a 429 page with Retry-After, on either instance; nothing is stored for it', async () => {
    // Counted in its own bucket: the registrations above do not use up this limit.
    const authorize = (i: number) => fetch(`${it.urls[i % 2]}/authorize?response_type=code&client_id=fpc_nobody_registered_here`, { redirect: 'manual' });
    for (let i = 0; i < 4; i++) assert.equal((await authorize(i)).status, 400, `attempt ${i + 1} reaches the authorization server (unknown client page)`);
    const refused = await authorize(4);
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.match(await refused.text(), /Too many sign-in attempts from this address; try again in \d+ s/);
  });
});
