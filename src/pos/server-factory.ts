import { McpServer, type JSONRPCRequest } from '@modelcontextprotocol/server';
import type { SessionRecord } from '../state/session-store.js';
import type { McpCallContext, McpServerFactory } from '../mcp/call-context.js';
import type { PosService } from './pos-service.js';
import { registerResources } from './resources.js';
import { toolDefinitions } from './tool-definitions.js';
import { registerTools, type ToolDeps } from './tools.js';

export const SERVER_INFO = { name: 'flowpos-mcp', title: 'FlowPOS', version: '0.1.0' };

const INSTRUCTIONS =
  'FlowPOS point of sale. Start with list_businesses; if several are listed and none is active, call set_active_business. ' +
  'Find products with search_products, build the cart with add_item_to_cart / update_cart_item, review it with view_cart, ' +
  'then checkout with an idempotency_key. Prices are integers in minor units (cents).';

/**
 * Whether a 2025-era request must be answered on an SSE stream: checkout may ask the person to confirm, and
 * that question can only travel on a stream.
 */
export function checkoutMayConfirm(request: JSONRPCRequest, record: SessionRecord): boolean {
  const params = request.params as { name?: unknown } | undefined;
  return request.method === 'tools/call' && params?.name === 'checkout' && record.clientCapabilities.elicitation !== undefined;
}

/** Builds the fresh server each request is served by. Everything heavy (schemas) is prepared at module load. */
export function createPosServerFactory(pos: PosService, tools: Omit<ToolDeps, 'pos'>): McpServerFactory {
  return (call: McpCallContext) => {
    const server = new McpServer(SERVER_INFO, {
      // Resource subscriptions: cart changes are announced as notifications/resources/updated, on a 2025-era
      // session's GET stream and on 2026-07-28 subscriptions/listen streams.
      capabilities: { tools: { listChanged: false }, resources: { listChanged: false, subscribe: true }, completions: {} },
      instructions: INSTRUCTIONS,
    });
    // A tools/call of a known tool needs that tool alone (not 13 tools and 3 resources); an unknown name gets every
    // tool, so the SDK answers it exactly as before.
    // The handshake answers with the declared capabilities, instructions and server info: no tool or resource is
    // reached, and registering them would not change what it says.
    if (call.handshake) return server;
    const only = call.toolCall !== undefined && Object.hasOwn(toolDefinitions(tools.maxLineQuantity), call.toolCall) ? call.toolCall : undefined;
    registerTools(server, call, { pos, ...tools }, only);
    if (only !== undefined) return server;
    registerResources(server, call, pos);
    if (call.era === 'legacy') {
      // Cart updates reach every stream of the user anyway; a subscription needs no state of its own.
      server.server.setRequestHandler('resources/subscribe', () => ({}));
      server.server.setRequestHandler('resources/unsubscribe', () => ({}));
    }
    return server;
  };
}
