import type { Config } from '../config.js';
import { AppError } from '../errors.js';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * "example.com:4000" → "example.com", "[::1]:4000" → "[::1]". Anything after the name but a port is kept, so
 * "[::1].evil.example" stays itself (and matches no allowed name) instead of passing as "[::1]".
 */
function hostname(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  const match = /^(\[[^\]]*\]|[^:[\]]*)(:\d*)?$/.exec(h);
  return match ? match[1]! : h;
}

export function isLoopbackOrigin(origin: string): boolean {
  try {
    const u = new URL(origin);
    // An IPv4 literal in 127/8, not any name that merely starts with "127." (127.0.0.1.evil.example is a real domain).
    return (u.protocol === 'http:' || u.protocol === 'https:') && (LOOPBACK.has(u.hostname) || /^127(\.\d{1,3}){3}$/.test(u.hostname));
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
