import * as z from 'zod';
import type { ScopeChallengeHandler, StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import { hasScope, type Principal } from '../auth/principal.js';
import { withCachedJsonSchema } from './cached-schema.js';
import * as S from './schemas.js';

const READ = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;
const WRITE = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false } as const;

/**
 * A write tool called with an access token that lacks pos:write is answered by the SDK, before the tool runs, with
 * HTTP 403 and `WWW-Authenticate: Bearer error="insufficient_scope", scope="pos:write", resource_metadata=…`, so an
 * OAuth client can get a token with more scope and retry. An API key cannot be stepped up that way: its caller keeps
 * getting the tool error (insufficient_scope in structuredContent), which tells the agent what is wrong.
 */
const needsWriteScope: ScopeChallengeHandler = ({ authInfo }) => {
  const principal = (authInfo?.extra as { principal?: Principal } | undefined)?.principal;
  if (principal?.method !== 'access_token' || hasScope(principal, 'pos:write')) return undefined;
  return { scopes: ['pos:write'], errorDescription: 'This tool changes the cart or places orders: it needs the pos:write scope.' };
};

/**
 * Every tool's name, description, schemas and annotations. Built once per process (zod schemas are costly to
 * construct), then shared by the fresh server each request gets.
 */
function build(maxLineQuantity: number) {
  const quantity = z.number().int().min(1).max(maxLineQuantity);
  return cacheJsonSchemas({
    list_businesses: {
      title: 'List businesses',
      description: 'Lists the businesses you can act for, and which one is active. Call set_active_business to choose one when you have several.',
      inputSchema: z.object({}),
      outputSchema: z.object({ businesses: z.array(S.Business.extend({ active: z.boolean() })), active_business_id: z.string().nullable() }),
      annotations: READ,
    },
    set_active_business: {
      title: 'Set active business',
      description: 'Chooses the business that catalog, cart and order tools act on. Refused for a business you are not a member of.',
      inputSchema: z.object({ business_id: S.BusinessId }),
      outputSchema: z.object({ active_business: S.Business }),
      annotations: { ...WRITE, idempotentHint: true },
    },
    get_active_business: {
      title: 'Get active business',
      description: 'Shows the business the other tools act on.',
      inputSchema: z.object({}),
      outputSchema: z.object({ active_business: S.Business }),
      annotations: READ,
    },
    search_products: {
      title: 'Search products',
      description: 'Searches the active business catalog by name, SKU or description (omit query to list products). Prices are in minor units.',
      inputSchema: z.object({
        query: z.string().max(200).optional().describe('Text to look for; matched literally, case-insensitively'),
        limit: z.number().int().min(1).max(50).default(10).describe('At most this many products (1-50, default 10)'),
        offset: z.number().int().min(0).max(10_000).default(0).describe('Skip this many results, for paging'),
      }),
      outputSchema: z.object({ business_id: z.string(), total: z.number().int(), products: z.array(S.Product) }),
      annotations: READ,
    },
    get_product: {
      title: 'Get product',
      description: 'Shows one product of the active business by SKU, with price and stock.',
      inputSchema: z.object({ sku: S.Sku }),
      outputSchema: z.object({ product: S.Product }),
      annotations: READ,
    },
    add_item_to_cart: {
      title: 'Add item to cart',
      description: 'Adds a quantity of a product to a cart in the active business (adding to any quantity already there) and returns the cart with its cart_id. Pass that cart_id to every later cart call (view, update, remove, clear, checkout): it reaches the same cart from any session. Without cart_id this uses the session\'s own cart, or, with no session, starts a new cart. Carts are kept for days.',
      inputSchema: z.object({ sku: S.Sku, quantity: quantity.describe('How many to add (a positive whole number)'), cart_id: S.CartId.optional() }),
      outputSchema: S.Cart,
      annotations: WRITE,
      scopeChallenge: needsWriteScope,
    },
    update_cart_item: {
      title: 'Update cart item',
      description: 'Sets the quantity of a product in a cart (the cart_id add_item_to_cart returned); 0 removes it.',
      inputSchema: z.object({
        sku: S.Sku,
        quantity: z.number().int().min(0).max(maxLineQuantity).describe('The new quantity (0 removes the line)'),
        cart_id: S.CartId.optional(),
      }),
      outputSchema: S.Cart,
      annotations: { ...WRITE, idempotentHint: true },
      scopeChallenge: needsWriteScope,
    },
    remove_item_from_cart: {
      title: 'Remove item from cart',
      description: 'Removes a product line from a cart (the cart_id add_item_to_cart returned).',
      inputSchema: z.object({ sku: S.Sku, cart_id: S.CartId.optional() }),
      outputSchema: S.Cart,
      annotations: { ...WRITE, destructiveHint: true, idempotentHint: true },
      scopeChallenge: needsWriteScope,
    },
    view_cart: {
      title: 'View cart',
      description: 'Shows a cart (the cart_id add_item_to_cart returned) with line totals, subtotal and stock warnings.',
      inputSchema: z.object({ cart_id: S.CartId.optional() }),
      outputSchema: S.Cart,
      annotations: READ,
    },
    clear_cart: {
      title: 'Clear cart',
      description: 'Empties a cart (the cart_id add_item_to_cart returned).',
      inputSchema: z.object({ cart_id: S.CartId.optional() }),
      outputSchema: S.Cart,
      annotations: { ...WRITE, destructiveHint: true, idempotentHint: true },
      scopeChallenge: needsWriteScope,
    },
    checkout: {
      title: 'Check out',
      description:
        'Turns a cart (the cart_id add_item_to_cart returned) into an order: checks and takes stock in one transaction, then empties the cart. Pass an idempotency_key so a retry returns the same order instead of placing a second one.',
      inputSchema: z.object({ cart_id: S.CartId.optional(), idempotency_key: S.IdempotencyKey.optional() }),
      outputSchema: z.object({
        order: S.Order,
        created: z.boolean().describe('false when this returned an order placed earlier with the same key'),
        cart_id: z.string().describe('The cart that was checked out (now empty)'),
      }),
      annotations: { ...WRITE, destructiveHint: true },
      scopeChallenge: needsWriteScope,
    },
    list_orders: {
      title: 'List orders',
      description: 'Lists your most recent orders in the active business, newest first.',
      inputSchema: z.object({ limit: z.number().int().min(1).max(100).default(10).describe('At most this many (1-100, default 10)') }),
      outputSchema: z.object({ business_id: z.string(), orders: z.array(S.OrderSummary) }),
      annotations: READ,
    },
    get_order: {
      title: 'Get order',
      description: 'Shows one of your orders with its lines.',
      inputSchema: z.object({ order_id: S.OrderId }),
      outputSchema: z.object({ order: S.Order }),
      annotations: READ,
    },
  });
}

function cacheJsonSchemas<T extends Record<string, { inputSchema: StandardSchemaWithJSON; outputSchema: StandardSchemaWithJSON }>>(defs: T): T {
  for (const d of Object.values(defs)) {
    d.inputSchema = withCachedJsonSchema(d.inputSchema);
    d.outputSchema = withCachedJsonSchema(d.outputSchema);
  }
  return defs;
}

export type ToolDefinitions = ReturnType<typeof build>;

const built = new Map<number, ToolDefinitions>();

export function toolDefinitions(maxLineQuantity: number): ToolDefinitions {
  let defs = built.get(maxLineQuantity);
  if (!defs) {
    defs = build(maxLineQuantity);
    built.set(maxLineQuantity, defs);
  }
  return defs;
}
