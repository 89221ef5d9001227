import type { Queryable } from './db.js';

export interface User {
  id: string;
  email: string | null;
  displayName: string | null;
  /** ISO 8601. */
  createdAt: string;
}

interface UserRow {
  id: string;
  email: string | null;
  display_name: string | null;
  created_at: Date | string;
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

/**
 * Creates the user if missing. Given email / displayName replace the stored ones; omitted ones leave them
 * as they are. Writes nothing when nothing changes, so calling it on every sign-in is cheap.
 */
export async function ensureUser(db: Queryable, input: { id: string; email?: string; displayName?: string }): Promise<User> {
  const email = input.email ?? null;
  const displayName = input.displayName ?? null;
  const { rows } = await db.query<UserRow>(
    `INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE
       SET email = COALESCE(EXCLUDED.email, users.email),
           display_name = COALESCE(EXCLUDED.display_name, users.display_name)
       WHERE (EXCLUDED.email IS NOT NULL AND EXCLUDED.email IS DISTINCT FROM users.email)
          OR (EXCLUDED.display_name IS NOT NULL AND EXCLUDED.display_name IS DISTINCT FROM users.display_name)
     RETURNING id, email, display_name, created_at`,
    [input.id, email, displayName],
  );
  if (rows[0]) return toUser(rows[0]);
  const existing = await getUser(db, input.id);
  if (!existing) throw new Error(`User ${input.id} vanished while being ensured`);
  return existing;
}

export async function getUser(db: Queryable, id: string): Promise<User | null> {
  const { rows } = await db.query<UserRow>('SELECT id, email, display_name, created_at FROM users WHERE id = $1', [id]);
  return rows[0] ? toUser(rows[0]) : null;
}
