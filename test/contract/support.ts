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
