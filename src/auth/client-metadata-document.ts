import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { OAuthEndpointError } from '../errors.js';
import { validateClientMetadata } from './client-metadata.js';
import type { OAuthClient } from './oauth-client.js';

/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25 "Client ID Metadata
 * Documents"): a client_id that is an https URL names a JSON document of RFC 7591 metadata, fetched here.
 *
 * The fetch is the server reaching out to an address an anonymous caller chose, so it is guarded against SSRF:
 * https only; the address actually connected to is the one checked (the check runs inside the socket's DNS
 * lookup, so a second resolution cannot swap in another address); no loopback, private, link-local, CGNAT,
 * unique-local, multicast or reserved address (nor their IPv4-mapped forms) unless `allowPrivateNetworks`;
 * no redirects; a total time limit and a size limit. Results, failures included, are cached per instance.
 */

export interface ClientMetadataDocumentsOptions {
  /** Allow loopback and private addresses (development only: the SSRF guard is off). Default false. */
  allowPrivateNetworks?: boolean;
  /** Total time for one fetch: DNS, connect, TLS, headers and body. Default 5000 ms. */
  timeoutMs?: number;
  /** Largest document accepted; reading stops beyond it. Default 5120 bytes. */
  maxBytes?: number;
  /** Extra trusted CA certificate(s), PEM (for tests with a self-signed server). */
  ca?: string | Buffer;
  /** Clock for cache expiry, ms since the epoch. Default Date.now. */
  now?: () => number;
  /** Most documents (and failures) kept in the cache; least recently used go first. Default 500. */
  maxEntries?: number;
}

export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_BYTES = 5 * 1024;
export const DEFAULT_MAX_ENTRIES = 500;
/** Cache lifetime of a document without Cache-Control max-age. */
export const DEFAULT_TTL_MS = 5 * 60_000;
export const MIN_TTL_MS = 60_000;
export const MAX_TTL_MS = 24 * 60 * 60_000;
/** Failures are remembered this long, so a bad client_id cannot be used to make this server hammer a host. */
export const FAILURE_TTL_MS = 10_000;

// ---------------------------------------------------------------------------------------------------------------
// Address classification

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'shared'
  | 'unspecified'
  | 'multicast'
  | 'reserved'
  | 'invalid';

const CLASS_DESCRIPTIONS: Record<Exclude<AddressClass, 'public'>, string> = {
  loopback: 'a loopback address',
  private: 'a private-network address',
  'link-local': 'a link-local address',
  shared: 'a carrier-grade NAT (100.64.0.0/10) address',
  unspecified: 'an unspecified ("this network") address',
  multicast: 'a multicast or broadcast address',
  reserved: 'a reserved or special-purpose address',
  invalid: 'not an IP address',
};

