import type { Queryable } from '../db/db.js';

export type MembershipRole = 'owner' | 'staff';

/** A business as seen by one of its members. */
export interface BusinessMembership {
  id: string;
  name: string;
  currency: string;
  role: MembershipRole;
}

const SELECT_MEMBERSHIP = `
  SELECT b.id, b.name, b.currency, m.role
  FROM memberships m JOIN businesses b ON b.id = m.business_id
  WHERE m.user_id = $1`;

/** The businesses the user belongs to, ordered by name. */
export async function listBusinessesForUser(db: Queryable, userId: string): Promise<BusinessMembership[]> {
  const { rows } = await db.query<BusinessMembership>(`${SELECT_MEMBERSHIP} ORDER BY lower(b.name), b.name, b.id`, [userId]);
  return rows;
}

/**
 * The business if the user belongs to it; null both when it does not exist and when the user is not a
 * member, so callers cannot probe for other tenants' ids.
 */
export async function getBusinessForUser(db: Queryable, userId: string, businessId: string): Promise<BusinessMembership | null> {
  const { rows } = await db.query<BusinessMembership>(`${SELECT_MEMBERSHIP} AND m.business_id = $2`, [userId, businessId]);
  return rows[0] ?? null;
}
