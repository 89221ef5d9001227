import { ResourceNotFoundError, ResourceTemplate, type McpServer } from '@modelcontextprotocol/server';
import type * as z from 'zod';
import { ToolError } from '../errors.js';
import type { McpCallContext } from '../mcp/call-context.js';
import { sessionCartId } from './cart-id.js';
import type { PosActor, PosService } from './pos-service.js';
import { CartId, OrderId, Sku } from './schemas.js';
import { cartText, orderOut, productOut } from './tools.js';

const JSON_MIME = 'application/json';

/**
 * The catalog, carts and orders as pos:// resources, for clients that browse rather than call tools.
 * Reads go through the same PosService as the tools, so tenant checks are identical.
 */
export function registerResources(server: McpServer, call: McpCallContext, pos: PosService): void {
  // Read when a resource is read, not when it is registered: a session's cached server serves request after request, each
  // with its own credential (call.principal is replaced before each one).
  const actor: PosActor = {
    get principal() {
      return call.principal;
    },
    get session() {
      return call.session;
    },
  };
  const json = (uri: URL, value: unknown, text?: string) => ({
    contents: [{ uri: uri.href, mimeType: JSON_MIME, text: JSON.stringify(value) }, ...(text ? [{ uri: uri.href, mimeType: 'text/plain', text }] : [])],
  });
  // A refusal reads as "not found". Anything else is an outage (the failure sink turns it into the request's
  // 503) or a bug; its own message may quote internals (a database error, an address), so it is not passed on.
  const failed = (uri: URL) => (err: unknown): never => {
    if (err instanceof ToolError) throw new ResourceNotFoundError(uri.href, err.message);
    call.sink.failures.push(err);
    throw new Error('Internal error; nothing was changed.');
  };
  // Template variables obey the same rules as the tools' arguments, so a hostile URI never reaches a query or a key.
  const param = (uri: URL, schema: z.ZodString, value: unknown): string => {
    let decoded: string | undefined;
    try {
      decoded = decodeURIComponent(String(value));
    } catch {
      decoded = undefined;
    }
    if (decoded === undefined || !schema.safeParse(decoded).success) throw new ResourceNotFoundError(uri.href, 'No such resource: the URI is malformed.');
    return decoded;
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
      const { product } = await pos.getProduct(actor, param(uri, Sku, sku)).catch(failed(uri));
      return json(uri, productOut(product));
    },
  );

  server.registerResource(
    'cart',
    new ResourceTemplate('pos://carts/{cart_id}', {
      // Listed only when it can be read: a session's own cart, and only with an active business (else "not found").
      list: async () => {
        if (!call.session) return { resources: [] };
        const active = await pos.activeBusiness(actor).then(
          () => true,
          (err: unknown) => {
            if (err instanceof ToolError) return false;
            throw err;
          },
        );
        return { resources: active ? [{ uri: `pos://carts/${sessionCartId(call.session.id)}`, name: "This session's cart", mimeType: JSON_MIME }] : [] };
      },
    }),
    { title: 'Cart', description: 'One of your carts in the active business, by the cart_id the cart tools return', mimeType: JSON_MIME },
    async (uri, { cart_id }) => {
      const cart = await pos.viewCart(actor, param(uri, CartId, cart_id)).catch(failed(uri));
      return json(uri, cart, cartText(cart));
    },
  );

  server.registerResource(
    'order',
    new ResourceTemplate('pos://orders/{order_id}', { list: undefined }),
    { title: 'Order', description: 'One of your orders', mimeType: JSON_MIME },
    async (uri, { order_id }) => json(uri, orderOut(await pos.getOrder(actor, param(uri, OrderId, order_id)).catch(failed(uri)))),
  );
}
