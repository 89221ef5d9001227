import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';

/**
 * A loopback HTTP proxy that adds fixed request headers (an Authorization header) and passes everything else
 * through byte for byte, both ways, streams included. For clients that cannot be told to send a header, such as
 * the conformance CLI; what it forwards to is unchanged, so the balancer still does all the routing.
 */
export interface HeaderProxy {
  /** http://127.0.0.1:port */
  url: string;
  /** Requests passed on, and the request headers of each (after adding), in arrival order. */
  seen: { method: string; url: string; headers: IncomingMessage['headers'] }[];
  close(): Promise<void>;
}

export async function startHeaderProxy(target: string, add: Record<string, string>): Promise<HeaderProxy> {
  const upstream = new URL(target);
  const seen: HeaderProxy['seen'] = [];
  const lower = Object.fromEntries(Object.entries(add).map(([k, v]) => [k.toLowerCase(), v]));
  const server: Server = createServer((req, res) => {
    // Host stays the client's own (the instances check it against their allowed hosts, as for any client).
    const headers = { ...req.headers, ...lower };
    seen.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers });
    const out = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
        res.on('close', () => answer.destroy());
      },
    );
    out.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`header proxy: ${err.message}`);
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
