import type { Config } from '../config.js';
import { AppError } from '../errors.js';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** "example.com:4000" → "example.com", "[::1]:4000" → "[::1]". */
function hostname(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

export function isLoopbackOrigin(origin: string): boolean {
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && (LOOPBACK.has(u.hostname) || u.hostname.startsWith('127.'));
  } catch {
    return false;
  }
}

/**
 * DNS-rebinding defence: a browser page on evil.example resolving to 127.0.0.1 still sends its own Host and
 * Origin, so both are checked against what this deployment is known as.
 */
export function checkHostAndOrigin(config: Pick<Config, 'allowedHosts' | 'allowedOrigins'>, host: string | undefined, origin: string | undefined): void {
  if (config.allowedHosts) {
    const name = host ? hostname(host) : '';
    if (!name || !config.allowedHosts.includes(name)) {
      throw new AppError('forbidden_host', host ? `"${host.slice(0, 100)}" is not one of this server's names; set PUBLIC_URL or MCP_ALLOWED_HOSTS.` : 'The Host header is missing.');
    }
  }
  if (origin !== undefined && config.allowedOrigins && !config.allowedOrigins.includes(origin) && !isLoopbackOrigin(origin)) {
    throw new AppError('forbidden_origin', `"${origin.slice(0, 100)}" may not call this server; set MCP_ALLOWED_ORIGINS to allow it.`);
  }
}
