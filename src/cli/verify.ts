import { parseArgs } from 'node:util';

/**
 * `flowpos-mcp verify`: the deployment checklist, run against any running server from outside, the way a client
 * sees it. Each check prints one ✓/✗ line; the exit code is 0 only when every check passed, so a deploy script can
 * gate on it.
 */

export const VERIFY_USAGE = `Usage: flowpos-mcp verify --url <base URL> (--id-token <Firebase ID token> | --api-key <key>)
                          [--redis-url <redis://…>] [--key-prefix mcp:] [--timeout-seconds 10]

Runs the deployment checklist against a running server: discovery documents reachable and consistent, token
exchange (with --id-token), initialize → Mcp-Session-Id, a tool call, and an authenticated DELETE. With --redis-url
it also checks that the session's Redis key exists with a TTL no longer than the credential's lifetime.`;

const LEGACY_VERSION = '2025-11-25';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

export interface VerifyOptions {
  /** The server's public base URL (PUBLIC_URL); the MCP endpoint is `<url>/mcp`. */
  url: string;
  idToken?: string;
  apiKey?: string;
  redisUrl?: string;
  keyPrefix?: string;
  timeoutMs?: number;
  /** Where the ✓/✗ lines go. */
  out?: (line: string) => void;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

class CheckFailed extends Error {}

/** Runs every check that can run (later checks that need an earlier one's result are reported as skipped failures). */
export async function runVerify(opts: VerifyOptions): Promise<CheckResult[]> {
  const base = opts.url.replace(/\/+$/, '');
  const mcpUrl = `${base}/mcp`;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const results: CheckResult[] = [];
  const check = async <T>(name: string, run: () => Promise<{ value: T; detail: string }>): Promise<T | undefined> => {
    try {
      const { value, detail } = await run();
      results.push({ name, ok: true, detail });
      out(`✓ ${name}: ${detail}`);
      return value;
    } catch (err) {
      const detail = err instanceof CheckFailed ? err.message : `${err instanceof Error ? err.message : String(err)}`;
      results.push({ name, ok: false, detail });
      out(`✗ ${name}: ${detail}`);
      return undefined;
    }
  };
  const skipped = (name: string, because: string) => {
    results.push({ name, ok: false, detail: `not run: ${because}` });
    out(`✗ ${name}: not run: ${because}`);
  };
  const request = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = sseData(text);
    }
    return { res, body: body as Record<string, any> | undefined, text }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const fail = (message: string): never => {
    throw new CheckFailed(message);
  };