function parseIPv4(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

/** The 8 16-bit groups of an IPv6 address (zone id dropped, embedded dotted quad accepted), or null. */
function parseIPv6(input: string): number[] | null {
  let ip = input.split('%')[0]!;
  const lastColon = ip.lastIndexOf(':');
  if (ip.slice(lastColon + 1).includes('.')) {
    // ::ffff:1.2.3.4 → ::ffff:102:304
    const v4 = parseIPv4(ip.slice(lastColon + 1));
    if (v4 === null) return null;
    ip = `${ip.slice(0, lastColon + 1)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const toGroups = (s: string): number[] | null => {
    if (s === '') return [];
    const groups = s.split(':');
    if (groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
    return groups.map((g) => parseInt(g, 16));
  };
  const head = toGroups(halves[0]!);
  if (head === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const rest = toGroups(halves[1]!);
  if (rest === null) return null;
  const missing = 8 - head.length - rest.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...rest];
}

function inV4(value: number, base: string, bits: number): boolean {
  const size = 2 ** (32 - bits);
  const start = parseIPv4(base)!;
  return value >= start && value < start + size;
}

function classifyIPv4(value: number): AddressClass {
  if (inV4(value, '0.0.0.0', 8)) return 'unspecified';
  if (inV4(value, '127.0.0.0', 8)) return 'loopback';
  if (inV4(value, '10.0.0.0', 8) || inV4(value, '172.16.0.0', 12) || inV4(value, '192.168.0.0', 16)) return 'private';
  if (inV4(value, '169.254.0.0', 16)) return 'link-local';
  if (inV4(value, '100.64.0.0', 10)) return 'shared';
  if (inV4(value, '224.0.0.0', 4)) return 'multicast';
  if (
    inV4(value, '240.0.0.0', 4) || // reserved, and 255.255.255.255 broadcast
    inV4(value, '192.0.0.0', 24) || // IETF protocol assignments
    inV4(value, '192.0.2.0', 24) || // documentation
    inV4(value, '198.51.100.0', 24) ||
    inV4(value, '203.0.113.0', 24) ||
    inV4(value, '198.18.0.0', 15) || // benchmarking
    inV4(value, '192.88.99.0', 24) // 6to4 relay anycast
  ) {
    return 'reserved';
  }
  return 'public';
}

function classifyIPv6(g: number[]): AddressClass {
  const embeddedV4 = (hi: number, lo: number) => classifyIPv4(hi * 65536 + lo);
  const zeroPrefix = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroPrefix(8)) return 'unspecified';
  if (zeroPrefix(7) && g[7] === 1) return 'loopback';
  // ::ffff:a.b.c.d (IPv4-mapped) and 64:ff9b::a.b.c.d (NAT64) reach the embedded IPv4 address.
  if (zeroPrefix(5) && g[5] === 0xffff) return embeddedV4(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return embeddedV4(g[6]!, g[7]!);
  // ::a.b.c.d (deprecated IPv4-compatible) and ::ffff:0:a.b.c.d (SIIT): never a public server.
  if (zeroPrefix(6) || (zeroPrefix(4) && g[4] === 0xffff && g[5] === 0)) return 'reserved';
  // 2002:AABB:CCDD::/48 (6to4) embeds an IPv4 address.
  if (g[0] === 0x2002) {
    const inner = embeddedV4(g[1]!, g[2]!);
    return inner === 'public' ? 'public' : inner;
  }
  const first = g[0]!;
  if ((first & 0xfe00) === 0xfc00) return 'private'; // fc00::/7 unique local
  if ((first & 0xffc0) === 0xfe80) return 'link-local'; // fe80::/10
  if ((first & 0xffc0) === 0xfec0) return 'private'; // fec0::/10 site-local (deprecated)
  if ((first & 0xff00) === 0xff00) return 'multicast'; // ff00::/8
  if (first === 0x2001 && g[1] === 0x0db8) return 'reserved'; // documentation
  if (first === 0x2001 && g[1]! < 0x200) return 'reserved'; // 2001::/23 IETF protocol assignments (Teredo, ORCHID…)
  if ((first & 0xe000) !== 0x2000) return 'reserved'; // outside 2000::/3, the global unicast space
  return 'public';
}

/** What kind of address `ip` is; only 'public' addresses are fetched from unless private networks are allowed. */
export function classifyAddress(ip: string): AddressClass {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const family = isIP(bare.split('%')[0]!);
  if (family === 4) return classifyIPv4(parseIPv4(bare)!);
  if (family === 6) {
    const groups = parseIPv6(bare);
    return groups ? classifyIPv6(groups) : 'invalid';
  }
  return 'invalid';
}

// ---------------------------------------------------------------------------------------------------------------
// client_id URLs

/** True when `clientId` is meant as a metadata document URL (any scheme://…); fetch() then says why if it cannot be. */
export function looksLikeUrl(clientId: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(clientId);
}

function invalidClient(clientId: string, reason: string): OAuthEndpointError {
  return new OAuthEndpointError('invalid_client', `${clientId} ${reason}`);
}

/** Checks the draft's rules for a client_id URL (§3): https, a path, no dot segments, no fragment, no credentials. */
export function parseClientIdUrl(clientId: string): URL {
  if (clientId.length > 2000) throw invalidClient(`${clientId.slice(0, 60)}…`, 'is not usable as client_id: longer than 2000 characters.');
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    throw invalidClient(clientId, 'is not a valid URL: a client ID metadata document URL must be an absolute https URL.');
  }
  if (url.protocol !== 'https:') {
    throw invalidClient(clientId, `uses "${url.protocol}": a client ID metadata document URL must use https.`);
  }
  if (url.username !== '' || url.password !== '') {
    throw invalidClient(clientId, 'must not contain credentials (user:password@) in a client ID metadata document URL.');
  }
  if (clientId.includes('#')) throw invalidClient(clientId, 'must not contain a fragment (#) in a client ID metadata document URL.');
  const rawPath = clientId.replace(/^https:\/\/[^/?#]*/i, '').split(/[?#]/)[0]!;
  if (rawPath === '' || rawPath === '/') {
    throw invalidClient(clientId, 'has no path: a client ID metadata document URL names a document, e.g. https://example.com/client.json.');
  }
  if (rawPath.split('/').some((segment) => segment === '.' || segment === '..' || /^%2e(%2e)?$/i.test(segment) || /^\.%2e$|^%2e\.$/i.test(segment))) {
    throw invalidClient(clientId, 'must not contain "." or ".." path segments in a client ID metadata document URL.');
  }
  return url;
}

// ---------------------------------------------------------------------------------------------------------------
// Fetching

class Refusal extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'Refusal';
  }
}

interface CacheEntry {
  expiresAt: number;
  client?: OAuthClient;
  error?: string;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const type = header.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || (/^application\/[a-z0-9.+-]+\+json$/.test(type));
}

/** TTL of a fetched document from its Cache-Control: max-age clamped to [60 s, 24 h]; 5 min without one. */
export function documentTtlMs(cacheControl: string | undefined): number {
  if (!cacheControl) return DEFAULT_TTL_MS;
  const directives = cacheControl.toLowerCase().split(',').map((d) => d.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return MIN_TTL_MS;
  const maxAge = directives.map((d) => /^max-age\s*=\s*"?(\d+)"?$/.exec(d)).find((m) => m !== null);
  if (!maxAge) return DEFAULT_TTL_MS;
  const ms = Number(maxAge[1]) * 1000;
  return Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, ms));
}

function describeNetworkError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NODATA':
      return 'its host name does not resolve';
    case 'ECONNREFUSED':
      return 'the connection was refused';
    case 'ECONNRESET':
      return 'the connection was reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'its host is unreachable';
    case 'CERT_HAS_EXPIRED':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `its TLS certificate is not trusted (${err.code})`;
    default:
      return err.code ? `the request failed (${err.code})` : `the request failed (${err.message})`;
  }
}

/**
 * Fetches, validates and caches Client ID Metadata Documents. One instance per server; its cache is per
 * instance (each instance fetches a document at most once per TTL).
 */
export class ClientMetadataDocuments {
  private readonly allowPrivateNetworks: boolean;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly ca: string | Buffer | undefined;
  private readonly now: () => number;
  private readonly maxEntries: number;
  /** Insertion order is recency order: a hit is moved to the end, the first key is the least recently used. */
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<OAuthClient>>();

  constructor(options: ClientMetadataDocumentsOptions = {}) {
    this.allowPrivateNetworks = options.allowPrivateNetworks ?? false;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.ca = options.ca;
    this.now = options.now ?? Date.now;
    this.maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_MAX_ENTRIES);
  }

  /**
   * The client the document at `clientId` describes. Every refusal is OAuthEndpointError('invalid_client',
   * '<clientId> <why>').
   */
  async resolve(clientId: string): Promise<OAuthClient> {
    const url = parseClientIdUrl(clientId);
    const cached = this.cache.get(clientId);
    if (cached) {
      if (cached.expiresAt > this.now()) {
        this.cache.delete(clientId);
        this.cache.set(clientId, cached);
        if (cached.client) return cached.client;
        throw invalidClient(clientId, cached.error!);
      }
      this.cache.delete(clientId);
    }
    let pending = this.inFlight.get(clientId);
    if (!pending) {
      pending = this.load(clientId, url).finally(() => this.inFlight.delete(clientId));
      this.inFlight.set(clientId, pending);
    }
    return pending;
  }

  /** Forgets every cached document and failure. */
  clear(): void {
    this.cache.clear();
  }

  private remember(clientId: string, entry: CacheEntry): void {
    this.cache.delete(clientId);
    this.cache.set(clientId, entry);
    while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
  }

  private async load(clientId: string, url: URL): Promise<OAuthClient> {
    try {
      const { body, cacheControl } = await this.fetchDocument(url);
      const client = this.toClient(clientId, body);
      this.remember(clientId, { expiresAt: this.now() + documentTtlMs(cacheControl), client });
      return client;
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      this.remember(clientId, { expiresAt: this.now() + FAILURE_TTL_MS, error: err.reason });
      throw invalidClient(clientId, err.reason);
    }
  }

  private toClient(clientId: string, body: Buffer): OAuthClient {
    let document: unknown;
    try {
      document = JSON.parse(body.toString('utf8').replace(/^\uFEFF/, ''));
    } catch {
      throw new Refusal('is not a usable client ID metadata document: the body is not valid JSON.');
    }
    if (typeof document !== 'object' || document === null || Array.isArray(document)) {
      throw new Refusal('is not a usable client ID metadata document: the body is not a JSON object.');
    }
    const doc = document as Record<string, unknown>;
    if (doc.client_id !== clientId) {
      throw new Refusal(
        `is not a usable client ID metadata document: its client_id ${doc.client_id === undefined ? 'is missing' : JSON.stringify(doc.client_id)} ` +
          'must equal the document URL exactly.',
      );
    }
    if (doc.client_secret !== undefined || doc.client_secret_expires_at !== undefined) {
      throw new Refusal('is not a usable client ID metadata document: it must not contain client_secret (only public clients use metadata documents).');
    }
    if (doc.token_endpoint_auth_method !== undefined && doc.token_endpoint_auth_method !== 'none') {
      throw new Refusal(
        `is not a usable client ID metadata document: token_endpoint_auth_method ${JSON.stringify(doc.token_endpoint_auth_method)} is not supported; ` +
          'only public clients ("none") are accepted here.',
      );
    }
    if (typeof doc.client_name !== 'string' || doc.client_name === '') {
      throw new Refusal('is not a usable client ID metadata document: client_name is required (MCP 2025-11-25).');
    }
    let metadata;
    try {
      metadata = validateClientMetadata(doc);
    } catch (err) {
      if (err instanceof OAuthEndpointError) throw new Refusal(`is not a usable client ID metadata document: ${err.message}`);
      throw err;
    }
    const client: OAuthClient = {
      clientId,
      redirectUris: metadata.redirectUris,
      grantTypes: metadata.grantTypes,
      kind: 'metadata-document',
    };
    if (metadata.clientName !== undefined) client.clientName = metadata.clientName;
    if (metadata.clientUri !== undefined) client.clientUri = metadata.clientUri;
    if (metadata.logoUri !== undefined) client.logoUri = metadata.logoUri;
    if (metadata.scope !== undefined) client.scope = metadata.scope;
    return client;
  }

  /** The address guard, run on every address the socket would connect to. Throws Refusal. */
  private checkAddress(host: string, address: string): void {
    if (this.allowPrivateNetworks) return;
    const kind = classifyAddress(address);
    if (kind === 'public') return;
    const named = host === address ? `${address} is` : `the host ${host} resolves to ${address},`;
    throw new Refusal(`cannot be fetched: ${named} ${CLASS_DESCRIPTIONS[kind]}; client ID metadata documents are only fetched from public addresses.`);
  }

  /** dns.lookup, refusing the whole name when any of its addresses is not public. */
  private guardedLookup(hostname: string, options: { family?: number | string; all?: boolean }, callback: LookupCallback): void {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : typeof options.family === 'number' ? options.family : 0;
    dnsLookup(hostname, { all: true, family, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, '');
      try {
        if (addresses.length === 0) throw new Refusal('cannot be fetched: its host name does not resolve.');
        for (const a of addresses) this.checkAddress(hostname, a.address);
      } catch (refusal) {
        return callback(refusal as NodeJS.ErrnoException, '');
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  }

  private fetchDocument(url: URL): Promise<{ body: Buffer; cacheControl: string | undefined }> {
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    // An IP literal never goes through lookup(): check it here, before any connection.
    if (isIP(host) !== 0) this.checkAddress(host, host);

    return new Promise((resolve, reject) => {
      let settled = false;
      let req: ClientRequest | undefined;
      const finish = (err: unknown, value?: { body: Buffer; cacheControl: string | undefined }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          req?.destroy();
          reject(err);
        } else {
          resolve(value!);
        }
      };
      const timer = setTimeout(
        () => finish(new Refusal(`cannot be fetched: no complete answer within ${this.timeoutMs} ms.`)),
        this.timeoutMs,
      );
      try {
        req = httpsRequest(
          {
            protocol: 'https:',
            host,
            port: url.port === '' ? 443 : Number(url.port),
            path: `${url.pathname}${url.search}`,
            method: 'GET',
            headers: { accept: 'application/json', 'user-agent': 'flowpos-mcp (client ID metadata document fetcher)' },
            agent: false,
            ...(this.ca !== undefined ? { ca: this.ca } : {}),
            lookup: this.guardedLookup.bind(this) as never,
          },
          (res) => this.readResponse(res, finish),
        );
      } catch (err) {
        finish(err);
        return;
      }
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof Refusal) finish(err);
        else finish(new Refusal(`cannot be fetched: ${describeNetworkError(err)}.`));
      });
      req.end();
    });
  }

  private readResponse(
    res: IncomingMessage,
    finish: (err: unknown, value?: { body: Buffer; cacheControl: string | undefined }) => void,
  ): void {
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400) {
      const location = res.headers.location;
      res.resume();
      return finish(
        new Refusal(
          `cannot be used: it answered HTTP ${status} (a redirect${location ? ` to ${location}` : ''}); redirects are not followed, ` +
            'serve the document at the client_id URL itself.',
        ),
      );
    }
    if (status !== 200) {
      res.resume();
      return finish(new Refusal(`cannot be used: it answered HTTP ${status}, not 200.`));
    }
    const contentType = res.headers['content-type'];
    if (!isJsonContentType(contentType)) {
      res.resume();
      return finish(new Refusal(`cannot be used: its Content-Type is ${contentType ? JSON.stringify(contentType) : 'missing'}, not application/json.`));
    }
    const encoding = res.headers['content-encoding'];
    if (encoding && encoding.toLowerCase() !== 'identity') {
      res.resume();
      return finish(new Refusal(`cannot be used: it is sent with Content-Encoding ${JSON.stringify(encoding)}; send it uncompressed.`));
    }
    const tooLarge = new Refusal(`cannot be used: the document is larger than ${this.maxBytes} bytes.`);
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.maxBytes) return finish(tooLarge);

    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.maxBytes) return finish(tooLarge);
      chunks.push(chunk);
    });
    res.on('end', () => finish(null, { body: Buffer.concat(chunks), cacheControl: res.headers['cache-control'] }));
    res.on('error', (err: NodeJS.ErrnoException) => finish(new Refusal(`cannot be fetched: ${describeNetworkError(err)}.`)));
    res.on('aborted', () => finish(new Refusal('cannot be fetched: the connection closed before the document was complete.')));
  }
}
