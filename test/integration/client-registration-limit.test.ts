import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startJwksServer, type JwksFixture } from '../helpers/jwks.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { metricSum } from '../helpers/metrics.js';
import { postJson } from '../helpers/oauth.js';

/**
 * Dynamic Client Registration is anonymous by design (that is how MCP clients meet a server), so each address may
 * register only OAUTH_REGISTRATIONS_PER_HOUR clients, counted in Redis across instances.
 */
describe('client registration rate limit, two instances', () => {
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
});
