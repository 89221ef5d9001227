import { after, before } from 'node:test';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { createKeySpace, type KeySpace } from '../../src/state/keys.js';
import {
  closeRedisClient,
  connectRedisClient,
  createRedisClient,
  type StateRedisClient,
} from '../../src/state/redis-client.js';

/** Shared by the contract suites and their runners. */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns true; rejects after `timeoutMs` (a liveness bound, not a timing assertion). */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Factories hand out `connections` stores over the same data: separate Redis connections, or one memory store. */
export type StoreFactory<Store, Options> = (opts: Options, connections?: number) => Promise<Store[]>;

/** Connected clients for one test file; closeAll() in `after`. */
export class RedisClients {
  readonly #clients: StateRedisClient[] = [];

  constructor(
    private readonly url: () => string,
    private readonly prefix: () => string,
  ) {}

  get keys(): KeySpace {
    return createKeySpace(this.prefix());
  }

  async connect(): Promise<StateRedisClient> {
    const client = createRedisClient({ url: this.url(), name: 'flowpos-mcp-test', onError: () => {} });
    await connectRedisClient(client, 5000, 'test client');
    this.#clients.push(client);
    return client;
  }

  async many(n: number): Promise<StateRedisClient[]> {
    return Promise.all(Array.from({ length: n }, () => this.connect()));
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#clients.splice(0).map((c) => closeRedisClient(c)));
  }
}

/** Inside a describe: a throwaway redis-server for the suite and connections to it, all stopped afterwards. */
export function useRedis(): { clients: RedisClients; redis: () => TestRedis } {
  let redis: TestRedis | undefined;
  const clients = new RedisClients(
    () => redis!.url,
    () => redis!.keyPrefix,
  );
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await clients.closeAll();
    await redis?.stop();
  });
  return { clients, redis: () => redis! };
}

/**
 * Inside a describe: a factory that makes one in-memory store per call and hands it out as `connections` views of
 * the same data (what separate Redis connections are for the Redis stores); every store is closed afterwards.
 */
export function sharedMemory<T extends { close(): void }, O>(make: (opts: O) => T): StoreFactory<T, O> {
  const made: T[] = [];
  after(() => made.forEach((s) => s.close()));
  return async (opts, connections = 1) => {
    const store = make(opts);
    made.push(store);
    return Array.from({ length: connections }, () => store);
  };
}
