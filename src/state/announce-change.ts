import type { Config } from '../config.js';
import { createKeySpace } from './keys.js';
import { closeRedisClient, connectRedisClient, createRedisClient, createRedisCluster, type StateRedis } from './redis-client.js';
import { RedisVersionStore } from './redis-version-store.js';

/**
 * Tells every running instance, through the versions in Redis, that a user's memberships changed (a command
 * run outside the servers, e.g. `flowpos-mcp member add`). Without Redis there is nothing to tell: the embedded
 * setup is one instance, whose membership cache is bounded by CATALOG_CACHE_SECONDS.
 */
export async function announceMembershipChange(config: Config, userId: string): Promise<void> {
  if (!config.redisUrl && !config.redisClusterNodes?.length) return;
  const client: StateRedis = config.redisClusterNodes?.length
    ? createRedisCluster({ nodes: config.redisClusterNodes, name: 'flowpos-mcp-cli' })
    : createRedisClient({ url: config.redisUrl!, name: 'flowpos-mcp-cli' });
  await connectRedisClient(client, 5000, 'cannot tell the running instances (Redis)');
  try {
    await new RedisVersionStore(client, createKeySpace(config.keyPrefix)).bumpMemberships(userId);
  } finally {
    await closeRedisClient(client);
  }
}
