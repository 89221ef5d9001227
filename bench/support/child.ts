/**
 * A server under test, run as its own process so its heap and RSS are its own:
 *
 *   node --expose-gc --import tsx bench/support/child.ts <sdk-stateful | sdk-per-request | http-floor | flowpos>
 *
 * It reports `{ type: 'ready', url }` over the IPC channel and then answers the parent's requests (see
 * ChildRequest). flowpos reads its configuration from the environment exactly as `flowpos-mcp serve` does. The
 * instrumentation lives here, in the launcher: nothing in the product or the baselines knows it is measured.
 * When the parent goes away (the IPC channel closes) the process ends.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Server as HttpServer, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildReply, ChildRequest, MemorySample, WireCounts } from './ipc.js';

const kind = process.argv[2];
if (!process.send) throw new Error('child.ts must be started with an IPC channel (see bench/support/ipc.ts)');
const send = (msg: unknown) => process.send!(msg);

/**
 * Counts, per call, what goes to Redis and PostgreSQL, at the sockets:
 * - "flights": bursts of writes to one socket made in the same turn of the event loop (node-redis sends the
 *   commands of one turn in one burst; pg writes a query's messages in one go). With one request in flight at a
 *   time, flights per call are the round trips per call; those made after the response was ended (and before the
 *   next request came) are also counted apart: the answer did not wait for them.
 * - Redis commands by name (node-redis writes each command as one chunk `*<n>\r\n$<len>\r\n<NAME>…`; an
 *   EVALSHA is named after the src/state/lua script whose SHA-1 it carries).
 * - PostgreSQL statements (the text of each Parse or Query message).
 */
const flightPorts = new Map<number, 'redis' | 'postgres'>();
for (const [name, url] of [
  ['redis', process.env.REDIS_URL],
  ['postgres', process.env.DATABASE_URL],
] as const) {
  if (url) flightPorts.set(Number(new URL(url).port || (name === 'redis' ? 6379 : 5432)), name);
}
const luaDir = fileURLToPath(new URL('../../src/state/lua/', import.meta.url));
const scriptNames = new Map<string, string>();
for (const file of existsSync(luaDir) ? readdirSync(luaDir) : []) {
  if (file.endsWith('.lua')) scriptNames.set(createHash('sha1').update(readFileSync(join(luaDir, file))).digest('hex'), file.slice(0, -4));
}
let counts: WireCounts = { flights: {}, flightsAfterAnswer: {}, redisCommands: {}, postgresStatements: {} };
let counting = false;
/**
 * Whether the request being served has been answered (its response ended) and no new request has arrived since:
 * flights then are counted as after the answer as well (work the caller does not wait for). With one request in
 * flight at a time, flights minus those after the answer are the round trips the answer waited for.
 */
let answered = false;
const emitHttp = HttpServer.prototype.emit;
HttpServer.prototype.emit = function patchedEmit(this: HttpServer, event: string | symbol, ...args: unknown[]) {
  if (event === 'request') answered = false;
  return (emitHttp as (...a: unknown[]) => boolean).call(this, event, ...args);
} as typeof HttpServer.prototype.emit;
const endResponse = ServerResponse.prototype.end;
ServerResponse.prototype.end = function patchedEnd(this: ServerResponse, ...args: unknown[]) {
  answered = true;
  return (endResponse as (...a: unknown[]) => ServerResponse).apply(this, args);
} as typeof ServerResponse.prototype.end;
const inFlight = new WeakSet<Socket>();
const bump = (o: Record<string, number>, k: string) => {
  o[k] = (o[k] ?? 0) + 1;
};
function noteRedis(chunk: unknown): void {
  if (typeof chunk !== 'string' || chunk[0] !== '*') return;
  const m = /^\*\d+\r\n\$\d+\r\n([^\r]+)\r\n(?:\$\d+\r\n([^\r]+)\r\n)?/.exec(chunk);
  if (!m) return;
  const name = m[1]!.toLowerCase();
  bump(counts.redisCommands, name === 'evalsha' || name === 'eval' ? `${name} ${scriptNames.get(m[2] ?? '') ?? 'script'}` : name);
}
function notePostgres(chunk: unknown): void {
  if (!(chunk instanceof Uint8Array) || chunk.length < 6) return;
  const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  let text: string | undefined;
  if (buf[0] === 0x51) text = buf.toString('utf8', 5, buf.indexOf(0, 5)); // Query
  else if (buf[0] === 0x50) {
    const nameEnd = buf.indexOf(0, 5); // Parse: statement name, then the query
    text = buf.toString('utf8', nameEnd + 1, buf.indexOf(0, nameEnd + 1));
  }
  if (text) bump(counts.postgresStatements, text.replace(/\s+/g, ' ').trim().slice(0, 90));
}
const write = Socket.prototype.write;
Socket.prototype.write = function patchedWrite(this: Socket, ...args: unknown[]) {
  if (counting) {
    const name = flightPorts.get(this.remotePort ?? -1);
    if (name) {
      if (!inFlight.has(this)) {
        bump(counts.flights, name);
        if (answered) bump(counts.flightsAfterAnswer, name);
        inFlight.add(this);
        queueMicrotask(() => inFlight.delete(this));
      }
      if (name === 'redis') noteRedis(args[0]);
      else notePostgres(args[0]);
    }
  }
  return (write as (...a: unknown[]) => boolean).apply(this, args);
} as typeof Socket.prototype.write;

