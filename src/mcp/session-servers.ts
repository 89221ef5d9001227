import type { McpServer } from '@modelcontextprotocol/server';
import type { McpCallContext, McpSessionHandle } from './call-context.js';
import type { DirectJsonTransport } from './direct-json-transport.js';
import { closeAnsweredServer } from './json-answer.js';

/**
 * A connected SDK server (and its direct JSON transport) for one 2025-era session, reused by the requests of
 * that session that reach this instance. What it holds never decides anything on its own: the session is loaded
 * and touched in Redis for every request, and the request's credential, failure sink and the session's active
 * business are written into `call` before each use.
 */
export interface SessionServer {
  readonly sessionId: string;
  /** The session's owner and creation time when the server was built: a record that differs is not served by it. */
  readonly uid: string;
  readonly createdAt: number;
  readonly call: McpCallContext & { session: McpSessionHandle };
  readonly server: McpServer;
  readonly transport: DirectJsonTransport;
}

interface Slot {
  /** Absent until the session's second request here (see `take`). */
  entry?: SessionServer;
  /** Taken by a request in flight: a concurrent request of the same session is served without it. */
  busy: boolean;
  lastUsed: number;
}

/**
 * The per-instance cache of session servers: an LRU of at most `size` sessions, each dropped after `idleMs`
 * unused. Losing it loses nothing (the session is in the store), so eviction, a restart or another instance
 * serving the next request only costs a rebuild.
 */
export class SessionServers {
  readonly #slots = new Map<string, Slot>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly size: number,
    private readonly idleMs: number,
  ) {
    this.#timer = setInterval(() => this.sweep(Date.now()), Math.max(1000, Math.floor(idleMs / 4)));
    this.#timer.unref();
  }

  /**
   * The session's server for one request, held until `release`; 'build' when the caller should build it (and
   * `adopt` it); undefined when the request is better served by a one-off server: the first request of a session
   * on this instance (many clients send one tool call per session, and a one-off server registers only the tool it
   * calls, a quarter of the cost of a full one), or a second request of the session while the first is in flight.
   */
  take(sessionId: string, uid: string, createdAt: number): SessionServer | 'build' | undefined {
    const slot = this.#slots.get(sessionId);
    if (!slot) {
      this.#slots.set(sessionId, { busy: false, lastUsed: Date.now() });
      this.trim();
      return undefined;
    }
    if (slot.busy) return undefined;
    slot.busy = true;
    // Most recently used last: the Map's order is the eviction order.
    this.#slots.delete(sessionId);
    this.#slots.set(sessionId, slot);
    const entry = slot.entry;
    if (entry && entry.uid === uid && entry.createdAt === createdAt) return entry;
    if (entry) dispose(entry);
    delete slot.entry;
    return 'build';
  }

  /** Stores the server the caller built after `take` said 'build'; it stays held until `release`. */
  adopt(entry: SessionServer): void {
    const slot = this.#slots.get(entry.sessionId);
    if (slot) slot.entry = entry;
    else this.#slots.set(entry.sessionId, { entry, busy: true, lastUsed: Date.now() });
  }

  /** Hands a server back after its request; one that is not `reusable` (its request failed) is dropped. */
  release(entry: SessionServer, reusable: boolean): void {
    const slot = this.#slots.get(entry.sessionId);
    if (slot?.entry !== entry) {
      // Evicted or deleted while in use.
      dispose(entry);
      return;
    }
    if (!reusable) {
      this.#slots.delete(entry.sessionId);
      dispose(entry);
      return;
    }
    slot.busy = false;
    slot.lastUsed = Date.now();
  }

  /** Gives up a 'build' that failed. */
  abandon(sessionId: string): void {
    const slot = this.#slots.get(sessionId);
    if (slot && !slot.entry) this.#slots.delete(sessionId);
  }

  /** The session is gone (deleted, expired, unknown): nothing of it may be served again. */
  evict(sessionId: string): void {
    const slot = this.#slots.get(sessionId);
    if (!slot) return;
    this.#slots.delete(sessionId);
    // One in use is disposed when it is released.
    if (slot.entry && !slot.busy) dispose(slot.entry);
  }

  /** Whether a built server is kept for this session. */
  has(sessionId: string): boolean {
    return this.#slots.get(sessionId)?.entry !== undefined;
  }

  /** The active business the session's server was last told, if it is cached for this user. */
  lastActiveBusiness(sessionId: string, uid: string): string | undefined {
    const entry = this.#slots.get(sessionId)?.entry;
    return entry?.uid === uid ? entry.call.session.activeBusinessId : undefined;
  }

  /** Sessions known here (with or without a built server). */
  get count(): number {
    return this.#slots.size;
  }

  /** Sessions with a built server. */
  get servers(): number {
    let n = 0;
    for (const slot of this.#slots.values()) if (slot.entry) n++;
    return n;
  }

  close(): void {
    clearInterval(this.#timer);
    for (const id of [...this.#slots.keys()]) this.evict(id);
  }

  private trim(): void {
    if (this.#slots.size <= this.size) return;
    for (const [id, slot] of this.#slots) {
      if (this.#slots.size <= this.size) break;
      if (!slot.busy) this.evict(id);
    }
  }

  private sweep(now: number): void {
    for (const [id, slot] of this.#slots) if (!slot.busy && now - slot.lastUsed > this.idleMs) this.evict(id);
  }
}

function dispose(entry: SessionServer): void {
  closeAnsweredServer(entry.server, entry.transport);
}
