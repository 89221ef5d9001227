import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { ensureUser, getUser } from '../../src/db/users-repo.js';
import { getBusinessForUser, listBusinessesForUser } from '../../src/pos/business-repo.js';
import { forEachDbBackend } from '../helpers/db-backends.js';
import { addBusiness, addUser, uniqueToken } from '../helpers/db-fixtures.js';

forEachDbBackend('tenancy', (ctx) => {
  describe('users repository', () => {
    it('creates a missing user and returns it', async () => {
      const id = `oidc|${uniqueToken()}`;
      assert.equal(await getUser(ctx.db(), id), null);
      const user = await ensureUser(ctx.db(), { id, email: 'ana@example.com', displayName: 'Ana' });
      assert.equal(user.id, id);
      assert.equal(user.email, 'ana@example.com');
      assert.equal(user.displayName, 'Ana');
      assert.ok(!Number.isNaN(Date.parse(user.createdAt)));
      assert.deepEqual(await getUser(ctx.db(), id), user);
    });

    it('updates email and name only when given, and keeps them otherwise', async () => {
      const id = `user-${uniqueToken()}`;
      const created = await ensureUser(ctx.db(), { id });
      assert.equal(created.email, null);
      assert.equal(created.displayName, null);

      await ensureUser(ctx.db(), { id, email: 'first@example.com', displayName: 'First' });
      const kept = await ensureUser(ctx.db(), { id });
      assert.equal(kept.email, 'first@example.com');
      assert.equal(kept.displayName, 'First');
      assert.equal(kept.createdAt, created.createdAt);

      const renamed = await ensureUser(ctx.db(), { id, displayName: 'Renamed' });
      assert.equal(renamed.email, 'first@example.com');
      assert.equal(renamed.displayName, 'Renamed');
    });

    it('takes ids and names literally', async () => {
      const id = `x'); DROP TABLE users; --${uniqueToken()}`;
      const user = await ensureUser(ctx.db(), { id, displayName: 'Zoë "Quote" O\'Neil ✓' });
      assert.equal((await getUser(ctx.db(), id))?.displayName, user.displayName);
      assert.equal((await getUser(ctx.db(), DEMO.users.demo))?.displayName, 'Demo User');
    });
  });

  describe('business repository', () => {
    it('lists a user’s businesses ordered by name, with role and currency', async () => {
      const db = ctx.db();
      const user = await addUser(db);
      const zed = await addBusiness(db, { name: 'Zed Repairs', currency: 'CHF', members: [{ userId: user, role: 'staff' }] });
      const alpha = await addBusiness(db, { name: 'Alpha Stationery', currency: 'JPY', members: [{ userId: user, role: 'owner' }] });
      const middle = await addBusiness(db, { name: 'market stall', currency: 'EUR', members: [{ userId: user }] });
      await addBusiness(db, { name: 'Not Mine', currency: 'USD', members: [{ userId: DEMO.users.demo2 }] });

      assert.deepEqual(await listBusinessesForUser(db, user), [
        { id: alpha, name: 'Alpha Stationery', currency: 'JPY', role: 'owner' },
        { id: middle, name: 'market stall', currency: 'EUR', role: 'owner' },
        { id: zed, name: 'Zed Repairs', currency: 'CHF', role: 'staff' },
      ]);
    });

    it('returns nothing for an unknown user or a user without memberships', async () => {
      assert.deepEqual(await listBusinessesForUser(ctx.db(), 'nobody-at-all'), []);
      assert.deepEqual(await listBusinessesForUser(ctx.db(), await addUser(ctx.db())), []);
    });

    it('gets a business only for its members; another tenant’s and a missing one look the same', async () => {
      const db = ctx.db();
      assert.deepEqual(await getBusinessForUser(db, DEMO.users.demo, DEMO.businesses.bakery), {
        id: DEMO.businesses.bakery,
        name: 'Daily Bread Bakery',
        currency: 'EUR',
        role: 'owner',
      });
      const otherTenant = await getBusinessForUser(db, DEMO.users.demo, DEMO.businesses.books);
      const missing = await getBusinessForUser(db, DEMO.users.demo, 'biz_does_not_exist');
      assert.equal(otherTenant, null);
      assert.equal(missing, null);
      assert.equal(await getBusinessForUser(db, 'nobody-at-all', DEMO.businesses.coffee), null);
      assert.equal(await getBusinessForUser(db, DEMO.users.demo, `${DEMO.businesses.coffee}' OR '1'='1`), null);
    });

    it('stops answering as soon as the membership is removed', async () => {
      const db = ctx.db();
      const user = await addUser(db, [{ businessId: DEMO.businesses.coffee }]);
      assert.equal((await getBusinessForUser(db, user, DEMO.businesses.coffee))?.role, 'staff');
      await db.query('DELETE FROM memberships WHERE user_id = $1', [user]);
      assert.equal(await getBusinessForUser(db, user, DEMO.businesses.coffee), null);
      assert.deepEqual(await listBusinessesForUser(db, user), []);
    });
  });
});
