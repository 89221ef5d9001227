import type { Queryable } from './db.js';

export type Role = 'owner' | 'staff';

/**
 * Gives a user access to a business (creating the user row if needed: a Firebase user may be granted access before
 * their first sign-in). Idempotent; an existing membership takes the new role. Returns false when the business
 * does not exist.
 */
export async function addMembership(db: Queryable, input: { userId: string; businessId: string; role: Role; email?: string }): Promise<boolean> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM businesses WHERE id = $1', [input.businessId]);
  if (!rows[0]) return false;
  await db.query(
    `INSERT INTO users (id, email) VALUES ($1, $2)
     ON CONFLICT (id) DO UPDATE SET email = COALESCE(EXCLUDED.email, users.email)`,
    [input.userId, input.email ?? null],
  );
  await db.query(
    `INSERT INTO memberships (user_id, business_id, role) VALUES ($1, $2, $3)
     ON CONFLICT (user_id, business_id) DO UPDATE SET role = EXCLUDED.role`,
    [input.userId, input.businessId, input.role],
  );
  return true;
}

/** Takes a user's access to a business away; false when there was none. */
export async function removeMembership(db: Queryable, input: { userId: string; businessId: string }): Promise<boolean> {
  const { rows } = await db.query('DELETE FROM memberships WHERE user_id = $1 AND business_id = $2 RETURNING user_id', [input.userId, input.businessId]);
  return rows.length > 0;
}
