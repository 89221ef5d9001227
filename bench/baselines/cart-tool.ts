import type { McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod/v4';

/**
 * The one tool both baselines serve, written the way the SDK documents tools (`registerTool` with zod input
 * and output schemas): `add_item_to_cart`, carts kept in a process-local Map. It mirrors flowpos-mcp's tool of
 * the same name (same arguments, a cart with priced lines as structured content) without a database, Redis,
 * auth or sessions that outlive the process: it is the floor the SDK alone sets.
 */
const CATALOG = new Map<string, { name: string; priceMinor: number; stock: number }>([
  ['COF-LATTE-12', { name: 'Caffè Latte 12 oz', priceMinor: 450, stock: 120 }],
  ['COF-LATTE-16', { name: 'Caffè Latte 16 oz', priceMinor: 525, stock: 100 }],
  ['COF-ESPRESSO-DBL', { name: 'Double Espresso', priceMinor: 300, stock: 200 }],
]);

const CartLine = z.object({
  sku: z.string(),
  name: z.string(),
  quantity: z.number().int(),
  unit_price_minor: z.number().int(),
  line_total_minor: z.number().int(),
});
const Cart = z.object({
  cart_id: z.string(),
  currency: z.string(),
  lines: z.array(CartLine),
  item_count: z.number().int(),
  subtotal_minor: z.number().int(),
});
const Input = z.object({
  sku: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).describe('Product SKU, e.g. COF-LATTE-12'),
  quantity: z.number().int().min(1).max(1_000_000).describe('How many to add'),
  cart_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional().describe('Cart handle; omit for the default cart'),
});

/** cart id → sku → quantity */
const carts = new Map<string, Map<string, number>>();

export function registerCartTool(server: McpServer): void {
  server.registerTool(
    'add_item_to_cart',
    {
      title: 'Add item to cart',
      description: 'Adds a quantity of a product to a cart.',
      inputSchema: Input,
      outputSchema: Cart,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ sku, quantity, cart_id }) => {
      const product = CATALOG.get(sku);
      if (!product) return { isError: true, content: [{ type: 'text', text: `No product ${sku}.` }] };
      const id = cart_id ?? 'default';
      let cart = carts.get(id);
      if (!cart) carts.set(id, (cart = new Map()));
      cart.set(sku, (cart.get(sku) ?? 0) + quantity);
      const lines = [...cart].map(([s, q]) => {
        const p = CATALOG.get(s)!;
        return { sku: s, name: p.name, quantity: q, unit_price_minor: p.priceMinor, line_total_minor: p.priceMinor * q };
      });
      const view = {
        cart_id: id,
        currency: 'USD',
        lines,
        item_count: lines.reduce((n, l) => n + l.quantity, 0),
        subtotal_minor: lines.reduce((n, l) => n + l.line_total_minor, 0),
      };
      return { content: [{ type: 'text', text: `Added ${quantity} × ${sku}; ${view.item_count} item(s) in the cart.` }], structuredContent: view };
    },
  );
}