  // 1. Discovery: the resource metadata names exactly this MCP URL and an issuer whose metadata can be fetched.
  const discovery = await check('discovery', async () => {
    const pathForm = await request(`${base}/.well-known/oauth-protected-resource/mcp`);
    if (pathForm.res.status !== 200) fail(`GET /.well-known/oauth-protected-resource/mcp → ${pathForm.res.status}`);
    const prm = pathForm.body ?? {};
    if (prm.resource !== mcpUrl) fail(`resource is "${String(prm.resource)}", expected "${mcpUrl}" (is PUBLIC_URL set to ${base}?)`);
    const rootForm = await request(`${base}/.well-known/oauth-protected-resource`);
    if (rootForm.res.status !== 200 || rootForm.body?.resource !== mcpUrl) fail('the root form /.well-known/oauth-protected-resource differs from the path form');
    const issuer = Array.isArray(prm.authorization_servers) ? String(prm.authorization_servers[0]) : fail('authorization_servers is missing');
    const as = await request(`${issuer.replace(/\/+$/, '')}/.well-known/oauth-authorization-server`);
    if (as.res.status !== 200) fail(`GET ${issuer}/.well-known/oauth-authorization-server → ${as.res.status}`);
    const meta = as.body ?? {};
    if (meta.issuer !== issuer) fail(`authorization server issuer "${String(meta.issuer)}" differs from "${issuer}"`);
    if (!Array.isArray(meta.grant_types_supported) || !meta.grant_types_supported.includes(TOKEN_EXCHANGE)) fail('grant_types_supported lacks token exchange');
    if (typeof meta.token_endpoint !== 'string' || typeof meta.revocation_endpoint !== 'string') fail('token_endpoint or revocation_endpoint is missing');
    const challenge = await request(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    const www = challenge.res.headers.get('www-authenticate') ?? '';
    if (challenge.res.status !== 401 || !www.includes(`resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`)) {
      fail(`an unauthenticated POST /mcp should be 401 with resource_metadata; got ${challenge.res.status} "${www}"`);
    }
    return { value: { tokenEndpoint: meta.token_endpoint as string, meta }, detail: `resource ${mcpUrl}, issuer ${issuer}, 401 challenge names the metadata` };
  });

  // 1b. The browser sign-in, when advertised: what MCP clients require of the metadata, the endpoint answering (an
  // unknown client gets its error page: nothing is registered by this check), and the Firebase Web SDK served.
  if (discovery?.meta.authorization_endpoint !== undefined) {
    const meta = discovery.meta;
    await check('browser sign-in', async () => {
      const endpoint = String(meta.authorization_endpoint);
      if (!Array.isArray(meta.code_challenge_methods_supported) || !meta.code_challenge_methods_supported.includes('S256')) fail('code_challenge_methods_supported lacks S256');
      if (!Array.isArray(meta.grant_types_supported) || !meta.grant_types_supported.includes('authorization_code') || !meta.grant_types_supported.includes('refresh_token')) {
        fail('grant_types_supported lacks authorization_code or refresh_token');
      }
      if (typeof meta.registration_endpoint !== 'string') fail('registration_endpoint is missing (clients without a metadata document cannot register)');
      if (meta.authorization_response_iss_parameter_supported !== true) fail('authorization_response_iss_parameter_supported is not true');
      const page = await request(`${endpoint}?response_type=code&client_id=fpc_flowpos-verify-unknown`);
      if (page.res.status !== 400 || !page.text.includes('is not registered here')) fail(`GET ${endpoint} with an unknown client → ${page.res.status}, expected its 400 error page`);
      const sdk = await fetch(`${new URL(endpoint).origin}/authorize/assets/firebase-auth.js`, { signal: AbortSignal.timeout(timeoutMs) });
      await sdk.arrayBuffer();
      if (sdk.status !== 200) fail(`the sign-in page's Firebase SDK → ${sdk.status}`);
      return { value: true, detail: `${endpoint} answers, PKCE S256, refresh tokens, registration ${String(meta.registration_endpoint)}${meta.client_id_metadata_document_supported === true ? ', client ID metadata documents' : ''}` };
    });
  }

  // 2. A credential: the API key as given, or an access token from the exchange.
  let credential = opts.apiKey;
  let lifetimeSeconds: number | undefined;
  if (opts.idToken !== undefined) {
    const tokenEndpoint = discovery?.tokenEndpoint ?? `${base}/mcp/token`;
    const exchanged = await check('token exchange', async () => {
      const { res, body } = await request(tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ idToken: opts.idToken }) });
      if (res.status !== 200) fail(`POST ${tokenEndpoint} → ${res.status} ${body?.error ?? ''}: ${body?.error_description ?? ''}`);
      if (typeof body?.accessToken !== 'string' || typeof body?.expiresIn !== 'number') fail('the answer lacks accessToken or expiresIn');
      return { value: { token: body!.accessToken as string, expiresIn: body!.expiresIn as number }, detail: `accessToken issued, expiresIn ${body!.expiresIn} s` };
    });
    credential = exchanged?.token;
    lifetimeSeconds = exchanged?.expiresIn;
  }
  const headers = (extra: Record<string, string> = {}) => ({
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(credential ? { authorization: `Bearer ${credential}` } : {}),
    ...extra,
  });

  // 3. A 2025-era session, a tool call in it, its Redis key, then DELETE.
  const sessionId = credential
    ? await check('initialize', async () => {
        const { res, body } = await request(mcpUrl, {
          method: 'POST',
          headers: headers(),
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'flowpos-mcp-verify', version: '1' } } }),
        });
        const sid = res.headers.get('mcp-session-id');
        if (res.status !== 200 || !body?.result) fail(`POST /mcp initialize → ${res.status} ${JSON.stringify(body?.error ?? body ?? '').slice(0, 200)}`);
        if (!sid) fail('no Mcp-Session-Id header in the answer');
        const ack = await request(mcpUrl, { method: 'POST', headers: headers({ 'mcp-session-id': sid!, 'mcp-protocol-version': LEGACY_VERSION }), body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
        if (ack.res.status !== 202) fail(`notifications/initialized → ${ack.res.status}`);
        return { value: sid!, detail: `Mcp-Session-Id ${sid!.slice(0, 8)}…, protocol ${String(body!.result.protocolVersion)}` };
      })
    : (skipped('initialize', 'no credential'), undefined);

  if (sessionId) {
    await check('tool call', async () => {
      const { res, body } = await request(mcpUrl, {
        method: 'POST',
        headers: headers({ 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION }),
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_businesses', arguments: {} } }),
      });
      if (res.status !== 200 || !body?.result) fail(`tools/call list_businesses → ${res.status} ${JSON.stringify(body?.error ?? '').slice(0, 200)}`);
      if (body!.result.isError) fail(`the tool answered an error: ${JSON.stringify(body!.result.content).slice(0, 200)}`);
      const n = Array.isArray(body!.result.structuredContent?.businesses) ? body!.result.structuredContent.businesses.length : '?';
      return { value: true, detail: `list_businesses answered (${n} business(es))` };
    });
    if (opts.redisUrl) {
      await check('session in Redis', async () => {
        const key = `${opts.keyPrefix ?? 'mcp:'}session:${sessionId}`;
        const ttlMs = await redisPttl(opts.redisUrl!, key, timeoutMs);
        if (ttlMs === -2) fail(`${key} does not exist`);
        if (ttlMs === -1) fail(`${key} has no TTL`);
        if (lifetimeSeconds !== undefined && ttlMs > lifetimeSeconds * 1000) fail(`${key} TTL ${Math.round(ttlMs / 1000)} s exceeds the token's ${lifetimeSeconds} s`);
        return { value: true, detail: `${key} TTL ${Math.round(ttlMs / 1000)} s${lifetimeSeconds !== undefined ? ` ≤ token lifetime ${lifetimeSeconds} s` : ''}` };
      });
    }
    await check('DELETE /mcp', async () => {
      const { res } = await request(mcpUrl, { method: 'DELETE', headers: headers({ 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION }) });
      if (res.status !== 204 && res.status !== 200) fail(`DELETE /mcp → ${res.status}`);
      if (opts.redisUrl) {
        const key = `${opts.keyPrefix ?? 'mcp:'}session:${sessionId}`;
        if ((await redisPttl(opts.redisUrl, key, timeoutMs)) !== -2) fail(`${key} still exists after DELETE`);
      }
      return { value: true, detail: `${res.status}, session ended` };
    });
  } else if (credential) {
    skipped('tool call', 'no session');
    skipped('DELETE /mcp', 'no session');
  }
  return results;
}

