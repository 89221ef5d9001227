import assert from 'node:assert/strict';
import { test } from 'node:test';
import { McpServer, WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import { restoreClientState } from '../../src/mcp/client-state.js';

/** Guards the one place we reach into SDK internals: if an upgrade renames the fields, this fails. */
test('a per-request server given a stored handshake reports the client as the handshake did', async () => {
  const server = new McpServer({ name: 't', version: '1' });
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  assert.equal(server.server.getClientCapabilities(), undefined);
  restoreClientState(server, {
    clientCapabilities: { elicitation: { form: {} }, roots: { listChanged: true } },
    clientInfo: { name: 'inspector', version: '0.9' },
    protocolVersion: '2025-06-18',
  });
  assert.deepEqual(server.server.getClientCapabilities(), { elicitation: { form: {} }, roots: { listChanged: true } });
  assert.deepEqual(server.server.getClientVersion(), { name: 'inspector', version: '0.9' });
  assert.equal(server.server.getNegotiatedProtocolVersion(), '2025-06-18');
  await server.close();
});
