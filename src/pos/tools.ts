import type { CallToolResult, ElicitRequestFormParams, ElicitResult, McpServer } from '@modelcontextprotocol/server';
import { ToolError } from '../errors.js';
import type { McpCallContext } from '../mcp/call-context.js';
import { formatMoney } from './money.js';
import type { CartView, PosActor, PosService } from './pos-service.js';
import { toolDefinitions } from './tool-definitions.js';

export interface ToolDeps {
  pos: PosService;
  maxLineQuantity: number;
  /** Ask the person to confirm checkout when the client supports elicitation. */
  confirmCheckout: boolean;
  confirmTimeoutMs: number;
  /** Unexpected failures are logged with a reference the agent's user can quote. */
  logError: (err: unknown, ref: string) => void;
}

type Ran = { data: Record<string, unknown>; text: string };


/**
 * Registers the POS tools on a per-request server. Definitions and schemas are built once per process, so
 * this only wires closures: cheap enough to run for every request.
 */
export function registerTools(server: McpServer, call: McpCallContext, deps: ToolDeps, only?: string): void {
  const { pos } = deps;
  const defs = toolDefinitions(deps.maxLineQuantity);
  // With `only` (a tools/call of a known tool), that tool alone: the request cannot reach any other.
  const register = ((name: string, ...rest: unknown[]) => {
    if (only === undefined || name === only) (server.registerTool as (...args: unknown[]) => unknown).call(server, name, ...rest);
  }) as McpServer['registerTool'];
  // Read when a tool runs, not when it is registered: a session's cached server serves request after request, each
  // with its own credential (call.principal is replaced before each one).
  const actor: PosActor = {
    get principal() {
      return call.principal;
    },
    get session() {
      return call.session;
    },
  };
  const run = async (fn: () => Promise<Ran>): Promise<CallToolResult> => {
    try {
      const { data, text } = await fn();
      return { content: [{ type: 'text', text }], structuredContent: data };
    } catch (err) {
      if (err instanceof ToolError) {
        return {
          isError: true,
          content: [{ type: 'text', text: err.message }],
          structuredContent: { error: { code: err.code, message: err.message, ...(err.details ?? {}) } },
        };
      }
      call.sink.failures.push(err);
      const ref = Math.random().toString(36).slice(2, 10);
      deps.logError(err, ref);
      return { isError: true, content: [{ type: 'text', text: `Internal error (reference ${ref}); nothing was changed by this call if it was a write that failed before completing.` }] };
    }
  };
  /**
   * A person confirms the total before money moves, when the client can ask them (2025-era elicitation).
   * The answer may reach any instance; the session layer routes it back here. Nothing is ordered unless
   * they accept, and the order is refused if the cart changed after they saw it.
   */
  const confirmCheckout = async (cartId: string | undefined, elicit: (p: ElicitRequestFormParams) => Promise<ElicitResult>) => {
    if (!call.session || !deps.confirmCheckout || !server.server.getClientCapabilities()?.elicitation) return undefined;
    const cart = await pos.viewCart(actor, cartId);
    if (cart.lines.length === 0) return undefined;
    let answer: ElicitResult;
    try {
      answer = await elicit({
        mode: 'form',
        message: `Place this order for ${formatMoney(cart.subtotal_minor, cart.currency)}?\n${cartText(cart)}`,
        requestedSchema: {
          type: 'object',
          properties: { confirm: { type: 'boolean', title: 'Place the order', description: `Charge ${formatMoney(cart.subtotal_minor, cart.currency)}` } },
          required: ['confirm'],
        },
      });
    } catch (err) {
      if (err instanceof Error && /timed? ?out/i.test(err.message)) throw new ToolError('confirmation_timeout');
      throw err;
    }
    if (answer.action !== 'accept' || answer.content?.confirm !== true) throw new ToolError('checkout_declined');
    return cart.version;
  };
  const cartChanged = (cart: CartView): void => {
    // This session's GET stream (logged, resumable), and the user's other sessions and listeners, wherever
    // they are held, learn the cart moved. Delivery failures never fail the change itself, and the answer does
    // not wait for them: both are issued now (node-redis sends them together in one write at the end of this turn of
    // the event loop, before this instance reads another request), so they travel after the answer, not before it.
    const updated = { method: 'notifications/resources/updated' as const, params: { uri: `pos://carts/${cart.cart_id}` } };
    void call.session?.notify(updated).catch(() => {});
    void call.userEvents.publish(call.principal.uid, updated, call.session?.id).catch(() => {});
  };

  register(
    'list_businesses',
    defs.list_businesses,
    () =>
      run(async () => {
        const r = await pos.listBusinesses(actor);
        const lines = r.businesses.map((b) => `- ${b.name} (id ${b.id}, ${b.currency}, ${b.role})${b.active ? ' [active]' : ''}`);
        return { data: r, text: r.businesses.length ? `Your businesses:\n${lines.join('\n')}` : 'You are not a member of any business.' };
      }),
  );

  register(
    'set_active_business',
    defs.set_active_business,
    ({ business_id }) =>
      run(async () => {
        const b = await pos.setActiveBusiness(actor, business_id);
        return { data: { active_business: b }, text: `Active business is now ${b.name} (${b.id}).` };
      }),
  );

  register(
    'get_active_business',
    defs.get_active_business,
    () =>
      run(async () => {
        const b = await pos.activeBusiness(actor);
        return { data: { active_business: b }, text: `Active business: ${b.name} (${b.id}, ${b.currency}).` };
      }),
  );

  register(
    'search_products',
    defs.search_products,
    ({ query, limit, offset }) =>
      run(async () => {
        const r = await pos.searchProducts(actor, { ...(query ? { query } : {}), limit, offset });
        const products = r.products.map(productOut);
        const lines = products.map((p) => `- ${p.sku}: ${p.name} — ${formatMoney(p.price_minor, p.currency)}, ${p.stock} in stock`);
        const head = `${r.total} product(s) in ${r.business.name}${query ? ` matching "${query}"` : ''}`;
        return { data: { business_id: r.business.id, total: r.total, products }, text: products.length ? `${head}:\n${lines.join('\n')}` : `${head}.` };
      }),
  );

  register(
    'get_product',
    defs.get_product,
    ({ sku }) =>
      run(async () => {
        const { product } = await pos.getProduct(actor, sku);
        const p = productOut(product);
        return { data: { product: p }, text: `${p.sku}: ${p.name} — ${formatMoney(p.price_minor, p.currency)}, ${p.stock} in stock.${p.description ? `\n${p.description}` : ''}` };
      }),
  );

  register(
    'add_item_to_cart',
    defs.add_item_to_cart,
    ({ sku, quantity: q, cart_id }) =>
      run(async () => {
        const cart = await pos.addItem(actor, { sku, quantity: q, ...(cart_id ? { cartId: cart_id } : {}) });
        cartChanged(cart);
        return { data: { ...cart }, text: `Added ${q} × ${sku}.\n${cartText(cart)}\nPass cart_id "${cart.cart_id}" to later cart calls and checkout.` };
      }),
  );

  register(
    'update_cart_item',
    defs.update_cart_item,
    ({ sku, quantity: q, cart_id }) =>
      run(async () => {
        const cart = await pos.updateItem(actor, { sku, quantity: q, ...(cart_id ? { cartId: cart_id } : {}) });
        cartChanged(cart);
        return { data: { ...cart }, text: `${sku} set to ${q}.\n${cartText(cart)}` };
      }),
  );

  register(
    'remove_item_from_cart',
    defs.remove_item_from_cart,
    ({ sku, cart_id }) =>
      run(async () => {
        const cart = await pos.removeItem(actor, { sku, ...(cart_id ? { cartId: cart_id } : {}) });
        cartChanged(cart);
        return { data: { ...cart }, text: `Removed ${sku}.\n${cartText(cart)}` };
      }),
  );

  register(
    'view_cart',
    defs.view_cart,
    ({ cart_id }) =>
      run(async () => {
        const cart = await pos.viewCart(actor, cart_id);
        return { data: { ...cart }, text: cartText(cart) };
      }),
  );

  register(
    'clear_cart',
    defs.clear_cart,
    ({ cart_id }) =>
      run(async () => {
        const cart = await pos.clearCart(actor, cart_id);
        cartChanged(cart);
        return { data: { ...cart }, text: 'The cart is now empty.' };
      }),
  );

  register(
    'checkout',
    defs.checkout,
    ({ cart_id, idempotency_key }, ctx) =>
      run(async () => {
        // The question must travel on this call's own response stream (relatedRequestId): a per-request
        // server has no standalone stream, and the SDK would drop it there.
        const expectedVersion = await confirmCheckout(cart_id, (params) => ctx.mcpReq.elicitInput(params, { timeout: deps.confirmTimeoutMs, relatedRequestId: ctx.mcpReq.id }));
        const r = await pos.checkout(actor, {
          ...(cart_id ? { cartId: cart_id } : {}),
          ...(idempotency_key ? { idempotencyKey: idempotency_key } : {}),
          ...(expectedVersion !== undefined ? { expectedVersion } : {}),
        });
        const order = orderOut(r.order);
        if (r.created) {
          // As for cart changes: issued now, not waited for.
          const updated = { method: 'notifications/resources/updated' as const, params: { uri: `pos://carts/${r.cartId}` } };
          void call.session?.notify(updated).catch(() => {});
          void call.userEvents.publish(call.principal.uid, updated, call.session?.id).catch(() => {});
        }
        const verb = r.created ? 'Placed' : 'Already placed';
        return { data: { order, created: r.created, cart_id: r.cartId }, text: `${verb} order ${order.order_id}: ${formatMoney(order.total_minor, order.currency)}, ${order.lines.length} line(s).` };
      }),
  );

  register(
    'list_orders',
    defs.list_orders,
    ({ limit }) =>
      run(async () => {
        const r = await pos.listOrders(actor, limit);
        const orders = r.orders.map((o) => ({ ...orderOut({ ...o, lines: [] }), line_count: o.lineCount }));
        const lines = orders.map((o) => `- ${o.order_id}: ${formatMoney(o.total_minor, o.currency)}, ${o.line_count} line(s), ${o.created_at}`);
        return { data: { business_id: r.business.id, orders: orders.map(({ lines: _l, ...o }) => o) }, text: orders.length ? `Your orders in ${r.business.name}:\n${lines.join('\n')}` : `No orders yet in ${r.business.name}.` };
      }),
  );

  register(
    'get_order',
    defs.get_order,
    ({ order_id }) =>
      run(async () => {
        const order = orderOut(await pos.getOrder(actor, order_id));
        const lines = order.lines.map((l) => `- ${l.quantity} × ${l.name} (${l.sku}) = ${formatMoney(l.line_total_minor, order.currency)}`);
        return { data: { order }, text: `Order ${order.order_id} (${order.status}), ${formatMoney(order.total_minor, order.currency)}:\n${lines.join('\n')}` };
      }),
  );
}

