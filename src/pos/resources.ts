import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/server';
import { ToolError } from '../errors.js';
import type { McpCallContext } from '../mcp/call-context.js';
import type { PosActor, PosService } from './pos-service.js';
import { cartText, orderOut, productOut } from './tools.js';

const JSON_MIME = 'application/json';

/**
 * The catalog, carts and orders as pos:// resources, for clients that browse rather than call tools.
 * Reads go through the same PosService as the tools, so tenant checks are identical.
 */
export function registerResources(server: McpServer, call: McpCallContext, pos: PosService): void {
  const actor: PosActor = { principal: call.principal, ...(call.session ? { session: call.session } : {}) };
  const json = (uri: URL, value: unknown, text?: string) => ({
    contents: [{ uri: uri.href, mimeType: JSON_MIME, text: JSON.stringify(value) }, ...(text ? [{ uri: uri.href, mimeType: 'text/plain', text }] : [])],
  });
  const notFound = (err: unknown) => {
    if (err instanceof ToolError) throw new Error(err.message);
    throw err;
  };

  server.registerResource(
    'product',
    new ResourceTemplate('pos://products/{sku}', {
      list: async () => {
        const r = await pos.searchProducts(actor, { limit: 50, offset: 0 }).catch(() => null);
        return {
          resources: (r?.products ?? []).map((p) => ({ uri: `pos://products/${encodeURIComponent(p.sku)}`, name: p.name, mimeType: JSON_MIME })),
        };
      },
      complete: { sku: (value) => pos.suggestSkus(actor, value).catch(() => []) },
    }),
    { title: 'Product', description: 'A product of the active business, by SKU', mimeType: JSON_MIME },
    async (uri, { sku }) => {
      const { product } = await pos.getProduct(actor, decodeURIComponent(String(sku))).catch(notFound);
      return json(uri, productOut(product));
    },
  );

  server.registerResource(
    'cart',
    new ResourceTemplate('pos://carts/{cart_id}', {
      list: async () => ({ resources: [{ uri: 'pos://carts/default', name: 'Your current cart', mimeType: JSON_MIME }] }),
    }),
    { title: 'Cart', description: 'One of your carts in the active business ("default" is the current one)', mimeType: JSON_MIME },
    async (uri, { cart_id }) => {
      const cart = await pos.viewCart(actor, String(cart_id)).catch(notFound);
      return json(uri, cart, cartText(cart));
    },
  );

  server.registerResource(
    'order',
    new ResourceTemplate('pos://orders/{order_id}', { list: undefined }),
    { title: 'Order', description: 'One of your orders', mimeType: JSON_MIME },
    async (uri, { order_id }) => json(uri, orderOut(await pos.getOrder(actor, String(order_id)).catch(notFound))),
  );
}
