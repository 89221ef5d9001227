import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports for processes that must keep theirs: a cluster instance or redis-server restarted after a crash comes back
 * on the port the balancer and every client already know, and some servers are told their port long before they
 * bind it (the Auth Emulator, ~20 s later).
 *
 * listen(0) hands out a port of the kernel's ephemeral range, and that range is also where every outgoing
 * connection on the machine gets its local port. Between the pick and the (re)bind, any client socket may be given
 * the port, and the bind then fails with EADDRINUSE. Ports below the ephemeral range are never assigned that way,
 * so they are picked from there, at random, and checked.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [low, high] = stableRange();
  if (high > low) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = low + Math.floor(Math.random() * (high - low));
      if (await portIsFree(port, host)) return port;
    }
  }
  return listenOnAny(host);
}

/** True when `port` can be bound on `host` at this moment. */
export async function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** First port of the ephemeral range; Linux publishes it, and 32768 is at or below it on other common systems. */
export function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 0) return low;
  } catch {
    // not Linux
  }
  return 32768;
}

/** [low, high): above the common registered service ports (PostgreSQL 5432, Redis 6379, 8080…), below ephemeral. */
function stableRange(): [number, number] {
  return [20000, Math.min(ephemeralLow(), 32768)];
}

function listenOnAny(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
