import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redirectUriProblem, validateClientMetadata } from '../../src/auth/client-metadata.js';
import { OAuthEndpointError } from '../../src/errors.js';

function refusal(input: unknown): OAuthEndpointError {
  try {
    validateClientMetadata(input);
  } catch (err) {
    assert.ok(err instanceof OAuthEndpointError, `an OAuthEndpointError, not ${String(err)}`);
    return err;
  }
  assert.fail(`accepted ${JSON.stringify(input)}`);
}

function assertRefused(input: unknown, code: string, message: string): void {
  const err = refusal(input);
  assert.equal(err.code, code, JSON.stringify(input));
  assert.equal(err.message, message, JSON.stringify(input));
  assert.equal(err.status, 400);
  assert.equal(err.error, code);
}

const ok = { redirect_uris: ['https://app.example.com/callback'] };

describe('validateClientMetadata: accepted', () => {
  it('applies the defaults to the minimal metadata', () => {
    assert.deepEqual(validateClientMetadata(ok), {
      redirectUris: ['https://app.example.com/callback'],
      grantTypes: ['authorization_code', 'refresh_token'],
      responseTypes: ['code'],
    });
  });

  it('keeps every field it knows, exact redirect strings, and ignores unknown fields (RFC 7591 §2)', () => {
    const uris = [
      'https://claude.ai/api/mcp/auth_callback',
      'http://127.0.0.1:33418/',
      'http://localhost:6274/oauth/callback',
      'http://[::1]:8080/cb?x=1',
      'com.example.app:/oauth2redirect',
      // Cursor's, a private-use scheme without a dot: what MCP clients really register.
      'cursor://anysphere.cursor-mcp/oauth/callback',
      'https://EXAMPLE.com:443/Path/../x',
    ];
    const result = validateClientMetadata({
      redirect_uris: uris,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'pos:read  pos:write pos:read',
      client_name: 'MCP Inspector',
      client_uri: 'https://github.com/modelcontextprotocol/inspector',
      logo_uri: 'https://example.com/logo.png',
      software_id: 'inspector',
      software_version: '0.17.0',
      contacts: ['ops@example.com'],
      tos_uri: 'ftp://whatever',
      jwks: { keys: [] },
    });
    assert.deepEqual(result, {
      redirectUris: uris,
      grantTypes: ['authorization_code'],
      responseTypes: ['code'],
      clientName: 'MCP Inspector',
      clientUri: 'https://github.com/modelcontextprotocol/inspector',
      logoUri: 'https://example.com/logo.png',
      scope: 'pos:read pos:write',
      softwareId: 'inspector',
      softwareVersion: '0.17.0',
    });
  });

  it('treats null as absent and removes duplicate redirect URIs', () => {
    const result = validateClientMetadata({
      redirect_uris: ['https://a.example/cb', 'https://a.example/cb'],
      client_name: null,
      client_uri: null,
      scope: null,
      grant_types: null,
      token_endpoint_auth_method: null,
    });
    assert.deepEqual(result.redirectUris, ['https://a.example/cb']);
    assert.equal(result.clientName, undefined);
    assert.deepEqual(result.grantTypes, ['authorization_code', 'refresh_token']);
  });

  it('accepts ten redirect URIs and a 200-character client_name', () => {
    const uris = Array.from({ length: 10 }, (_, i) => `https://app.example.com/cb${i}`);
    assert.equal(validateClientMetadata({ redirect_uris: uris, client_name: 'n'.repeat(200) }).redirectUris.length, 10);
  });
});

