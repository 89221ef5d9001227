import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createApiKey } from '../../src/auth/api-key-repo.js';
import { addMembership } from '../../src/db/memberships-repo.js';
import { DEMO } from '../../src/db/seed.js';
import { ensureUser } from '../../src/db/users-repo.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { callTool, callToolModern, openSession, structured, type RpcResponse } from '../helpers/mcp-http.js';

type Line = { sku: string; quantity: number };
const lines = (cart: { lines: Line[] }) => cart.lines.map((l) => [l.sku, l.quantity]).sort();

const toolError = (res: RpcResponse) => {
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.result?.isError, true, res.text);
  return res.body.result.structuredContent.error as { code: string; message: string };
};

/**
 * Which cart a call acts on, over two instances: the one it names by cart_id, from any session, instance or era;
 * without one, its session's own cart; with neither, add_item_to_cart starts a cart and the rest ask which.
 */
describe('carts are named by cart_id', () => {
  let it: Instances;
  let A: string;
  let B: string;
  let staffKey: string;

  before(async () => {
    it = await startInstances({ count: 2 });
    [A, B] = it.urls as [string, string];
    // A second user of the same business, to show a cart id names a cart of its caller only.
    const db = it.servers[0]!.db;
    const staff = await ensureUser(db, { id: `staff-${randomUUID()}` });
    await addMembership(db, { userId: staff.id, businessId: DEMO.businesses.coffee, role: 'staff' });
    staffKey = (await createApiKey(db, { userId: staff.id, name: 'staff', scopes: ['pos:read', 'pos:write'] })).key;
  });
  after(() => it?.stop());

  const session = async (key: string) => {
    const sid = await openSession(A, key);
    structured(await callTool(B, key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    return sid;
  };

  test("a session's calls without cart_id share the session's cart; another session's calls do not see it", async () => {
    const key = it.keys.demo;
    const [one, two] = [await session(key), await session(key)];
    const added = structured(await callTool(A, key, one, 'add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 2 }));
    assert.match(added.cart_id, /^s_[A-Za-z0-9_-]{16}$/);
    assert.ok(!added.cart_id.includes(one), 'the cart id does not reveal the session id');
    structured(await callTool(B, key, one, 'add_item_to_cart', { sku: 'COF-MOCHA-12', quantity: 1 }));
    const mine = structured(await callTool(A, key, one, 'view_cart'));
    assert.equal(mine.cart_id, added.cart_id);
    assert.deepEqual(lines(mine), [['COF-LATTE-12', 2], ['COF-MOCHA-12', 1]]);

    const other = structured(await callTool(B, key, two, 'view_cart'));
    assert.notEqual(other.cart_id, added.cart_id);
    assert.deepEqual(other.lines, [], "a new session of the same user starts with a cart of its own, not another agent's");

    // Named, the first session's cart is reachable from the second session and from a stateless request.
    assert.deepEqual(lines(structured(await callTool(A, key, two, 'view_cart', { cart_id: added.cart_id }))), lines(mine));
    assert.deepEqual(lines(structured(await callToolModern(B, key, 'view_cart', { cart_id: added.cart_id }))), lines(mine));
    const done = structured(await callTool(B, key, two, 'checkout', { cart_id: added.cart_id, idempotency_key: randomUUID() }));
    assert.equal(done.cart_id, added.cart_id);
    assert.equal(done.order.total_minor, mine.subtotal_minor);
    assert.deepEqual(structured(await callTool(A, key, one, 'view_cart')).lines, [], 'checked out from elsewhere: the session cart is empty');
  });

  test('with no session, add_item_to_cart without cart_id starts a new cart each time and the others ask which', async () => {
    const key = it.keys.demo;
    const first = structured(await callToolModern(A, key, 'add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 1 }));
    const second = structured(await callToolModern(B, key, 'add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 1 }));
    assert.match(first.cart_id, /^c_[A-Za-z0-9_-]{16}$/);
    assert.notEqual(first.cart_id, second.cart_id);
    assert.deepEqual(lines(first), [['COF-LATTE-12', 1]]);
    assert.deepEqual(lines(second), [['COF-LATTE-12', 1]], 'each new cart holds only its own add');

    for (const [name, args] of [
      ['view_cart', {}],
      ['update_cart_item', { sku: 'COF-LATTE-12', quantity: 3 }],
      ['remove_item_from_cart', { sku: 'COF-LATTE-12' }],
      ['clear_cart', {}],
      ['checkout', { idempotency_key: randomUUID() }],
    ] as const) {
      const error = toolError(await callToolModern(A, key, name, args));
      assert.equal(error.code, 'cart_required', name);
      assert.match(error.message, /Pass the cart_id that add_item_to_cart returned/);
    }
    structured(await callToolModern(A, key, 'update_cart_item', { sku: 'COF-LATTE-12', quantity: 3, cart_id: first.cart_id }));
    assert.deepEqual(lines(structured(await callToolModern(B, key, 'view_cart', { cart_id: first.cart_id }))), [['COF-LATTE-12', 3]]);
    assert.deepEqual(lines(structured(await callToolModern(B, key, 'view_cart', { cart_id: second.cart_id }))), [['COF-LATTE-12', 1]], 'the other cart is untouched');
  });

  test("another user's cart id names an empty cart of the caller's own: nothing is seen or changed", async () => {
    const added = structured(await callToolModern(A, it.keys.demo, 'add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 4 }));
    const sid = await session(staffKey);
    const seen = structured(await callTool(B, staffKey, sid, 'view_cart', { cart_id: added.cart_id }));
    assert.deepEqual(seen.lines, []);
    assert.equal(toolError(await callTool(A, staffKey, sid, 'checkout', { cart_id: added.cart_id, idempotency_key: randomUUID() })).code, 'cart_empty');
    structured(await callTool(A, staffKey, sid, 'clear_cart', { cart_id: added.cart_id }));
    assert.deepEqual(lines(structured(await callToolModern(B, it.keys.demo, 'view_cart', { cart_id: added.cart_id }))), [['COF-LATTE-12', 4]], "the owner's cart is as it was");
  });

  test('the cart tools tell the model to keep the cart_id', async () => {
    const sid = await session(it.keys.demo);
    const res = await callTool(A, it.keys.demo, sid, 'add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 1 });
    const cartId = structured(res).cart_id;
    assert.match(res.body.result.content[0].text, new RegExp(`Pass cart_id "${cartId}" to later cart calls and checkout`));
    const listed = await fetch(`${B}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${it.keys.demo}`,
        'mcp-session-id': sid,
        'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    }).then((r) => r.json() as Promise<{ result: { tools: { name: string; description: string }[] } }>);
    const add = listed.result.tools.find((t) => t.name === 'add_item_to_cart')!;
    assert.match(add.description, /Pass that cart_id to every later cart call/);
  });
});
