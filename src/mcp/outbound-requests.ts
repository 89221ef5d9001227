import { randomUUID } from 'node:crypto';
import { isJSONRPCRequest, type JSONRPCMessage, type Transport, type TransportSendOptions } from '@modelcontextprotocol/server';
import type { SessionBus } from '../state/session-bus.js';

/**
 * Server→client requests (elicitation, sampling) from a per-request server, answered by a client POST that
 * may reach any instance.
 *
 * Every fresh server numbers its requests from 0, so two tool calls of one session would both send id 0 and
 * the answers could not be told apart. On the way out each request gets a unique wire id; the answer, posted
 * to whichever instance, is published on the session bus as a `reply`, and the instance that owns the wire
 * id hands it back to its server under the original id.
 */
export function routeOutboundRequests(transport: Transport, sessionId: string, bus: SessionBus): { dispose(): void } {
  const pending = new Map<string, string | number>();
  let subscribed: Promise<() => Promise<void>> | undefined;
  const send = transport.send.bind(transport);

  const ensureSubscribed = () =>
    (subscribed ??= bus.subscribe(sessionId, (msg) => {
      if (msg.kind !== 'reply') return;
      const wireId = msg.message.id;
      if (typeof wireId !== 'string') return;
      const original = pending.get(wireId);
      if (original === undefined) return;
      pending.delete(wireId);
      transport.onmessage?.({ ...msg.message, id: original } as unknown as JSONRPCMessage);
    }));

  transport.send = async (message: JSONRPCMessage, options?: TransportSendOptions) => {
    if (!isJSONRPCRequest(message)) return send(message, options);
    const wireId = `srv-${randomUUID()}`;
    pending.set(wireId, message.id);
    // Listening before the request leaves means even an instant answer is heard.
    await ensureSubscribed();
    return send({ ...message, id: wireId }, options);
  };

  return {
    dispose() {
      pending.clear();
      void subscribed?.then((unsubscribe) => unsubscribe()).catch(() => {});
    },
  };
}