describe('validateClientMetadata: refused', () => {
  it('refuses what is not an object', () => {
    for (const input of [null, 'x', 42, [ok]]) {
      assertRefused(input, 'invalid_client_metadata', 'The client metadata must be a JSON object.');
    }
  });

  it('refuses missing or malformed redirect_uris with invalid_redirect_uri', () => {
    const shape = 'an array of 1 to 10 redirect URI strings';
    assertRefused({}, 'invalid_redirect_uri', `redirect_uris is required: ${shape}.`);
    assertRefused({ redirect_uris: null }, 'invalid_redirect_uri', `redirect_uris is required: ${shape}.`);
    assertRefused({ redirect_uris: [] }, 'invalid_redirect_uri', `redirect_uris must be ${shape}.`);
    assertRefused({ redirect_uris: 'https://a.example/cb' }, 'invalid_redirect_uri', `redirect_uris must be ${shape}.`);
    assertRefused({ redirect_uris: [42] }, 'invalid_redirect_uri', `redirect_uris must be ${shape}.`);
    const eleven = Array.from({ length: 11 }, (_, i) => `https://app.example.com/cb${i}`);
    assertRefused({ redirect_uris: eleven }, 'invalid_redirect_uri', `redirect_uris must be ${shape}.`);
  });

  it('refuses each bad redirect URI, naming it', () => {
    const cases: [string, string][] = [
      ['', 'redirect URI "" is empty.'],
      ['/callback', 'redirect URI "/callback" is not an absolute URL.'],
      ['https://app.example.com/cb#frag', 'redirect URI "https://app.example.com/cb#frag" must not contain a fragment (#).'],
      ['https://app.example.com/cb#', 'redirect URI "https://app.example.com/cb#" must not contain a fragment (#).'],
      [
        'http://app.example.com/cb',
        'redirect URI "http://app.example.com/cb" uses http on a host that is not loopback: use https, or http on 127.0.0.1, [::1] or localhost (RFC 8252).',
      ],
      [
        'http://localhost.evil.example/cb',
        'redirect URI "http://localhost.evil.example/cb" uses http on a host that is not loopback: use https, or http on 127.0.0.1, [::1] or localhost (RFC 8252).',
      ],
      [
        'http://127.0.0.2/cb',
        'redirect URI "http://127.0.0.2/cb" uses http on a host that is not loopback: use https, or http on 127.0.0.1, [::1] or localhost (RFC 8252).',
      ],
      ['https://user:pw@app.example.com/cb', 'redirect URI "https://user:pw@app.example.com/cb" must not contain credentials (user:password@).'],
      ['https:/app.example.com/cb', 'redirect URI "https:/app.example.com/cb" has no host.'],
      ['javascript:alert(1)', 'redirect URI "javascript:alert(1)" uses the scheme "javascript:", which is not allowed for redirects.'],
      ['data:text/html,hi', 'redirect URI "data:text/html,hi" uses the scheme "data:", which is not allowed for redirects.'],
      ['file:///etc/passwd', 'redirect URI "file:///etc/passwd" uses the scheme "file:", which is not allowed for redirects.'],
      ['view-source:https://app.example.com/', 'redirect URI "view-source:https://app.example.com/" uses the scheme "view-source:", which is not allowed for redirects.'],
      ['https://app.example.com/a b', 'redirect URI "https://app.example.com/a b" contains whitespace or control characters.'],
      ['https://app.example.com/\n', 'redirect URI "https://app.example.com/\\n" contains whitespace or control characters.'],
    ];
    for (const [uri, message] of cases) {
      assertRefused({ redirect_uris: ['https://good.example/cb', uri] }, 'invalid_redirect_uri', message);
    }
    const long = `https://app.example.com/${'a'.repeat(2000)}`;
    assertRefused(
      { redirect_uris: [long] },
      'invalid_redirect_uri',
      `redirect URI ${JSON.stringify(`${long.slice(0, 60)}…`)} is longer than 2000 characters.`,
    );
    assert.equal(redirectUriProblem('https://app.example.com/cb'), null);
  });

  it('refuses confidential clients, saying only public clients register', () => {
    for (const method of ['client_secret_basic', 'client_secret_post', 'private_key_jwt']) {
      assertRefused(
        { ...ok, token_endpoint_auth_method: method },
        'invalid_client_metadata',
        `token_endpoint_auth_method "${method}" is not supported: only public clients (token_endpoint_auth_method "none", no client secret) ` +
          'can register here; PKCE protects the authorization code instead.',
      );
    }
    assertRefused({ ...ok, token_endpoint_auth_method: 3 }, 'invalid_client_metadata', 'token_endpoint_auth_method must be the string "none".');
  });

  it('refuses grant types, response types and scopes this server does not offer', () => {
    const grantShape = 'an array of strings, each one of "authorization_code", "refresh_token"';
    assertRefused(
      { ...ok, grant_types: ['authorization_code', 'client_credentials'] },
      'invalid_client_metadata',
      `grant_types: "client_credentials" is not supported; grant_types must be ${grantShape}.`,
    );
    assertRefused({ ...ok, grant_types: 'authorization_code' }, 'invalid_client_metadata', `grant_types must be ${grantShape}.`);
    assertRefused(
      { ...ok, grant_types: ['refresh_token'] },
      'invalid_client_metadata',
      'grant_types must include "authorization_code": it is the only way this server issues tokens to a client.',
    );
    assertRefused(
      { ...ok, response_types: ['code', 'token'] },
      'invalid_client_metadata',
      'response_types: "token" is not supported; response_types must be ["code"].',
    );
    assertRefused({ ...ok, response_types: [] }, 'invalid_client_metadata', 'response_types: an empty list is not supported; response_types must be ["code"].');
    assertRefused(
      { ...ok, scope: 'pos:read pos:admin' },
      'invalid_client_metadata',
      'scope: "pos:admin" is not offered here; scope must be a subset of "pos:read pos:write".',
    );
    assertRefused({ ...ok, scope: ['pos:read'] }, 'invalid_client_metadata', 'scope must be a string of space-separated scopes (pos:read, pos:write).');
  });

  it('refuses a bad client_name, client_uri or logo_uri, naming the field', () => {
    assertRefused({ ...ok, client_name: '' }, 'invalid_client_metadata', 'client_name must be a string of 1 to 200 characters.');
    assertRefused({ ...ok, client_name: 'n'.repeat(201) }, 'invalid_client_metadata', 'client_name must be a string of 1 to 200 characters.');
    assertRefused({ ...ok, client_name: 'a\u0000b' }, 'invalid_client_metadata', 'client_name must not contain control characters.');
    assertRefused({ ...ok, client_uri: 'http://app.example.com' }, 'invalid_client_metadata', 'client_uri "http://app.example.com" must use https.');
    assertRefused(
      { ...ok, logo_uri: 'logo.png' },
      'invalid_client_metadata',
      'logo_uri "logo.png" is not an absolute URL; it must be an https URL of at most 2000 characters.',
    );
    assertRefused({ ...ok, logo_uri: 'javascript:alert(1)' }, 'invalid_client_metadata', 'logo_uri "javascript:alert(1)" must use https.');
    assertRefused({ ...ok, software_id: 'x'.repeat(201) }, 'invalid_client_metadata', 'software_id must be a string of at most 200 characters.');
  });
});
