import type { SessionBus } from '../state/session-bus.js';

const encoder = new TextEncoder();

export interface SessionStreamOptions {
  sessionId: string;
  bus: SessionBus;
  keepAliveMs: number;
  /** Milliseconds a client should wait before reconnecting (sent as the SSE `retry` field). */
  retryMs: number;
  /** Called on every keep-alive tick; resolving false ends the stream (the session expired or was deleted). */
  stillAlive: () => Promise<boolean>;
  onClose?: () => void;
}

export interface OpenStream {
  response: Response;
  /** Ends the stream (for shutdown or session deletion). */
  end(): void;
}

/**
 * The 2025-era standalone GET stream. It holds no session state of its own: messages arrive over the bus
 * from whichever instance produced them, and the keep-alive tick doubles as the session's liveness check,
 * so a listening client keeps its session alive and a deleted session ends its streams everywhere.
 */
export async function openSessionStream(opts: SessionStreamOptions): Promise<OpenStream> {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  // Set once subscribed; `end` may run before that (a close message racing the subscription).
  const subscription: { unsubscribe?: () => Promise<void> } = {};
  let timer: NodeJS.Timeout | undefined;

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
    if (timer) clearInterval(timer);
    void subscription.unsubscribe?.().catch(() => {});
    try {
      controller.close();
    } catch {
      // already closed by the consumer
    }
    opts.onClose?.();
  };

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      end();
    },
  });

  // Subscribe before answering, so nothing published after the client sees 200 is missed.
  subscription.unsubscribe = await opts.bus.subscribe(opts.sessionId, (msg) => {
    if (msg.kind === 'close') {
      end();
      return;
    }
    write(`event: message\ndata: ${JSON.stringify(msg.message)}\n\n`);
  });
  if (closed) await subscription.unsubscribe().catch(() => {});
  write(`retry: ${opts.retryMs}\n\n`);

  if (opts.keepAliveMs > 0) {
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

  const response = new Response(body, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      'mcp-session-id': opts.sessionId,
    },
  });
  return { response, end };
}
