import type { FastifyInstance } from 'fastify';

export interface DrainOptions {
  /** How long in-flight requests may take to finish once the server stopped accepting. */
  graceMs: number;
  /**
   * Called once the listening socket is closed: end long-lived streams here. Their clients reconnect (after the
   * `retry` hint, with Last-Event-ID) through the load balancer, which can no longer pick this instance.
   */
  onStopAccepting: () => void | Promise<void>;
  /** Told when the grace period ran out with requests still open. */
  onForced?: (openConnections: number) => void;
}

const SWEEP_MS = 100;
const LISTEN_CLOSE_WAIT_MS = 1_000;

/**
 * Stops the HTTP side of an instance in order: stop accepting connections (requests that still arrive on open
 * keep-alive connections get 503 from Fastify's `return503OnClosing`), end the streams, let in-flight requests
 * finish, and after `graceMs` cut whatever is left. Resolves when every connection is gone.
 *
 * Node's `server.close()` closes idle keep-alive connections only once, when called; a connection whose request
 * finishes later would then linger until its keep-alive timeout, so idle connections are swept until the end.
 */
export async function drainHttp(app: FastifyInstance, opts: DrainOptions): Promise<void> {
  const server = app.server;
  const closed = app.close();
  const started = Date.now();
  // Fastify closes the listening socket after its preClose hooks; `listening` turns false at that moment.
  while (server.listening && Date.now() - started < LISTEN_CLOSE_WAIT_MS) await new Promise((resolve) => setTimeout(resolve, 5));
  await opts.onStopAccepting();
  const sweep = setInterval(() => server.closeIdleConnections(), SWEEP_MS);
  const deadline = setTimeout(() => {
    server.getConnections((err, count) => {
      if (!err && count > 0) opts.onForced?.(count);
      server.closeAllConnections();
    });
  }, Math.max(0, opts.graceMs - (Date.now() - started)));
  try {
    server.closeIdleConnections();
    await closed;
  } finally {
    clearInterval(sweep);
    clearTimeout(deadline);
  }
}
