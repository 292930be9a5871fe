import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { TEST_REDIS_URL } from '../../../../test/support/services.js';

/** A lazily connecting client for tests: one retry, short connect timeout, connection errors left to the test. */
export function testRedisClient(url = TEST_REDIS_URL): Redis {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1_000 });
  redis.on('error', () => {});
  return redis;
}

/** Deletes every key under `prefix` (SCAN + DEL); never the whole database, which may be shared. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/**
 * For the `describe` it is called in: an `admin` client connected before its tests, more clients on
 * demand, and afterwards the keys under `prefix` deleted and every client closed.
 */
export function useTestRedis(prefix: string): { admin(): Redis; client(url?: string): Redis } {
  const clients: Redis[] = [];
  let admin: Redis | undefined;
  beforeAll(async () => {
    admin = testRedisClient();
    clients.push(admin);
    await admin.connect();
  });
  afterAll(async () => {
    if (admin) await deleteKeys(admin, prefix);
    await Promise.all(clients.map((redis) => redis.quit().catch(() => redis.disconnect())));
  });
  return {
    admin: () => admin!,
    client: (url?: string) => {
      const redis = testRedisClient(url);
      clients.push(redis);
      return redis;
    },
  };
}
