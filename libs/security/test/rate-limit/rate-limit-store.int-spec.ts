import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithRedis } from '../../../../test/support/services.js';
import { deleteKeys, testRedisClient, useTestRedis } from '../support/test-redis.js';
import {
  describeWithRedisServer,
  startRedisServer,
  type TestRedisServer,
} from '../../../../test/support/redis-server.js';
import { SecurityStoreUnavailableError } from '../../src/core/errors.js';
import { MemoryRateLimitStore } from '../../src/rate-limit/adapters/memory-rate-limit.store.js';
import { RATE_LIMIT_LUA_SHA, RedisRateLimitStore } from '../../src/rate-limit/adapters/redis-rate-limit.store.js';
import type { RateLimitDecision, RateLimitStore } from '../../src/rate-limit/rate-limit.store.js';
import { describeRateLimitStoreContract, T0 } from './rate-limit-store.contract.js';

const RUN_PREFIX = `nas_test:rl:${randomBytes(6).toString('hex')}:`;
const W = 60_000;

/** 1,000 concurrent requests on one key with a limit of 100, spread over the given stores. */
async function burst(stores: readonly RateLimitStore[]): Promise<RateLimitDecision[]> {
  const calls = Array.from({ length: 1_000 }, (_, i) =>
    stores[i % stores.length]!.consume([{ key: 'burst', limit: 100, windowMs: W }], T0),
  );
  return (await Promise.all(calls)).map(([decision]) => decision!);
}

describeRateLimitStoreContract('memory', async () => {
  const store = new MemoryRateLimitStore();
  return { store, cleanup: () => store.shutdown() };
});

describe('MemoryRateLimitStore', () => {
  it('allows exactly 100 of 1,000 concurrent requests against a limit of 100', async () => {
    const store = new MemoryRateLimitStore();
    const decisions = await burst([store]);
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(100);
    expect(decisions.filter((decision) => !decision.allowed).every((decision) => decision.retryAfterMs > 0)).toBe(true);
    await store.shutdown();
  });

  it('keeps at most maxKeys keys, dropping the least recently written', async () => {
    const store = new MemoryRateLimitStore({ maxKeys: 3 });
    for (const key of ['a', 'b', 'c', 'd']) await store.consume([{ key, limit: 1, windowMs: W }], T0);
    expect(store.size).toBe(3);
    // 'a' was dropped (fresh again); 'd' is still counted.
    expect(await store.consume([{ key: 'a', limit: 1, windowMs: W }], T0)).toMatchObject([{ allowed: true }]);
    expect(await store.consume([{ key: 'd', limit: 1, windowMs: W }], T0)).toMatchObject([{ allowed: false }]);
    await store.shutdown();
  });

  it('sweeps keys whose windows and blocks are over, as of the latest now it was given', async () => {
    const store = new MemoryRateLimitStore({ sweepIntervalMs: 0 });
    await store.consume([{ key: 'short', limit: 1, windowMs: W }], T0);
    await store.consume([{ key: 'blocked', limit: 1, windowMs: W, blockMs: 10 * W }], T0);
    await store.consume([{ key: 'blocked', limit: 1, windowMs: W, blockMs: 10 * W }], T0);
    await store.consume([{ key: 'other', limit: 1, windowMs: W }], T0 + 2 * W);
    store.sweep();
    expect(store.size).toBe(2);
    expect(await store.consume([{ key: 'blocked', limit: 1, windowMs: W }], T0 + 2 * W)).toMatchObject([
      { allowed: false, retryAfterMs: 8 * W },
    ]);
    await store.shutdown();
  });

  it('rejects invalid options', () => {
    expect(() => new MemoryRateLimitStore({ maxKeys: 0 })).toThrow(TypeError);
    expect(() => new MemoryRateLimitStore({ sweepIntervalMs: -1 })).toThrow(TypeError);
  });
});

