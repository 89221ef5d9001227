/**
 * npm run chaos [-- --duration 60 --sessions 300 --kill-every 15 --pg-cut 5]
 *
 * The 3-instance cluster (src/cluster) under mixed tool calls from many concurrent sessions while it is broken on
 * purpose, then an audit of what it acknowledged against what it kept:
 * - one instance is kill -9ed every --kill-every seconds and restarted;
 * - Redis is kill -9ed once and restarted. It runs with `--appendonly yes --appendfsync always`, as production
 *   should (docs/scaling.md): every write is on disk before it is acknowledged, so a restart keeps carts and
 *   sessions, and *every* acknowledged cart write can be held to account, not only those after the restart;
 * - PostgreSQL is cut for --pg-cut seconds (a TCP relay between the instances and a throwaway database drops
 *   every connection and refuses new ones).
 * Everything runs on loopback, is bounded in time, and every process started is stopped by its pid.
 *
 * The ledger: every cart write (add, set, remove) with the cart it names and the cart the server answered with,
 * every refusal, every call whose answer was lost (a 502 from a dying instance, a 503, a dropped connection: it
 * may or may not have been applied), and every checkout with its idempotency key (retried with the same key
 * until answered) and the order it returned. The audit:
 * - carts: each cart is replayed from its ledger. An acknowledged answer (or a read) must be reachable from the
 *   last known state by applying some of the unanswered calls in between, in order, then the call itself; the
 *   final cart must be reachable from the last known state through the trailing unanswered calls. For a cart with
 *   no unanswered call that is exact equality with the replay. Anything else is an acknowledged write lost (or a
 *   refused one applied);
 * - orders: every acknowledged order exists with its key; no idempotency key has two orders; a retried checkout
 *   returned the order of its first attempt;
 * - stock: never negative (sampled during the run and at the end), and conserved: start − ordered = end;
 * - statuses: no 5xx outside the fault windows; inside them 502 (the dying instance's in-flight requests) or 503
 *   with Retry-After.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startCluster, type Cluster } from '../src/cluster/cluster.js';
import { freePort } from '../src/cluster/ports.js';
import { sleep, spawnSupervised, type Supervised } from '../src/cluster/processes.js';
import { DEMO } from '../src/db/seed.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export interface ChaosOptions {
  durationMs: number;
  sessions: number;
  /** One instance is kill -9ed this often (the first at half the interval, or earlier in short runs). */
  killEveryMs: number;
  /** How long PostgreSQL is cut. */
  pgCutMs: number;
  /** When Redis is restarted and PostgreSQL cut, as fractions of the duration. */
  redisRestartAt?: number;
  pgCutAt?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** PostgreSQL server on which the throwaway database is created (default TEST_DATABASE_URL or the local one). */
  adminDatabaseUrl?: string;
  /**
   * false runs Redis without its append-only file, as the test helpers do: then the restart loses carts and
   * sessions, and the audit must say so (a check of the audit itself). Default true.
   */
  redisPersistence?: boolean;
}

export interface ChaosReport {
  figures: [string, string | number][];
  /** Invariants that failed, each with what showed it; empty when the run passed. */
  violations: string[];
}

const COFFEE = DEMO.businesses.coffee;
const PLENTY = ['COF-LATTE-12', 'COF-LATTE-16', 'COF-ESPRESSO-DBL', 'COF-AMERICANO-12', 'COF-CAPPUCCINO-8', 'COF-FLATWHITE-8'];
/** Contended: checkouts race for them, some must be refused for stock. */
const SCARCE = ['COF-MOCHA-12', 'COF-CROISSANT'];
const SCARCE_STOCK = 25;
const PLENTY_STOCK = 100_000;
const OUT_OF_STOCK = 'COF-COLDBREW-16';
const SKUS = [...PLENTY, ...SCARCE, OUT_OF_STOCK];
const LEGACY_VERSION = '2025-11-25';
const MODERN_VERSION = '2026-07-28';
/** Below the balancer's 60 s headers timeout: a request is abandoned by this client before the balancer gives up. */
const REQUEST_TIMEOUT_MS = 55_000;
/** A session pauses between calls as an agent does (its model thinks): 100-600 ms. */
const THINK_MS = [100, 600] as const;
/** How long after a fault is healed its effects (reconnects, pool refills) may still show as 5xx. */
const RECOVERY_MARGIN_MS = 6_000;
/** How long after a kill requests that were in flight on the dead instance may still come back as 502. */
const KILL_MARGIN_MS = 2_000;

