import assert from 'node:assert/strict';
import { OAuthEndpointError } from '../../src/errors.js';

/** Raw calls to the OAuth endpoints, for checks of exact statuses, headers and RFC 6749 error bodies. */
export interface OAuthResponse {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

async function read(res: Response): Promise<OAuthResponse> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body };
}

/** POSTs form-encoded parameters; an array value sends the name once per element. */
export async function postForm(url: string, params: Record<string, string | string[]>, headers: Record<string, string> = {}): Promise<OAuthResponse> {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) for (const v of Array.isArray(value) ? value : [value]) form.append(name, v);
  return read(await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: form.toString() }));
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<OAuthResponse> {
  return read(await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) }));
}

/** RFC 8693 exchange of a Firebase ID token at `<base>/mcp/token`; extra parameters are added or override. */
export function exchangeForm(base: string, idToken: string, extra: Record<string, string | string[]> = {}): Promise<OAuthResponse> {
  return postForm(`${base}/mcp/token`, { grant_type: TOKEN_EXCHANGE, subject_token: idToken, subject_token_type: ID_TOKEN_TYPE, ...extra });
}

/** The short form: `{"idToken"}` → `{"accessToken","expiresIn"}`; throws unless it worked. */
export async function exchangeSimple(base: string, idToken: string): Promise<string> {
  const res = await postJson(`${base}/mcp/token`, { idToken });
  if (res.status !== 200 || typeof res.body?.accessToken !== 'string') throw new Error(`token exchange failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.accessToken as string;
}

/** The OAuthEndpointError a call is refused with; fails the test when it is not refused, or refused otherwise. */
export async function refusal(promise: Promise<unknown>): Promise<OAuthEndpointError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof OAuthEndpointError, `an OAuthEndpointError, not ${String(err)}`);
    return err;
  }
  assert.fail('expected a refusal');
}
