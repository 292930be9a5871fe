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

  /** The five numbers a key holds (ws, cur, prev, bu, window), decoded by Redis's own MessagePack. */
  const stored = async (key: string) =>
    shared.admin().eval("return { cmsgpack.unpack(redis.call('GET', KEYS[1])) }", 1, key) as Promise<number[]>;

  it('stores one small string per key, kept two windows after its window start or until its block ends', async () => {
    const prefix = `${RUN_PREFIX}ttl:`;
    const store = new RedisRateLimitStore(shared.admin(), { prefix });
    const now = Date.now();
    const start = now - (now % W);
    await store.consume(
      [
        { key: 'a', limit: 5, windowMs: W },
        { key: 'b', limit: 5, windowMs: W, blockMs: 10 * W },
      ],
      now,
    );
    expect(await shared.admin().type(`${prefix}a`)).toBe('string');
    expect(await stored(`${prefix}a`)).toEqual([start, 1, 0, 0, W]);
    expect(await stored(`${prefix}b`)).toEqual([start, 1, 0, 0, W]);
    expect(await shared.admin().strlen(`${prefix}a`)).toBeLessThanOrEqual(20);
    const ttl = await shared.admin().pttl(`${prefix}a`);
    expect(ttl).toBeGreaterThan(W);
    expect(ttl).toBeLessThanOrEqual(2 * W);

    const blocking = { key: 'c', limit: 1, windowMs: W, blockMs: 10 * W };
    await store.consume([blocking], now);
    expect(await store.consume([blocking], now)).toMatchObject([{ allowed: false, retryAfterMs: 10 * W }]);
    expect(await stored(`${prefix}c`)).toEqual([start, 1, 0, now + 10 * W, W]);
    expect(await shared.admin().pttl(`${prefix}c`)).toBeGreaterThan(9 * W);

    // A refusal that starts no block writes nothing (the value is not even moved to the new window).
    await store.consume([{ key: 'd', limit: 1, windowMs: W }], now);
    expect(await store.consume([{ key: 'd', limit: 1, windowMs: W }], start + W + 1)).toMatchObject([
      { allowed: false },
    ]);
    expect(await stored(`${prefix}d`)).toEqual([start, 1, 0, 0, W]);
    await deleteKeys(shared.admin(), prefix);
  });

  it('sets the expiry again when the window moves on or the window length changes', async () => {
    const prefix = `${RUN_PREFIX}rearm:`;
    const store = new RedisRateLimitStore(shared.admin(), { prefix });
    const hour = 60 * W;
    const now = Date.now();
    const start = now - (now % hour);
    await store.consume([{ key: 'k', limit: 5, windowMs: W }], start + 1_000);
    // Halfway through the next window: two windows after its start is 1.5 windows away.
    await store.consume([{ key: 'k', limit: 5, windowMs: W }], start + W + W / 2);
    expect(await stored(`${prefix}k`)).toEqual([start + W, 1, 1, 0, W]);
    expect(await shared.admin().pttl(`${prefix}k`)).toBeLessThanOrEqual(1.5 * W);
    // The same counter under a one-hour window (its window start is not before the hour's, so it is
    // kept as it is): it must now last about two hours.
    await store.consume([{ key: 'k', limit: 5, windowMs: hour }], start + W + W / 2);
    expect(await stored(`${prefix}k`)).toEqual([start + W, 2, 1, 0, hour]);
    expect(await shared.admin().pttl(`${prefix}k`)).toBeGreaterThan(hour);
    await deleteKeys(shared.admin(), prefix);
  });

  it('reads a hash of the previous version (its counts and block carry over), rewriting it when written', async () => {
    const prefix = `${RUN_PREFIX}upgrade:`;
    const admin = shared.admin();
    const store = new RedisRateLimitStore(admin, { prefix });
    await admin.hset(`${prefix}counted`, { ws: T0, cur: 4, prev: 2, bu: 0 });
    await admin.hset(`${prefix}blocked`, { ws: T0, cur: 1, prev: 0, bu: T0 + 10 * W });
    await Promise.all([admin.pexpire(`${prefix}counted`, 2 * W), admin.pexpire(`${prefix}blocked`, 10 * W)]);

    expect(
      await store.consume(
        [
          { key: 'counted', limit: 8, windowMs: W },
          { key: 'fresh', limit: 8, windowMs: W },
        ],
        T0 + W / 2,
      ),
    ).toMatchObject([
      { allowed: true, remaining: 2 },
      { allowed: true, remaining: 7 },
    ]);
    expect(await admin.type(`${prefix}counted`)).toBe('string');
    expect(await stored(`${prefix}counted`)).toEqual([T0, 5, 2, 0, W]);
    expect(await store.consume([{ key: 'blocked', limit: 5, windowMs: W }], T0 + W)).toMatchObject([
      { allowed: false, remaining: 0, retryAfterMs: 9 * W },
    ]);
    await deleteKeys(admin, prefix);
  });

  it('counts a key it cannot read (another type, or not its format) as absent, and overwrites it', async () => {
    const prefix = `${RUN_PREFIX}foreign:`;
    const admin = shared.admin();
    const store = new RedisRateLimitStore(admin, { prefix });
    await admin.rpush(`${prefix}list`, 'x');
    await admin.set(`${prefix}text`, 'not a rate-limit state');
    expect(
      await store.consume(
        [
          { key: 'list', limit: 5, windowMs: W },
          { key: 'text', limit: 5, windowMs: W },
        ],
        T0,
      ),
    ).toMatchObject([
      { allowed: true, remaining: 4 },
      { allowed: true, remaining: 4 },
    ]);
    expect(await stored(`${prefix}list`)).toEqual([T0, 1, 0, 0, W]);
    expect(await stored(`${prefix}text`)).toEqual([T0, 1, 0, 0, W]);
    await deleteKeys(admin, prefix);
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
