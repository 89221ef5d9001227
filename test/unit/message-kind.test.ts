import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isJSONRPCNotification, isJSONRPCRequest, isJSONRPCResponse } from '@modelcontextprotocol/server';
import { messageKind } from '../../src/mcp/message-kind.js';

/** The SDK's guards asked in full, in order: what messageKind must agree with while asking fewer of them. */
function bySdk(body: unknown): string {
  return isJSONRPCRequest(body) ? 'request' : isJSONRPCNotification(body) ? 'notification' : isJSONRPCResponse(body) ? 'response' : 'invalid';
}

const BODIES: unknown[] = [
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', arguments: {} } },
  { jsonrpc: '2.0', id: 'a', method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } },
  { jsonrpc: '2.0', id: 1, result: {} },
  { jsonrpc: '2.0', id: 1, error: { code: -32600, message: 'no' } },
  { jsonrpc: '2.0', error: { code: -32700, message: 'parse' } },
  // Near misses: each one key or value away from a valid message.
  { jsonrpc: '2.0', id: null, method: 'tools/list' },
  { jsonrpc: '2.0', id: 1.5, method: 'tools/list' },
  { jsonrpc: '2.0', id: 1, method: 7 },
  { jsonrpc: '1.0', id: 1, method: 'tools/list' },
  { id: 1, method: 'tools/list' },
  { jsonrpc: '2.0', method: 'notifications/initialized', extra: true },
  { jsonrpc: '2.0', id: 1, method: 'tools/list', extra: true },
  { jsonrpc: '2.0', method: 'notifications/initialized', params: 'x' },
  { jsonrpc: '2.0', id: 1, result: {}, error: { code: 1, message: 'both' } },
  { jsonrpc: '2.0', id: 1 },
  { jsonrpc: '2.0', id: 1, method: 'x', result: {} },
  { jsonrpc: '2.0', result: {} },
  { jsonrpc: '2.0', id: 1, error: { code: 'x', message: 'no' } },
  {},
  [],
  [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }],
  'tools/list',
  42,
  null,
];

test('messageKind gives the SDK guards’ verdict for every body, valid or nearly so', () => {
  for (const body of BODIES) assert.equal(messageKind(body), bySdk(body), JSON.stringify(body));
});

test('messageKind decides once per body object', () => {
  const body = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
  assert.equal(messageKind(body), 'request');
  // A later change to the same object is not re-parsed: the verdict belongs to the body as it arrived.
  (body as Record<string, unknown>).method = 5;
  assert.equal(messageKind(body), 'request');
});
