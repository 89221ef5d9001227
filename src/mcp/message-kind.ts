import { isJSONRPCNotification, isJSONRPCRequest, isJSONRPCResponse } from '@modelcontextprotocol/server';

export type MessageKind = 'request' | 'notification' | 'response' | 'invalid';

const kinds = new WeakMap<object, MessageKind>();

/**
 * What a parsed body is, by the SDK's own guards, decided once per body: each guard is a full schema parse (and a
 * failing one builds its issues), and a request's body is asked about several times on its way through.
 */
export function messageKind(body: unknown): MessageKind {
  if (typeof body !== 'object' || body === null) return 'invalid';
  let kind = kinds.get(body);
  if (kind === undefined) {
    kind = isJSONRPCRequest(body) ? 'request' : isJSONRPCNotification(body) ? 'notification' : isJSONRPCResponse(body) ? 'response' : 'invalid';
    kinds.set(body, kind);
  }
  return kind;
}
