import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientMetadataDocuments } from '../../src/auth/client-metadata-document.js';
import { DbClientRegistry } from '../../src/auth/client-registry.js';
import { findOAuthClient, generateClientId, insertOAuthClient } from '../../src/auth/oauth-clients-repo.js';
import type { Queryable } from '../../src/db/db.js';
import { pgErrorCode } from '../../src/db/errors.js';
import { forEachDbBackend } from '../helpers/db-backends.js';
import { refusal } from '../helpers/oauth.js';

describe('registered client ids', () => {
  it('are fpc_ + 22 base64url characters, random, and never URL-shaped', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const id = generateClientId();
      assert.match(id, /^fpc_[A-Za-z0-9_-]{22}$/);
      assert.ok(!id.includes(':'));
      seen.add(id);
    }
    assert.equal(seen.size, 500);
  });
});

forEachDbBackend(
  'oauth client registry',
  (ctx) => {
    const registry = () => new DbClientRegistry(ctx.db(), new ClientMetadataDocuments());

    it('registers a public client (RFC 7591 response) and resolves it on another instance', async () => {
      const before = Math.floor(Date.now() / 1000);
      const response = await registry().register({
        redirect_uris: ['http://127.0.0.1:6274/oauth/callback', 'https://vscode.dev/redirect'],
        client_name: 'MCP Inspector',
        client_uri: 'https://github.com/modelcontextprotocol/inspector',
        scope: 'pos:read',
        software_id: 'inspector',
        software_version: '0.17.0',
        token_endpoint_auth_method: 'none',
        unknown_field: 'ignored',
      });
      assert.match(response.client_id, /^fpc_[A-Za-z0-9_-]{22}$/);
      assert.ok(response.client_id_issued_at >= before - 5 && response.client_id_issued_at <= Math.ceil(Date.now() / 1000) + 5);
      assert.deepEqual(response, {
        client_id: response.client_id,
        client_id_issued_at: response.client_id_issued_at,
        client_name: 'MCP Inspector',
        client_uri: 'https://github.com/modelcontextprotocol/inspector',
        redirect_uris: ['http://127.0.0.1:6274/oauth/callback', 'https://vscode.dev/redirect'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        scope: 'pos:read',
        software_id: 'inspector',
        software_version: '0.17.0',
      });

      const sibling = await ctx.openSibling();
      const client = await new DbClientRegistry(sibling, new ClientMetadataDocuments()).resolve(response.client_id);
      assert.deepEqual(client, {
        clientId: response.client_id,
        clientName: 'MCP Inspector',
        clientUri: 'https://github.com/modelcontextprotocol/inspector',
        redirectUris: ['http://127.0.0.1:6274/oauth/callback', 'https://vscode.dev/redirect'],
        grantTypes: ['authorization_code', 'refresh_token'],
        scope: 'pos:read',
        kind: 'registered',
      });
    });

    it('omits what the client did not send, and gives each registration its own id', async () => {
      const a = await registry().register({ redirect_uris: ['https://a.example/cb'] });
      const b = await registry().register({ redirect_uris: ['https://a.example/cb'] });
      assert.notEqual(a.client_id, b.client_id);
      assert.deepEqual(Object.keys(a).sort(), [
        'client_id',
        'client_id_issued_at',
        'grant_types',
        'redirect_uris',
        'response_types',
        'token_endpoint_auth_method',
      ]);
      assert.deepEqual(await registry().resolve(a.client_id), {
        clientId: a.client_id,
        redirectUris: ['https://a.example/cb'],
        grantTypes: ['authorization_code', 'refresh_token'],
        kind: 'registered',
      });
    });

    it('refuses invalid metadata before storing anything', async () => {
      const { rows: before } = await ctx.db().query<{ n: number }>('SELECT count(*)::int AS n FROM oauth_clients');
      const err = await refusal(registry().register({ redirect_uris: ['http://app.example.com/cb'] }));
      assert.equal(err.code, 'invalid_redirect_uri');
      const err2 = await refusal(registry().register({ redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'client_secret_basic' }));
      assert.equal(err2.code, 'invalid_client_metadata');
      const { rows: after } = await ctx.db().query<{ n: number }>('SELECT count(*)::int AS n FROM oauth_clients');
      assert.equal(after[0]!.n, before[0]!.n);
    });

    it('refuses unknown client ids with invalid_client and says how to register', async () => {
      for (const id of [generateClientId(), 'fpc_short', 'some-client', 'x'.repeat(300)]) {
        const err = await refusal(registry().resolve(id));
        assert.equal(err.code, 'invalid_client');
        assert.equal(err.status, 401);
        const shown = id.length > 100 ? `${id.slice(0, 100)}…` : id;
        assert.equal(
          err.message,
          `client_id ${JSON.stringify(shown)} is not registered here: register with POST /register or use a client ID metadata document URL.`,
        );
      }
      const empty = await refusal(registry().resolve(''));
      assert.equal(empty.message, 'client_id is required: a registered client id or a client ID metadata document URL.');
    });

    it('hands URL client ids to the metadata documents (an http one is refused without a fetch)', async () => {
      const err = await refusal(registry().resolve('http://app.example.com/client.json'));
      assert.equal(err.code, 'invalid_client');
      assert.equal(err.message, 'http://app.example.com/client.json uses "http:": a client ID metadata document URL must use https.');
    });

    it('the table enforces its constraints', async () => {
      const db = ctx.db();
      const insert = (columns: string, values: unknown[]) =>
        db.query(`INSERT INTO oauth_clients (client_id, ${columns}) VALUES ($1, ${values.map((_, i) => `$${i + 2}`).join(', ')})`, [
          generateClientId(),
          ...values,
        ]);
      const violations: [string, unknown[]][] = [
        ['redirect_uris', [[]]],
        ['redirect_uris', [Array.from({ length: 11 }, () => 'https://a.example/cb')]],
        ['redirect_uris', [['https://a.example/cb', null]]],
        ['redirect_uris, grant_types', [['https://a.example/cb'], ['client_credentials']]],
        ['redirect_uris, response_types', [['https://a.example/cb'], ['token']]],
        ['redirect_uris, client_name', [['https://a.example/cb'], 'n'.repeat(201)]],
        ['redirect_uris, client_name', [['https://a.example/cb'], '']],
        ['redirect_uris, logo_uri', [['https://a.example/cb'], `https://a.example/${'x'.repeat(2000)}`]],
      ];
      for (const [columns, values] of violations) {
        await assert.rejects(insert(columns, values), (err: unknown) => pgErrorCode(err) === '23514', `${columns} ${JSON.stringify(values).slice(0, 80)}`);
      }
      await assert.rejects(
        db.query('INSERT INTO oauth_clients (client_id, redirect_uris) VALUES ($1, $2)', ['https://a.example/client.json', ['https://a.example/cb']]),
        (err: unknown) => pgErrorCode(err) === '23514',
        'a URL-shaped client_id',
      );
      await assert.rejects(
        db.query('INSERT INTO oauth_clients (client_id) VALUES ($1)', [generateClientId()]),
        (err: unknown) => pgErrorCode(err) === '23502',
        'redirect_uris is required',
      );
      const stored = await insertOAuthClient(db, {
        redirectUris: ['https://a.example/cb'],
        grantTypes: ['authorization_code'],
        responseTypes: ['code'],
      });
      assert.deepEqual((await findOAuthClient(db, stored.clientId))?.grantTypes, ['authorization_code']);
    });
  },
  { seed: false },
);

describe('oauth client registry during a database outage', () => {
  it('answers temporarily_unavailable (503, Retry-After) when PostgreSQL is unreachable', async () => {
    const down: Queryable = {
      query: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })),
    };
    const registry = new DbClientRegistry(down, new ClientMetadataDocuments());
    for (const attempt of [registry.resolve(generateClientId()), registry.register({ redirect_uris: ['https://a.example/cb'] })]) {
      const err = await refusal(attempt);
      assert.equal(err.code, 'temporarily_unavailable');
      assert.equal(err.status, 503);
      assert.equal(err.headers['retry-after'], '2');
      assert.equal(err.message, 'Service Unavailable: the database (PostgreSQL) is unreachable; retry shortly.');
    }
    const bug: Queryable = { query: () => Promise.reject(new Error('syntax error')) };
    await assert.rejects(new DbClientRegistry(bug, new ClientMetadataDocuments()).resolve(generateClientId()), /syntax error/);
  });
});
