import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseApiKey } from './auth/api-key-format.js';
import { createApiKey, findApiKey } from './auth/api-key-repo.js';
import { ALL_SCOPES } from './auth/principal.js';
import type { Db } from './db/db.js';
import { DEMO } from './db/seed.js';

/**
 * A newcomer's first run needs a key to try the server with. Only the hash goes to the database; the key
 * itself is kept in the local data directory so restarts print the same one. Never used in production.
 */
export async function ensureDemoKey(db: Db, dataDir: string): Promise<string> {
  const file = join(dataDir, 'demo-api-key');
  const existing = await readFile(file, 'utf8').then((s) => s.trim(), () => '');
  const parsed = existing ? parseApiKey(existing) : null;
  if (parsed) {
    const row = await findApiKey(db, parsed.keyId);
    if (row && !row.revokedAt && (!row.expiresAt || row.expiresAt.getTime() > Date.now())) return existing;
  }
  const { key } = await createApiKey(db, { userId: DEMO.users.demo, name: 'demo key (local development)', scopes: [...ALL_SCOPES] });
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return key;
}
