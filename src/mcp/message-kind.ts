import { isJSONRPCNotification, isJSONRPCRequest, isJSONRPCResponse } from '@modelcontextprotocol/server';

export type MessageKind = 'request' | 'notification' | 'response' | 'invalid';

const kinds = new WeakMap<object, MessageKind>();

/**
 * What a parsed body is, by the SDK's own guards, decided once per body: each guard is a full schema parse (and a
 * failing one builds its issues), and a request's body is asked about several times on its way through.
 *
 * Only the guards that can pass are asked, by what the SDK's schemas require: a request needs `id` and `method`,
 * a notification `method` and (being strict) no `id`, a response `result` or `error`. So a notification is not
 * first parsed as a failing request, the most expensive miss there is.
 */
export function messageKind(body: unknown): MessageKind {
  if (typeof body !== 'object' || body === null) return 'invalid';
  let kind = kinds.get(body);
  if (kind === undefined) {
    const hasId = 'id' in body;
    const hasMethod = 'method' in body;
    kind =
      hasMethod && hasId && isJSONRPCRequest(body)
        ? 'request'
        : hasMethod && !hasId && isJSONRPCNotification(body)
          ? 'notification'
          : ('result' in body || 'error' in body) && isJSONRPCResponse(body)
            ? 'response'
            : 'invalid';
    kinds.set(body, kind);
  }
  return kind;
}