type Lines = Record<string, number>;
/**
 * unanswered: the server answered with a failure (502, 503, an internal error) — the call may or may not have been
 * applied, but it is over; abandoned: no answer in time (this client gave up, or the balancer did: 504) — it may
 * still be running and apply later, after calls sent after it.
 */
type Outcome = 'ack' | 'refused' | 'unanswered' | 'abandoned';
interface CartOp {
  kind: 'add' | 'set' | 'remove' | 'checkout' | 'view';
  sku?: string;
  quantity?: number;
  outcome: Outcome;
  /** The cart as the server answered (writes and views that succeeded). */
  after?: Lines;
}
interface Call {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  retryAfter: string | null;
  start: number;
  end: number;
  error?: string;
}
interface Window {
  kind: 'kill' | 'redis' | 'postgres';
  from: number;
  to: number;
}

// ---- the run ----------------------------------------------------------------------------------------------

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const runId = randomBytes(3).toString('hex');
  const cleanups: (() => Promise<unknown>)[] = [];
  const clusterLog: string[] = [];
  const remember = (source: string, line: string) => {
    clusterLog.push(`[${source}] ${line}`);
    if (clusterLog.length > 400) clusterLog.splice(0, 100);
  };
  const cleanup = async () => {
    while (cleanups.length) await cleanups.pop()!().catch((err: unknown) => log(`cleanup: ${String(err)}`));
  };
  try {
    // Throwaway PostgreSQL database, reached by the instances only through a relay that can be cut.
    const admin = opts.adminDatabaseUrl ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const dbName = `flowpos_chaos_${process.pid}_${runId}`;
    await adminQuery(admin, `CREATE DATABASE ${dbName}`);
    cleanups.push(() => adminQuery(admin, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
    const direct = new URL(admin);
    direct.pathname = `/${dbName}`;
    const proxy = await startTcpProxy(direct.hostname === 'localhost' ? '127.0.0.1' : direct.hostname, Number(direct.port || 5432));
    cleanups.push(() => proxy.close());
    const proxied = new URL(direct.toString());
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);

    // Redis with an append-only file fsynced on every write, restartable on the same port and directory.
    const persistent = opts.redisPersistence ?? true;
    const redis = await startDurableRedis((line) => remember('redis', line), persistent);
    cleanups.push(() => redis.stop());

    log(`chaos ${runId}: starting 3 instances (Redis ${redis.url} ${persistent ? 'appendonly/always' : 'WITHOUT persistence'}, PostgreSQL ${dbName} via relay :${proxy.port}) …`);
    const cluster = await startCluster({
      instances: 3,
      port: 0,
      redisUrl: redis.url,
      databaseUrl: proxied.toString(),
      env: {
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        MCP_REDIS_KEY_PREFIX: 'chaos:',
        DATABASE_POOL_MAX: '10',
        MCP_SSE_KEEPALIVE_SECONDS: '5',
        RATE_LIMIT_REQUESTS_PER_MINUTE: '0',
        RATE_LIMIT_WRITES_PER_MINUTE: '0',
      },
      onLog: remember,
      readyTimeoutMs: 60_000,
    });
    cleanups.push(() => cluster.stop());
    const db = new pg.Pool({ connectionString: direct.toString(), max: 2 });
    db.on('error', () => {});
    cleanups.push(() => db.end());
    await db.query(`UPDATE products SET stock = CASE WHEN sku = ANY($2) THEN $3::int WHEN sku = $4 THEN 0 ELSE $5::int END WHERE business_id = $1`, [
      COFFEE,
      SCARCE,
      SCARCE_STOCK,
      OUT_OF_STOCK,
      PLENTY_STOCK,
    ]);
    const stockStart = await stockBySku(db);

    const report = await drive({ opts, log, runId, cluster, redis, proxy, db, stockStart, persistent });
    if (report.violations.length) log(`last cluster log lines:\n${clusterLog.slice(-40).join('\n')}`);
    return report;
  } finally {
    await cleanup();
  }
}

interface DriveContext {
  opts: ChaosOptions;
  log: (line: string) => void;
  runId: string;
  cluster: Cluster;
  redis: DurableRedis;
  proxy: TcpProxy;
  db: pg.Pool;
  stockStart: Map<string, number>;
  persistent: boolean;
}

