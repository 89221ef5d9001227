import { compareEntryIds } from '../state/event-log.js';
import { formatEventId, parseEventId, STANDALONE_STREAM, type SessionEvents } from './session-events.js';

const encoder = new TextEncoder();

export interface SessionStreamOptions {
  sessionId: string;
  events: SessionEvents;
  /** Which of the session's streams to carry: the standalone stream, or a POST stream being resumed. */
  streamId: string;
  /** Resume after this entry (from Last-Event-ID); absent for a fresh standalone stream. */
  afterEntryId?: string;
  /** Extra live messages for the standalone stream, delivered without ids (they are not in the session's log). */
  userFeed?: (onMessage: (message: Record<string, unknown>) => void) => Promise<() => Promise<void>>;
  keepAliveMs: number;
  /**
   * End the stream after about this long (0 or absent: never), with a retry hint: the client reconnects with
   * Last-Event-ID, through the balancer, maybe to another instance, and misses nothing. Bounds how long one idle
   * listener holds a connection (a Cloud Run concurrency slot) on one instance. Jittered down by up to 10 % so
   * streams opened together do not all reconnect together.
   */
  maxStreamMs?: number;
  /** Milliseconds a client should wait before reconnecting (sent as the SSE `retry` field). */
  retryMs: number;
  /** Called on every keep-alive tick; resolving false ends the stream (the session expired or was deleted). */
  stillAlive: () => Promise<boolean>;
  onClose?: () => void;
}

export interface OpenStream {
  response: Response;
  /** Ends the stream with a retry hint (shutdown: the client reconnects elsewhere and resumes). */
  end(): void;
  /** Events replayed from the log when the stream opened (a reconnect with Last-Event-ID). */
  replayed: number;
}

function isResponse(message: Record<string, unknown>): boolean {
  return 'id' in message && ('result' in message || 'error' in message);
}

/**
 * A 2025-era SSE stream served from the session's event log: it holds no session state of its own. Live
 * events arrive over the bus from whichever instance produced them; a client that reconnects with
 * Last-Event-ID, to any instance, first gets what it missed from the log, then the live tail, with nothing
 * repeated. A resumed POST stream ends after its response, as the original would have.
 */
export async function openSessionStream(opts: SessionStreamOptions): Promise<OpenStream> {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let lifetime: NodeJS.Timeout | undefined;
  // Set once subscribed; `end` may run before that (a close message racing the subscription).
  const subscription: { unsubscribe?: () => Promise<void>; feed?: () => Promise<void> } = {};
  const isPostStream = opts.streamId !== STANDALONE_STREAM;
  let lastEntry = opts.afterEntryId;
  let replaying = true;
  const buffered: { entryId: string; message: Record<string, unknown> }[] = [];
  let replayed = 0;

  const write = (chunk: string) => {
    if (closed) return;
    try {
      controller.enqueue(encoder.encode(chunk));
    } catch {
      end();
    }
  };
  const end = () => {
    if (closed) return;
    closed = true;
    try {
      // Said again at the end, so a client that missed the priming event still waits before resuming.
      controller.enqueue(encoder.encode(`retry: ${opts.retryMs}\n\n`));
    } catch {
      // the consumer is gone
    }
    if (timer) clearInterval(timer);
    if (lifetime) clearTimeout(lifetime);
    void subscription.unsubscribe?.().catch(() => {});
    void subscription.feed?.().catch(() => {});
    try {
      controller.close();
    } catch {
      // already closed by the consumer
    }
    opts.onClose?.();
  };
  const emit = (entryId: string, message: Record<string, unknown>) => {
    if (lastEntry !== undefined && compareEntryIds(entryId, lastEntry) <= 0) return;
    lastEntry = entryId;
    if (Object.keys(message).length === 0) return; // a priming entry: nothing to deliver
    write(`id: ${formatEventId(opts.streamId, entryId)}\nevent: message\ndata: ${JSON.stringify(message)}\n\n`);
    if (isPostStream && isResponse(message)) end();
  };

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      end();
    },
  });

  // Subscribe before reading the log, so nothing appended in between is missed; duplicates are dropped by id.
  subscription.unsubscribe = await opts.events.bus.subscribe(opts.sessionId, (msg) => {
    if (msg.kind === 'close') {
      end();
      return;
    }
    if (msg.kind !== 'message' || msg.streamId !== opts.streamId || !msg.eventId) return;
    const parsed = parseEventId(msg.eventId);
    if (!parsed) return;
    if (replaying) buffered.push({ entryId: parsed.entryId, message: msg.message });
    else emit(parsed.entryId, msg.message);
  });
  if (!isPostStream && opts.userFeed) {
    subscription.feed = await opts.userFeed((message) => {
      if (!replaying) write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
    }).catch(() => undefined);
  }
  if (closed) {
    await subscription.unsubscribe().catch(() => {});
    await subscription.feed?.().catch(() => {});
  }

  try {
    if (opts.afterEntryId !== undefined) {
      write(`retry: ${opts.retryMs}\n\n`);
      for (const e of await opts.events.log.readAfter(opts.sessionId, opts.streamId, opts.afterEntryId)) {
        if (Object.keys(e.message).length > 0) replayed++;
        emit(e.id, e.message);
      }
    } else {
      // The priming event (SEP-1699): an id to resume from even if nothing is ever sent on this stream.
      const entryId = await opts.events.log.append(opts.sessionId, opts.streamId, {});
      lastEntry = entryId;
      write(`id: ${formatEventId(opts.streamId, entryId)}\nretry: ${opts.retryMs}\ndata: \n\n`);
    }
  } catch (err) {
    end();
    throw err;
  }
  replaying = false;
  for (const b of buffered.splice(0)) emit(b.entryId, b.message);

  if (opts.keepAliveMs > 0 && !closed) {
    timer = setInterval(() => {
      write(': keepalive\n\n');
      opts.stillAlive().then(
        (alive) => {
          if (!alive) end();
        },
        () => {
          // A store outage is not a reason to drop a listening client; the next tick tries again.
        },
      );
    }, opts.keepAliveMs);
    timer.unref();
  }
  if (opts.maxStreamMs && opts.maxStreamMs > 0 && !closed) {
    lifetime = setTimeout(end, Math.round(opts.maxStreamMs * (0.9 + Math.random() * 0.1)));
    lifetime.unref();
  }

  const response = new Response(body, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      'mcp-session-id': opts.sessionId,
    },
  });
  return { response, end, replayed };
}
