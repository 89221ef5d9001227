import type { BusMessage } from './session-bus.js';

/** Wire format of bus messages, shared by the memory and Redis buses so both copy and validate alike. */

export function encodeBusMessage(message: BusMessage): string {
  if (typeof message !== 'object' || message === null) throw new TypeError('bus message must be an object');
  if (message.kind === 'close') return JSON.stringify({ kind: 'close' });
  if (message.kind === 'message' || message.kind === 'reply') {
    if (typeof message.message !== 'object' || message.message === null || Array.isArray(message.message)) {
      throw new TypeError('bus message.message must be an object');
    }
    if (message.kind === 'reply') return JSON.stringify({ kind: 'reply', message: message.message });
    const { streamId, eventId } = message;
    if ((streamId !== undefined && typeof streamId !== 'string') || (eventId !== undefined && typeof eventId !== 'string')) {
      throw new TypeError('bus message streamId/eventId must be strings');
    }
    return JSON.stringify({ kind: 'message', message: message.message, ...(streamId ? { streamId } : {}), ...(eventId ? { eventId } : {}) });
  }
  throw new TypeError(`unknown bus message kind: ${String((message as { kind?: unknown }).kind)}`);
}

/** null for anything that is not a message this code would have published. */
export function decodeBusMessage(json: string): BusMessage | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { kind, message, streamId, eventId } = parsed as { kind?: unknown; message?: unknown; streamId?: unknown; eventId?: unknown };
  if (kind === 'close') return { kind: 'close' };
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return null;
  if (kind === 'reply') return { kind: 'reply', message: message as Record<string, unknown> };
  if (kind === 'message') {
    return {
      kind: 'message',
      message: message as Record<string, unknown>,
      ...(typeof streamId === 'string' ? { streamId } : {}),
      ...(typeof eventId === 'string' ? { eventId } : {}),
    };
  }
  return null;
}

export type BusErrorReporter = (err: unknown) => void;

export const defaultBusErrorReporter: BusErrorReporter = (err) => {
  console.error('[session-bus] a subscriber threw:', err);
};

/** Calls a subscriber; its exceptions are reported, never passed to the publisher or to other subscribers. */
export function deliver(handler: (message: BusMessage) => void, json: string, onError: BusErrorReporter): void {
  const message = decodeBusMessage(json);
  if (!message) return;
  try {
    handler(message);
  } catch (err) {
    try {
      onError(err);
    } catch {
      // nothing left to tell
    }
  }
}
