import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { runVerify } from '../../src/cli/verify.js';
import { getUser } from '../../src/db/users-repo.js';
import { startAuthEmulator, type AuthEmulator } from '../helpers/firebase-emulator.js';
import { freePort } from '../../src/cluster/ports.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, LEGACY_VERSION, openSession, post, structured } from '../helpers/mcp-http.js';
import { exchangeForm, exchangeSimple } from '../helpers/oauth.js';

/**
 * Real ID tokens from the Firebase Auth Emulator (firebase-tools, offline, project demo-flowpos) exchanged by a
 * server configured with FIREBASE_AUTH_EMULATOR_HOST, then used at /mcp; and the deployment checklist run with such a
 * token (the CLI itself is run in verify-cli.test.ts).
 */
describe('Firebase Auth Emulator → token exchange → /mcp', () => {
  let emulator: AuthEmulator;
  let it: Instances;
  let base: string;
  before(async () => {
    const [port, emulatorPort] = [await freePort(), await freePort()];
    base = `http://localhost:${port}`;
    // The emulator is by far the slowest to start (it loads the whole firebase-tools CLI): the instance starts
    // meanwhile. The server only needs to know that an emulator is in use, and where, before the first token.
    const emulatorStarted = startAuthEmulator({ projectId: 'demo-flowpos', port: emulatorPort });
    emulatorStarted.catch(() => {});
    const instancesStarted = startInstances({
      count: 1,
      env: {
        PORT: String(port),
        PUBLIC_URL: base,
        FIREBASE_PROJECT_ID: 'demo-flowpos',
        FIREBASE_AUTH_EMULATOR_HOST: `127.0.0.1:${emulatorPort}`,
        MCP_TOKEN_SECRET: 'emulator-test-secret-emulator-test-secret',
      },
    });
    instancesStarted.catch(() => {});
    const [e, i] = await Promise.allSettled([emulatorStarted, instancesStarted]);
    if (e.status === 'fulfilled') emulator = e.value;
    if (i.status === 'fulfilled') it = i.value;
    if (e.status === 'rejected') throw e.reason;
    if (i.status === 'rejected') throw i.reason;
  });
  after(async () => {
    await it?.stop();
    await emulator?.stop();
  });

  test('an emulator ID token (alg none) is exchanged; the user is created with its email', async () => {
    const email = `emu-${Date.now()}@example.test`;
    const { uid, idToken } = await emulator.signUp(email);
    assert.equal(decodeProtectedHeader(idToken).alg, 'none', 'a real emulator token is unsigned');
    assert.equal(decodeJwt(idToken).aud, 'demo-flowpos');

    const res = await exchangeForm(base, idToken, { resource: `${base}/mcp` });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(decodeJwt(res.body.access_token).sub, uid);
    assert.equal((await getUser(it.servers[0]!.db, uid))?.email, email);

    const sid = await openSession(base, res.body.access_token);
    assert.deepEqual(structured(await callTool(base, res.body.access_token, sid, 'list_businesses')).businesses, [], 'a new user belongs to no business yet');
  });

  test('the emulator token itself is refused at /mcp, and a tampered one at the token endpoint', async () => {
    const { idToken } = await emulator.signUp();
    const direct = await post(base, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } }, baseHeaders(idToken));
    assert.equal(direct.status, 401);
    assert.match(direct.body.error.message, /exchange it at POST \/mcp\/token/);
    const [h, p] = idToken.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const foreign = `${h}.${Buffer.from(JSON.stringify({ ...claims, aud: 'demo-other', iss: 'https://securetoken.google.com/demo-other' })).toString('base64url')}.`;
    const refused = await exchangeForm(base, foreign);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_grant');
    assert.match(refused.body.error_description, /another Firebase project/);
    assert.equal(typeof (await exchangeSimple(base, idToken)), 'string');
  });

  test('the deployment checklist (flowpos-mcp verify) with an emulator ID token passes every check', async () => {
    const { idToken } = await emulator.signUp();
    const lines: string[] = [];
    const results = await runVerify({ url: base, idToken, redisUrl: it.redisUrl!, keyPrefix: it.redis!.keyPrefix, out: (l) => lines.push(l) });
    assert.deepEqual(
      results.map((r) => r.name),
      ['discovery', 'browser sign-in', 'token exchange', 'initialize', 'tool call', 'session in Redis', 'DELETE /mcp'],
    );
    assert.ok(results.every((r) => r.ok), lines.join('\n'));
  });
});