/**
 * The floor under any answer that waits for Redis: one command's round trip from this process (its core, its event
 * loop) on a connection of its own, with nothing else in flight. Asked for while the server is idle.
 */
async function redisRoundTrip(): Promise<{ us: number } | null> {
  const url = process.env.REDIS_URL;
  if (!url) return null;
  const { createClient } = await import('redis');
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  try {
    const times: number[] = [];
    for (let i = 0; i < 3_200; i++) {
      const t = process.hrtime.bigint();
      await client.ping();
      // The first 200 warm the connection and the JIT.
      if (i >= 200) times.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    times.sort((a, b) => a - b);
    return { us: times[Math.floor(times.length / 2)]! };
  } finally {
    await client.close().catch(() => {});
  }
}

async function memory(): Promise<MemorySample> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    // Twice, with a turn in between, so objects freed by finalizers of the first pass go too.
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, gc: Boolean(gc) };
}

/**
 * Samples what is allocated, collected or not (a heap profile of `--heap-prof` keeps only what is still live),
 * and writes it as a .heapprofile to `file` when the server stops: where the garbage collector's work comes from.
 */
async function startAllocationSampling(file: string | undefined): Promise<(() => Promise<void>) | undefined> {
  if (!file) return undefined;
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 16_384,
    includeObjectsCollectedByMajorGC: true,
    // BENCH_ALLOCATION_PROFILE_PROMOTED=1: only what outlived the young generation (promoted, then collected or not).
    includeObjectsCollectedByMinorGC: process.env.BENCH_ALLOCATION_PROFILE_PROMOTED !== '1',
  });
  return async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

async function start(): Promise<{ url: string; close: () => Promise<void> }> {
  switch (kind) {
    case 'sdk-stateful': {
      const { startSdkStateful } = await import('../baselines/sdk-stateful.js');
      return startSdkStateful();
    }
    case 'sdk-per-request': {
      const { startSdkPerRequest } = await import('../baselines/sdk-per-request.js');
      return startSdkPerRequest();
    }
    case 'http-floor': {
      const { startHttpFloor } = await import('../baselines/http-floor.js');
      return startHttpFloor();
    }
    case 'flowpos': {
      // dist/ (the build that ships) unless the parent asked for src/ (see bench/support/build.ts); a computed
      // specifier, so type-checking the bench does not need a build.
      const from = process.env.BENCH_FLOWPOS_BUILD === 'src' ? 'src' : 'dist';
      const { createFlowposServer } = (await import(`../../${from}/app.js`)) as typeof import('../../src/app.js');
      const { loadConfig } = (await import(`../../${from}/config.js`)) as typeof import('../../src/config.js');
      const server = await createFlowposServer(loadConfig(process.env));
      const url = await server.listen();
      return { url, close: () => server.close() };
    }
    default:
      throw new Error(`unknown server kind "${kind}"`);
  }
}

const server = await start();
const allocations = await startAllocationSampling(process.env.BENCH_ALLOCATION_PROFILE);
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  const hard = setTimeout(() => process.exit(code), 5000);
  hard.unref();
  await server.close().catch(() => {});
  await allocations?.().catch(() => {});
  // A CPU profile (--cpu-prof) is written on a normal exit.
  process.exit(code);
};
process.on('disconnect', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

process.on('message', (raw) => {
  const req = raw as ChildRequest;
  const reply = (value: ChildReply['value']) => send({ id: req.id, value } satisfies ChildReply);
  switch (req.cmd) {
    case 'memory':
      void memory().then(reply);
      break;
    case 'wire-start':
      counts = { flights: {}, flightsAfterAnswer: {}, redisCommands: {}, postgresStatements: {} };
      counting = true;
      reply(null);
      break;
    case 'wire-stop':
      counting = false;
      reply(counts);
      break;
    case 'mark':
      // The clock V8's CPU profiles are stamped with (monotonic, µs), to cut a profile to the measured window.
      reply({ us: Number(process.hrtime.bigint() / 1000n) });
      break;
    case 'redis-round-trip':
      void redisRoundTrip().then(reply, () => reply(null));
      break;
    case 'stop':
      reply(null);
      void stop(0);
      break;
  }
});

send({ type: 'ready', url: server.url.replace('[::1]', '127.0.0.1') });