async function drive(ctx: DriveContext): Promise<ChaosReport> {
  const { opts, log, runId, cluster, redis, proxy, db } = ctx;
  const mcpUrl = cluster.mcpUrl;
  const key = cluster.demoKey;
  const calls: Call[] = [];
  let nextId = 1;

  const send = async (body: Record<string, unknown>, headers: Record<string, string>): Promise<Call> => {
    const start = Date.now();
    try {
      const res = await fetch(mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${key}`, ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      const call: Call = { status: res.status, body: parsed, retryAfter: res.headers.get('retry-after'), start, end: Date.now() };
      calls.push(call);
      return call;
    } catch (err) {
      const call: Call = { status: 0, body: undefined, retryAfter: null, start, end: Date.now(), error: err instanceof Error ? err.message : String(err) };
      calls.push(call);
      return call;
    }
  };

  // ---- sessions: 2025-era sessions through the balancer, every fifth worker a stateless 2026-07-28 client ----
  interface Worker {
    n: number;
    era: 'legacy' | 'modern';
    sid?: string;
    carts: string[];
    checkouts: number;
    /** Status of this worker's latest call (a 404 means its session is gone: it opens a new one). */
    last?: number;
  }
  // initialize through the balancer; the session id comes back in a header.
  const sendInit = async (): Promise<string> => {
    for (let attempt = 0; attempt < 30; attempt++) {
      const res = await fetch(mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${key}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'chaos', version: '1' } } }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      }).catch(() => null);
      const sid = res?.headers.get('mcp-session-id');
      await res?.body?.cancel().catch(() => {});
      if (res && res.status === 200 && sid) {
        await send({ jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION });
        return sid;
      }
      await sleep(250);
    }
    throw new Error('cannot open a session');
  };

  const tool = async (w: Worker, name: string, args: Record<string, unknown>): Promise<Call> => {
    const r = await toolCall(w, name, args);
    w.last = r.status;
    return r;
  };
  const toolCall = (w: Worker, name: string, args: Record<string, unknown>): Promise<Call> => {
    if (w.era === 'legacy') {
      return send({ jsonrpc: '2.0', id: nextId++, method: 'tools/call', params: { name, arguments: args } }, { 'mcp-session-id': w.sid!, 'mcp-protocol-version': LEGACY_VERSION });
    }
    return send(
      {
        jsonrpc: '2.0',
        id: nextId++,
        method: 'tools/call',
        params: {
          name,
          arguments: args,
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
            'io.modelcontextprotocol/clientInfo': { name: 'chaos', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      },
      { 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'tools/call', 'mcp-name': name },
    );
  };

  const workers: Worker[] = Array.from({ length: opts.sessions }, (_, n) => ({
    n,
    era: n % 5 === 4 ? 'modern' : 'legacy',
    carts: [`x${runId}-w${n}-a`, `x${runId}-w${n}-b`],
    checkouts: 0,
  }));
  log(`opening ${workers.length} sessions …`);
  await pool(workers, 30, async (w) => {
    if (w.era === 'legacy') w.sid = await sendInit();
    for (let attempt = 0; ; attempt++) {
      const r = await tool(w, 'set_active_business', { business_id: COFFEE });
      if (r.status === 200 && r.body?.result && !r.body.result.isError) break;
      if (attempt > 20) throw new Error(`set_active_business failed: ${r.status} ${JSON.stringify(r.body)?.slice(0, 200)}`);
      await sleep(200);
    }
  });
  calls.length = 0; // set-up traffic is not part of the figures

  // ---- the ledger ----
  const ledger = new Map<string, CartOp[]>();
  for (const w of workers) for (const c of w.carts) ledger.set(c, []);
  interface OrderAttempt {
    key: string;
    cart: string;
    attempts: number;
    orderIds: string[];
    created: boolean[];
    outcome: Outcome;
  }
  const orders: OrderAttempt[] = [];
  const counts = { sessionsLost: 0, internalToolErrors: 0, unexpected4xx: [] as string[] };

  const classify = (r: Call): { outcome: Outcome; cart?: Lines; code?: string } => {
    if (r.status === 200 && r.body?.result && !r.body.result.isError) return { outcome: 'ack', cart: linesOf(r.body.result.structuredContent) };
    if (r.status === 200 && r.body?.result?.isError) {
      const code = r.body.result.structuredContent?.error?.code as string | undefined;
      if (code) return { outcome: 'refused', code };
      counts.internalToolErrors++;
      return { outcome: 'unanswered' };
    }
    if (r.status === 200 && r.body?.error) return { outcome: 'refused', code: `rpc ${r.body.error.code}` };
    if (r.status === 0 || r.status === 504) return { outcome: 'abandoned' };
    if (r.status === 404) counts.sessionsLost++;
    else if (r.status >= 400 && r.status < 500) counts.unexpected4xx.push(`${r.status} ${JSON.stringify(r.body)?.slice(0, 200)}`);
    return { outcome: 'unanswered' };
  };

  // ---- faults, on a schedule relative to the start ----
  const windows: Window[] = [];
  const faultLog: string[] = [];
  const started = Date.now();
  const endAt = started + opts.durationMs;
  const at = (ms: number) => sleep(Math.max(0, started + ms - Date.now()));
  const restarts: Promise<void>[] = [];
  const killOffset = Math.min(opts.killEveryMs / 2, opts.durationMs * 0.15);
  const faults: Promise<void>[] = [];
  let kills = 0;
  for (let t = killOffset, k = 0; t < opts.durationMs - 500; t += opts.killEveryMs, k++) {
    const victim = k % 3;
    faults.push(
      (async () => {
        await at(t);
        // An instance still restarting from the previous round is left alone.
        if (!cluster.instances[victim]!.running()) return;
        const from = Date.now();
        await cluster.kill(victim, 'SIGKILL');
        kills++;
        windows.push({ kind: 'kill', from, to: Date.now() + KILL_MARGIN_MS });
        faultLog.push(`${secs(from - started)} kill -9 ${cluster.instances[victim]!.name}`);
        const restart = restartWithRetry(cluster, victim, log).then(() => {
          faultLog.push(`${secs(Date.now() - started)} ${cluster.instances[victim]!.name} restarted and ready`);
        });
        restarts.push(restart);
        await restart;
      })(),
    );
  }
  faults.push(
    (async () => {
      await at(opts.durationMs * (opts.redisRestartAt ?? 0.25));
      const from = Date.now();
      faultLog.push(`${secs(from - started)} Redis kill -9`);
      await redis.restart(500);
      const to = Date.now();
      windows.push({ kind: 'redis', from, to: to + RECOVERY_MARGIN_MS });
      faultLog.push(`${secs(to - started)} Redis back (${ctx.persistent ? 'append-only file replayed' : 'empty'})`);
    })(),
  );
  faults.push(
    (async () => {
      await at(opts.durationMs * (opts.pgCutAt ?? 0.5));
      const from = Date.now();
      faultLog.push(`${secs(from - started)} PostgreSQL cut`);
      await proxy.cut();
      await sleep(opts.pgCutMs);
      await proxy.restore();
      const to = Date.now();
      windows.push({ kind: 'postgres', from, to: to + RECOVERY_MARGIN_MS });
      faultLog.push(`${secs(to - started)} PostgreSQL restored`);
    })(),
  );
  // Stock is sampled straight from the database (not through the relay) all along.
  let minStockSeen = Number.POSITIVE_INFINITY;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await db.query<{ m: number }>('SELECT min(stock)::int AS m FROM products WHERE business_id = $1', [COFFEE]).catch(() => ({ rows: [] as { m: number }[] }));
      if (rows[0]) minStockSeen = Math.min(minStockSeen, rows[0].m);
      await sleep(250);
    }
  })();

  // ---- the load ----
  log(`running ${secs(opts.durationMs)} with ${workers.length} sessions …`);
  const rnd = (n: number) => Math.floor(Math.random() * n);
  await Promise.all(
    workers.map(async (w) => {
      await sleep(rnd(200));
      while (Date.now() < endAt) {
        await sleep(THINK_MS[0] + rnd(THINK_MS[1] - THINK_MS[0]));
        const cart = w.carts[rnd(w.carts.length)]!;
        const ops = ledger.get(cart)!;
        const roll = rnd(100);
        const sku = SKUS[rnd(SKUS.length)]!;
        if (roll < 35) {
          const quantity = 1 + rnd(3);
          const r = classify(await tool(w, 'add_item_to_cart', { sku, quantity, cart_id: cart }));
          ops.push({ kind: 'add', sku, quantity, outcome: r.outcome, ...(r.cart ? { after: r.cart } : {}) });
        } else if (roll < 55) {
          const quantity = rnd(5);
          const r = classify(await tool(w, 'update_cart_item', { sku, quantity, cart_id: cart }));
          ops.push({ kind: 'set', sku, quantity, outcome: r.outcome, ...(r.cart ? { after: r.cart } : {}) });
        } else if (roll < 65) {
          const r = classify(await tool(w, 'remove_item_from_cart', { sku, cart_id: cart }));
          ops.push({ kind: 'remove', sku, outcome: r.outcome, ...(r.cart ? { after: r.cart } : {}) });
        } else if (roll < 88) {
          const r = classify(await tool(w, 'view_cart', { cart_id: cart }));
          if (r.outcome === 'ack') ops.push({ kind: 'view', outcome: 'ack', after: r.cart! });
        } else {
          // Checkout with an idempotency key, retried with the same key until it is answered.
          const attempt: OrderAttempt = { key: `chaos-${runId}-w${w.n}-k${w.checkouts++}`, cart, attempts: 0, orderIds: [], created: [], outcome: 'unanswered' };
          orders.push(attempt);
          let abandonedAttempt = false;
          for (; attempt.attempts < 8; ) {
            attempt.attempts++;
            const raw = await tool(w, 'checkout', { cart_id: cart, idempotency_key: attempt.key });
            const r = classify(raw);
            if (r.outcome === 'abandoned') abandonedAttempt = true;
            if (r.outcome === 'ack') {
              attempt.outcome = 'ack';
              attempt.orderIds.push(raw.body.result.structuredContent.order.order_id);
              attempt.created.push(raw.body.result.structuredContent.created === true);
              break;
            }
            if (r.outcome === 'refused') {
              attempt.outcome = 'refused';
              break;
            }
            if (Date.now() > endAt + 15_000) break;
            await sleep(Math.min(3_000, 1000 * Number(raw.retryAfter ?? 0) || 300 * attempt.attempts));
          }
          // An attempt still running somewhere may clear the cart later: the cart's ledger cannot be exact after it.
          ops.push({ kind: 'checkout', outcome: abandonedAttempt ? 'abandoned' : attempt.outcome });
        }
        if (w.era === 'legacy' && w.last === 404) {
          w.sid = await sendInit();
          await tool(w, 'set_active_business', { business_id: COFFEE });
        }
      }
    }),
  );
  const loadEnded = Date.now();
  await Promise.all(faults);
  await Promise.all(restarts);
  sampling = false;
  await sampler;
  log(`load done after ${secs(loadEnded - started)}; faults: ${faultLog.join('; ')}`);

  // ---- audit ----
  await waitAllReady(cluster);
  const violations: string[] = [];
  const verifier: Worker = { n: -1, era: 'modern', carts: [], checkouts: 0 };
  const finalCarts = new Map<string, Lines>();
  // (With persistence this is already the user's choice; without it, the Redis restart forgot it.)
  await tool(verifier, 'set_active_business', { business_id: COFFEE });
  await pool([...ledger.keys()], 20, async (cart) => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await tool(verifier, 'view_cart', { cart_id: cart });
      if (r.status === 200 && r.body?.result && !r.body.result.isError) {
        finalCarts.set(cart, linesOf(r.body.result.structuredContent));
        return;
      }
      await sleep(300);
    }
    violations.push(`could not read cart ${cart} after the run`);
  });

  let ackedWrites = 0;
  let lostWrites = 0;
  let determinateCarts = 0;
  let ambiguousCarts = 0;
  let staleReads = 0;
  let unansweredWrites = 0;
  let abandonedCarts = 0;
  const lostDetails: string[] = [];
  const staleDetails: string[] = [];
  for (const [cart, ops] of ledger) {
    let known: Lines = {};
    let pending: CartOp[] = [];
    let hadPending = false;
    // After a call this client abandoned, the call may apply at any later moment: only what came before is exact.
    const cut = ops.findIndex((op) => op.outcome === 'abandoned');
    if (cut !== -1) abandonedCarts++;
    for (const op of cut === -1 ? ops : ops.slice(0, cut)) {
      if (op.outcome === 'refused') continue;
      if (op.outcome === 'unanswered') {
        pending.push(op);
        hadPending = true;
        unansweredWrites++;
        continue;
      }
      if (op.kind !== 'view') ackedWrites++;
      const candidates = reachable(known, pending, op.kind === 'view' ? undefined : op);
      const observed = op.kind === 'checkout' ? {} : op.after!;
      if (!candidates.some((c) => sameLines(c, observed))) {
        const detail = `${cart}: after ${op.kind} ${op.sku ?? ''} ${op.quantity ?? ''} expected one of ${JSON.stringify(candidates.slice(0, 4))}, server said ${JSON.stringify(observed)}`;
        if (op.kind === 'view') {
          staleReads++;
          staleDetails.push(detail);
        } else {
          lostWrites++;
          lostDetails.push(detail);
        }
      }
      known = observed;
      pending = [];
    }
    const final = finalCarts.get(cart);
    if (final && cut === -1) {
      const candidates = reachable(known, pending);
      if (!candidates.some((c) => sameLines(c, final))) {
        lostWrites++;
        lostDetails.push(`${cart}: final ${JSON.stringify(final)} is not the replay ${JSON.stringify(candidates.slice(0, 4))}`);
      }
    }
    if (cut !== -1) continue;
    if (hadPending) ambiguousCarts++;
    else determinateCarts++;
  }
  if (lostWrites) violations.push(`${lostWrites} acknowledged cart write(s) lost or refused ones applied: ${lostDetails.slice(0, 5).join(' | ')}`);
  if (staleReads) violations.push(`${staleReads} read(s) did not show acknowledged writes: ${staleDetails.slice(0, 5).join(' | ')}`);

  // Orders.
  const { rows: dbOrders } = await db.query<{ id: string; idempotency_key: string }>(`SELECT id, idempotency_key FROM orders WHERE business_id = $1 AND idempotency_key LIKE $2`, [COFFEE, `chaos-${runId}-%`]);
  const byKey = new Map<string, string[]>();
  for (const o of dbOrders) byKey.set(o.idempotency_key, [...(byKey.get(o.idempotency_key) ?? []), o.id]);
  const acked = orders.filter((o) => o.outcome === 'ack');
  const lostOrders = acked.filter((o) => !(byKey.get(o.key) ?? []).includes(o.orderIds[0]!));
  const duplicates = [...byKey.values()].filter((ids) => ids.length > 1).length;
  const retriedSame = acked.filter((o) => o.attempts > 1).length;
  const replayedOrders = acked.filter((o) => o.created[0] === false).length;
  const unackedPlaced = orders.filter((o) => o.outcome !== 'ack' && byKey.has(o.key)).length;
  const refusedPlaced = orders.filter((o) => o.outcome === 'refused' && byKey.has(o.key)).length;
  if (lostOrders.length) violations.push(`${lostOrders.length} acknowledged order(s) missing: ${lostOrders.slice(0, 5).map((o) => `${o.key} → ${o.orderIds[0]}`).join(', ')}`);
  if (duplicates) violations.push(`${duplicates} idempotency key(s) with more than one order`);
  if (refusedPlaced) violations.push(`${refusedPlaced} refused checkout(s) placed an order anyway`);

  // Stock.
  const stockEnd = await stockBySku(db);
  const { rows: ordered } = await db.query<{ sku: string; q: string }>(
    `SELECT l.sku, sum(l.quantity)::text AS q FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.business_id = $1 GROUP BY l.sku`,
    [COFFEE],
  );
  const orderedBySku = new Map(ordered.map((r) => [r.sku, Number(r.q)]));
  const conservation = [...ctx.stockStart].filter(([sku, start]) => start - (orderedBySku.get(sku) ?? 0) !== stockEnd.get(sku));
  const minStockEnd = Math.min(...stockEnd.values());
  if (conservation.length) violations.push(`stock not conserved for ${conservation.map(([sku, s]) => `${sku} (start ${s}, ordered ${orderedBySku.get(sku) ?? 0}, end ${stockEnd.get(sku)})`).join(', ')}`);
  if (minStockEnd < 0 || minStockSeen < 0) violations.push(`negative stock (end ${minStockEnd}, seen ${minStockSeen})`);

  // Statuses.
  const inWindow = (c: Call, kind?: Window['kind']) => windows.some((w) => (kind === undefined || w.kind === kind) && c.start <= w.to && c.end >= w.from);
  /** Which fault may explain a 5xx: a 502 an instance kill, a 503 the service it names. */
  const causeOf = (c: Call): Window['kind'] | undefined => {
    if (c.status === 502) return 'kill';
    if (c.status !== 503) return undefined;
    const message = String(c.body?.error?.message);
    return /Redis/.test(message) ? 'redis' : /database|PostgreSQL/.test(message) ? 'postgres' : undefined;
  };
  const fivexx = calls.filter((c) => c.status >= 500);
  // Each 5xx must fall inside the window of the fault it names, not merely inside some fault's window.
  const outside = fivexx.filter((c) => {
    const cause = causeOf(c);
    return cause === undefined || !inWindow(c, cause);
  });
  const noRetryAfter = calls.filter((c) => c.status === 503 && !c.retryAfter);
  const dropped = calls.filter((c) => c.status === 0 || c.status === 504);
  const droppedOutside = dropped.filter((c) => !inWindow(c));
  if (outside.length) violations.push(`${outside.length} 5xx outside the window of the fault they name, e.g. ${outside.slice(0, 3).map((c) => `${c.status} at ${secs(c.start - started)}-${secs(c.end - started)}: ${JSON.stringify(c.body)?.slice(0, 160)}`).join(' | ')}`);
  if (noRetryAfter.length) violations.push(`${noRetryAfter.length} 503 without Retry-After`);
  if (droppedOutside.length) violations.push(`${droppedOutside.length} request(s) without an answer outside the fault windows: ${droppedOutside.slice(0, 3).map((c) => c.error).join(' | ')}`);
  if (counts.sessionsLost) violations.push(`${counts.sessionsLost} request(s) found their session gone (404)`);
  if (counts.internalToolErrors) violations.push(`${counts.internalToolErrors} tool call(s) answered "internal error"`);
  if (counts.unexpected4xx.length) violations.push(`${counts.unexpected4xx.length} unexpected 4xx: ${counts.unexpected4xx.slice(0, 3).join(' | ')}`);
  if (kills === 0) violations.push('no instance was killed');

  const byStatus = countBy(calls, (c) => String(c.status));
  /** How long after its fault was healed the last 503 naming that service was answered. */
  const recovery = (kind: Window['kind'], message: RegExp) => {
    const healedAt = windows.find((w) => w.kind === kind)?.to;
    if (healedAt === undefined) return 'n/a';
    const last = Math.max(...calls.filter((c) => c.status === 503 && message.test(String(c.body?.error?.message))).map((c) => c.end));
    return Number.isFinite(last) ? `${secs(Math.max(0, last - (healedAt - RECOVERY_MARGIN_MS)))}` : 'none';
  };
  const loadSeconds = (loadEnded - started) / 1000;
  const figures: [string, string | number][] = [
    ['run', `${runId}: ${secs(loadEnded - started)} of load, ${workers.length} sessions (${workers.filter((w) => w.era === 'modern').length} of them stateless 2026-07-28)`],
    ['faults', faultLog.join('; ')],
    ['instance kills (kill -9), all restarted', kills],
    [`Redis restarts (${ctx.persistent ? 'appendonly yes, appendfsync always' : 'NO persistence'})`, 1],
    ['PostgreSQL cuts', `1 × ${secs(opts.pgCutMs)}`],
    ['requests', `${calls.length} (${Math.round(calls.length / loadSeconds)}/s)`],
    ['answers by status', Object.entries(byStatus).sort().map(([s, n]) => `${s === '0' ? 'no answer' : s}: ${n}`).join(', ')],
    ['acknowledged cart writes', ackedWrites],
    ['cart writes without an answer (in-flight at a fault)', unansweredWrites],
    ['acknowledged cart writes lost', lostWrites],
    ['reads missing an acknowledged write', staleReads],
    ['carts audited: exact replay / with unanswered calls (checked by reachability)', `${determinateCarts} / ${ambiguousCarts}`],
    ['carts audited only up to a call abandoned without an answer (it may still apply later)', abandonedCarts],
    ['checkouts: acknowledged / refused / unanswered', `${acked.length} / ${orders.filter((o) => o.outcome === 'refused').length} / ${orders.filter((o) => o.outcome === 'unanswered').length}`],
    ['acknowledged orders missing from PostgreSQL', lostOrders.length],
    ['idempotency keys with more than one order', duplicates],
    ['checkouts answered only after a retry with the same key (of which replays: created=false)', `${retriedSame} (${replayedOrders})`],
    ['orders placed whose answer never arrived', unackedPlaced],
    ['stock: lowest seen during the run / at the end', `${minStockSeen} / ${minStockEnd}`],
    ['stock not conserved (start − ordered ≠ end)', conservation.length],
    ['5xx outside the window of the fault they name', outside.length],
    [
      '5xx inside fault windows: 502 (in flight on a killed instance) / 503 (with Retry-After)',
      `${fivexx.filter((c) => c.status === 502).length} / ${fivexx.filter((c) => c.status === 503).length} (${fivexx.filter((c) => c.status === 503).length - noRetryAfter.length})`,
    ],
    [`requests without an answer within ${secs(REQUEST_TIMEOUT_MS)} (abandoned)`, `${dropped.length} (outside fault windows: ${droppedOutside.length})`],
    ['last 503 after the fault was healed: Redis / PostgreSQL', `${recovery('redis', /Redis/)} / ${recovery('postgres', /database/)}`],
    ['sessions lost (404)', counts.sessionsLost],
    ['invariants', violations.length === 0 ? 'all held' : `${violations.length} violated`],
  ];
  return { figures, violations };
}

// ---- the ledger's arithmetic -------------------------------------------------------------------------------

function linesOf(cart: { lines?: { sku: string; quantity: number }[] } | undefined): Lines {
  const out: Lines = {};
  for (const l of cart?.lines ?? []) out[l.sku] = l.quantity;
  return out;
}

function sameLines(a: Lines, b: Lines): boolean {
  const ka = Object.keys(a).filter((k) => a[k]! > 0);
  const kb = Object.keys(b).filter((k) => b[k]! > 0);
  return ka.length === kb.length && ka.every((k) => a[k] === b[k]);
}

function apply(state: Lines, op: CartOp): Lines {
  const next = { ...state };
  switch (op.kind) {
    case 'add':
      next[op.sku!] = (next[op.sku!] ?? 0) + op.quantity!;
      break;
    case 'set':
      if (op.quantity! > 0) next[op.sku!] = op.quantity!;
      else delete next[op.sku!];
      break;
    case 'remove':
      delete next[op.sku!];
      break;
    case 'checkout':
      return {};
    case 'view':
      break;
  }
  return next;
}

/** Every state reachable from `start` by applying any subset of `pending` in order, then `last` (if given). */
function reachable(start: Lines, pending: CartOp[], last?: CartOp): Lines[] {
  let states: Lines[] = [start];
  for (const op of pending.slice(-12)) {
    const next = [...states, ...states.map((s) => apply(s, op))];
    states = next.length > 4096 ? next.slice(0, 4096) : next;
  }
  return last ? states.map((s) => apply(s, last)) : states;
}

// ---- infrastructure ----------------------------------------------------------------------------------------

interface DurableRedis {
  url: string;
  /** kill -9, wait `downMs`, start again on the same port and directory (the append-only file is replayed). */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

async function startDurableRedis(onLine: (line: string) => void, persistent: boolean): Promise<DurableRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'flowpos-chaos-redis-'));
  const port = await freePort();
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...(persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']), '--loglevel', 'warning'];
  let proc: Supervised | undefined;
  const start = async () => {
    proc = await spawnSupervised({ name: 'redis', command: bin, args, onLine });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (await redisPing(port)) return;
      if (!proc.running()) throw new Error(`redis-server exited at start-up (is ${bin} installed?)`);
      await sleep(50);
    }
    throw new Error('redis-server did not answer PING within 15 s');
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart(downMs) {
      await proc?.stop({ signal: 'SIGKILL' });
      await sleep(downMs);
      await start();
    },
    async stop() {
      await proc?.stop({ signal: 'SIGKILL' });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function redisPing(port: number): Promise<boolean> {
  const { Socket } = await import('node:net');
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    // With an append-only file to replay, Redis answers -LOADING until it is done: only +PONG counts.
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

async function restartWithRetry(cluster: Cluster, i: number, log: (line: string) => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await cluster.restart(i);
      return;
    } catch (err) {
      // E.g. it started while PostgreSQL was cut and exited: start it again.
      if (attempt >= 6) throw err;
      log(`restart of ${cluster.instances[i]!.name} failed (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); again`);
      await sleep(1_000);
    }
  }
}

async function waitAllReady(cluster: Cluster): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (const url of cluster.instanceUrls) {
    while (Date.now() < deadline) {
      const ok = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status === 200, () => false);
      if (ok) break;
      await sleep(200);
    }
  }
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function stockBySku(db: pg.Pool): Promise<Map<string, number>> {
  const { rows } = await db.query<{ sku: string; stock: number }>('SELECT sku, stock FROM products WHERE business_id = $1', [COFFEE]);
  return new Map(rows.map((r) => [r.sku, Number(r.stock)]));
}

async function pool<T>(items: T[], inFlight: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, items.length) }, async () => {
      while (next < items.length) await job(items[next++]!);
    }),
  );
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function formatTable(report: ChaosReport): string {
  const width = Math.max(...report.figures.map(([k]) => k.length));
  const rows = report.figures.map(([k, v]) => `| ${k.padEnd(width)} | ${String(v)} |`);
  return [`| ${'figure'.padEnd(width)} | value |`, `|${'-'.repeat(width + 2)}|-------|`, ...rows].join('\n');
}

// ---- command line ------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '60' },
      sessions: { type: 'string', default: '300' },
      'kill-every': { type: 'string', default: '15' },
      'pg-cut': { type: 'string', default: '5' },
      // Checks the audit itself: without persistence the Redis restart loses writes, and the run must fail.
      'no-redis-persistence': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = (name: string, v: string | undefined, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max}, got ${v}`);
    return n;
  };
  const report = await runChaos({
    durationMs: num('duration', values.duration, 5, 600) * 1000,
    sessions: Math.round(num('sessions', values.sessions, 1, 2000)),
    killEveryMs: num('kill-every', values['kill-every'], 2, 600) * 1000,
    pgCutMs: num('pg-cut', values['pg-cut'], 0.5, 60) * 1000,
    redisPersistence: !values['no-redis-persistence'],
  });
  process.stdout.write(`\n${formatTable(report)}\n`);
  if (report.violations.length) {
    process.stdout.write(`\nViolated:\n${report.violations.map((v) => `- ${v}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exit(2);
    },
  );
}