interface ProductRow {
  sku: string;
  name: string;
  description: string | null;
  priceMinor: number;
  currency: string;
  stock: number;
}

export function productOut(p: ProductRow) {
  return { sku: p.sku, name: p.name, description: p.description ?? null, price_minor: p.priceMinor, currency: p.currency, stock: p.stock };
}

interface OrderRow {
  id: string;
  businessId: string;
  status: string;
  totalMinor: number;
  currency: string;
  createdAt: string;
  lines: { lineNo: number; sku: string; name: string; unitPriceMinor: number; quantity: number; lineTotalMinor: number }[];
}

export function orderOut(o: OrderRow) {
  return {
    order_id: o.id,
    business_id: o.businessId,
    status: o.status,
    total_minor: o.totalMinor,
    currency: o.currency,
    created_at: o.createdAt,
    lines: o.lines.map((l) => ({
      line_no: l.lineNo,
      sku: l.sku,
      name: l.name,
      unit_price_minor: l.unitPriceMinor,
      quantity: l.quantity,
      line_total_minor: l.lineTotalMinor,
    })),
  };
}

export function cartText(cart: CartView): string {
  if (cart.lines.length === 0) return `Cart "${cart.cart_id}" is empty.`;
  const lines = cart.lines.map((l) => `- ${l.quantity} × ${l.name} (${l.sku}) = ${formatMoney(l.line_total_minor, cart.currency)}`);
  const warn = cart.warnings.length ? `\nWarnings:\n${cart.warnings.map((w) => `- ${w}`).join('\n')}` : '';
  return `Cart "${cart.cart_id}" (${cart.item_count} item(s)):\n${lines.join('\n')}\nSubtotal: ${formatMoney(cart.subtotal_minor, cart.currency)}${warn}`;
}
