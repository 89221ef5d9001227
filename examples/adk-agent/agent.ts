import { LlmAgent, MCPToolset, type StreamableHTTPConnectionParams } from '@google/adk';

/**
 * A Google ADK agent that sells from a FlowPOS catalog through flowpos-mcp.
 *
 * ADK's MCPToolset opens a new MCP session for every `getTools()` and every tool call, and never ends one. That is
 * fine here: the active business belongs to the user behind the API key, a cart is named by the cart_id the first
 * add_item_to_cart returns (the instruction makes the model pass it on), and sessions simply expire after
 * MCP_SESSION_IDLE_TTL_SECONDS. Any instance behind any load balancer can serve any of those calls.
 */

export interface PosToolsetOptions {
  /** The MCP endpoint, e.g. http://localhost:4000/mcp or https://<service>.run.app/mcp. */
  url: string;
  /** A flowpos-mcp API key (`flowpos-mcp apikey create …`) or an OAuth access token. */
  apiKey: string;
  /** Only these tools are given to the model (all of them when absent). */
  tools?: string[];
}

export function createPosToolset(opts: PosToolsetOptions): MCPToolset {
  const params: StreamableHTTPConnectionParams = {
    type: 'StreamableHTTPConnectionParams',
    url: opts.url,
    // Every request carries the credential: a session is never proof of identity.
    transportOptions: { requestInit: { headers: { Authorization: `Bearer ${opts.apiKey}` } } },
  };
  return new MCPToolset(params, opts.tools);
}

export const POS_INSTRUCTION = `You are a point-of-sale assistant for a small business, working through the FlowPOS tools.
- Start with list_businesses; if no business is active, ask which one (or pick the only one) and call set_active_business.
- Find products with search_products; quote prices from the tool results (they are in minor units: 450 means 4.50).
- Build the order with add_item_to_cart / update_cart_item / remove_item_from_cart and show it with view_cart.
  The first add_item_to_cart returns a cart_id: pass that cart_id to every later cart tool and to checkout, or
  each call starts or shows another cart.
- Before checkout, read the cart back to the person and get a clear yes. Use one idempotency_key per order.
- When a tool returns an error, read its message: it says what to do next.`;

export function createPosAgent(opts: { toolset: MCPToolset; model?: string }): LlmAgent {
  return new LlmAgent({
    name: 'flowpos_cashier',
    description: 'Takes orders for a FlowPOS business: catalog, cart, checkout.',
    model: opts.model ?? 'gemini-2.5-flash',
    instruction: POS_INSTRUCTION,
    tools: [opts.toolset],
  });
}