describeWithRedis('RedisRateLimitStore', () => {
  const shared = useTestRedis(RUN_PREFIX);
  let testNumber = 0;

  describeRateLimitStoreContract('redis', async () => {
    const prefix = `${RUN_PREFIX}${++testNumber}:`;
    const store = new RedisRateLimitStore(shared.admin(), { prefix });
    await store.init();
    return { store, cleanup: () => deleteKeys(shared.admin(), prefix) };
  });

  it('allows exactly 100 of 1,000 concurrent requests against a limit of 100, from two instances', async () => {
    const prefix = `${RUN_PREFIX}burst:`;
    const [first, second] = [shared.client(), shared.client()];
    await Promise.all([first.connect(), second.connect()]);
    const stores = [new RedisRateLimitStore(first, { prefix }), new RedisRateLimitStore(second, { prefix })];

    const decisions = await burst(stores);

    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(100);
    await deleteKeys(shared.admin(), prefix);
  });

  it('stores one small hash per key, expiring two windows after its window started (or when its block ends)', async () => {
    const prefix = `${RUN_PREFIX}ttl:`;
    const store = new RedisRateLimitStore(shared.admin(), { prefix });
    const now = Date.now();
    await store.consume(
      [
        { key: 'a', limit: 5, windowMs: W },
        { key: 'b', limit: 5, windowMs: W, blockMs: 10 * W },
      ],
      now,
    );
    expect(await shared.admin().hgetall(`${prefix}a`)).toEqual({
      ws: String(now - (now % W)),
      cur: '1',
      prev: '0',
      bu: '0',
    });
    const ttl = await shared.admin().pttl(`${prefix}a`);
    expect(ttl).toBeGreaterThan(W);
    expect(ttl).toBeLessThanOrEqual(2 * W);
    await deleteKeys(shared.admin(), prefix);
  });

  it('uses the prefix for every key, and keeps stores with different prefixes apart', async () => {
    const [one, two] = [`${RUN_PREFIX}p1:`, `${RUN_PREFIX}p2:`];
    const first = new RedisRateLimitStore(shared.admin(), { prefix: one });
    const second = new RedisRateLimitStore(shared.admin(), { prefix: two });
    await first.consume([{ key: 'k', limit: 1, windowMs: W }], T0);
    expect(await second.consume([{ key: 'k', limit: 1, windowMs: W }], T0)).toMatchObject([{ allowed: true }]);
    expect(await shared.admin().exists(`${one}k`, `${two}k`)).toBe(2);
    await Promise.all([deleteKeys(shared.admin(), one), deleteKeys(shared.admin(), two)]);
  });

  it('loads the script under the SHA it calls', async () => {
    expect(await shared.admin().script('EXISTS', RATE_LIMIT_LUA_SHA)).toEqual([1]);
  });
});

// SCRIPT FLUSH and outages need a Redis of this test's own, not the shared one.
describeWithRedisServer('RedisRateLimitStore on a private server', () => {
  let server: TestRedisServer;
  let redis: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = testRedisClient(server.url);
    await redis.connect();
  });

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('falls back to EVAL when Redis has forgotten the script, which loads it again', async () => {
    const store = new RedisRateLimitStore(redis, { prefix: 'rl:' });
    await store.init();
    await redis.script('FLUSH');

    expect(await store.consume([{ key: 'k', limit: 2, windowMs: W }], T0)).toMatchObject([{ allowed: true }]);
    expect(await redis.script('EXISTS', RATE_LIMIT_LUA_SHA)).toEqual([1]);
  });

  it('rejects with SecurityStoreUnavailableError when Redis does not answer', async () => {
    const store = new RedisRateLimitStore(redis, { prefix: 'rl:', commandTimeoutMs: 300 });
    await server.stop();
    try {
      await expect(store.consume([{ key: 'k', limit: 2, windowMs: W }], T0)).rejects.toThrow(
        SecurityStoreUnavailableError,
      );
    } finally {
      await server.start();
    }
  });
});