/** The CLI entry: parses argv, prints the checklist, returns the exit code (0 all passed, 1 a check failed, 2 usage). */
export async function verifyCommand(argv: string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      'id-token': { type: 'string' },
      'api-key': { type: 'string' },
      'redis-url': { type: 'string' },
      'key-prefix': { type: 'string' },
      'timeout-seconds': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    out(VERIFY_USAGE);
    return 0;
  }
  const usage = (problem: string) => {
    process.stderr.write(`flowpos-mcp verify: ${problem}\n${VERIFY_USAGE}\n`);
    return 2;
  };
  if (!values.url || !/^https?:\/\/[^/]/.test(values.url)) return usage('--url <base URL> (http:// or https://) is required.');
  if ((values['id-token'] === undefined) === (values['api-key'] === undefined)) return usage('give exactly one of --id-token and --api-key.');
  const timeout = values['timeout-seconds'] === undefined ? 10 : Number(values['timeout-seconds']);
  if (!Number.isFinite(timeout) || timeout <= 0) return usage('--timeout-seconds must be a positive number.');
  const results = await runVerify({
    url: values.url,
    ...(values['id-token'] !== undefined ? { idToken: values['id-token'] } : {}),
    ...(values['api-key'] !== undefined ? { apiKey: values['api-key'] } : {}),
    ...(values['redis-url'] !== undefined ? { redisUrl: values['redis-url'] } : {}),
    ...(values['key-prefix'] !== undefined ? { keyPrefix: values['key-prefix'] } : {}),
    timeoutMs: timeout * 1000,
    out,
  });
  const failed = results.filter((r) => !r.ok).length;
  out(failed === 0 ? `All ${results.length} checks passed.` : `${failed} of ${results.length} checks failed.`);
  return failed === 0 ? 0 : 1;
}

/** PTTL of one key (-2 missing, -1 no TTL), on a connection opened and closed for it. */
async function redisPttl(url: string, key: string, timeoutMs: number): Promise<number> {
  const { createClient } = await import('redis');
  const client = createClient({ url, socket: { connectTimeout: timeoutMs, reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.pTTL(key);
  } finally {
    await client.close().catch(() => {});
  }
}

/** The last `data:` payload of an SSE body, parsed (servers may answer a POST with a stream). */
function sseData(text: string): unknown {
  const lines = text.split('\n').filter((l) => l.startsWith('data: ') && l.length > 6);
  const last = lines[lines.length - 1];
  if (!last) return undefined;
  try {
    return JSON.parse(last.slice(6));
  } catch {
    return undefined;
  }
}
