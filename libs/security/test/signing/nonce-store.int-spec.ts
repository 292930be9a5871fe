import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeWithRedisServer,
  startRedisServer,
  type TestRedisServer,
} from '../../../../test/support/redis-server.js';
import { describeWithRedis } from '../../../../test/support/services.js';
import { deleteKeys, testRedisClient, useTestRedis } from '../support/test-redis.js';
import { ManualClock } from '../../src/core/clock.js';
import { SecurityStoreUnavailableError } from '../../src/core/errors.js';
import { MemoryNonceStore } from '../../src/signing/adapters/memory-nonce.store.js';
import { NONCE_CLAIM_LUA, RedisNonceStore } from '../../src/signing/adapters/redis-nonce.store.js';
import { describeNonceStoreContract } from './nonce-store.contract.js';

const RUN_PREFIX = `nas_test:nonce:${randomBytes(6).toString('hex')}:`;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describeNonceStoreContract('memory', async () => {
  const clock = new ManualClock();
  const store = new MemoryNonceStore({ clock });
  return { store, elapse: async (ms) => clock.advance(ms), ttlMs: 600_000, cleanup: () => store.shutdown() };
});

describe('MemoryNonceStore', () => {
  it('keeps memory bounded: drops expired entries as it goes, without timers', async () => {
    const clock = new ManualClock();
    const store = new MemoryNonceStore({ clock, maxKeys: 1_000 });
    for (let i = 0; i < 500; i++) await store.claim(`old:${i}`, 1_000);
    clock.advance(1_000);

    for (let i = 0; i < 500; i++) await store.claim(`new:${i}`, 1_000);

    // Each claim looks at a few of the oldest entries, so the expired ones are mostly gone already.
    expect(store.size).toBeLessThan(600);
    expect(await store.claim('old:1', 1_000)).toBe(true);
  });

  it('makes room by sweeping expired entries when full', async () => {
    const clock = new ManualClock();
    const store = new MemoryNonceStore({ clock, maxKeys: 3 });
    await store.claim('long', 10_000);
    await store.claim('short-1', 1_000);
    await store.claim('short-2', 1_000);
    clock.advance(1_000);

    expect(await store.claim('next', 1_000)).toBe(true);
    expect(store.size).toBeLessThanOrEqual(3);
    expect(await store.claim('long', 10_000)).toBe(false);
  });

  it('refuses a claim, rather than forget a live nonce, when full of unexpired ones (fail closed)', async () => {
    const clock = new ManualClock();
    const store = new MemoryNonceStore({ clock, maxKeys: 3 });
    for (const key of ['a', 'b', 'c']) await store.claim(key, 10_000);

    const refused = store.claim('d', 10_000);

    await expect(refused).rejects.toBeInstanceOf(SecurityStoreUnavailableError);
    await expect(refused).rejects.toMatchObject({ store: 'nonce', retryAfterSeconds: 10 });
    // Every nonce it holds is still refused: none was dropped to make room.
    for (const key of ['a', 'b', 'c']) expect(await store.claim(key, 10_000)).toBe(false);
    clock.advance(10_000);
    expect(await store.claim('d', 10_000)).toBe(true);
  });

  it('stores a digest of each key: a long key takes no more room than a short one', async () => {
    const store = new MemoryNonceStore();
    const long = `rfc9421:NASAAAAAAAAAAAAAAAAA:${'n'.repeat(16_000)}`;

    expect(await store.claim(long, 60_000)).toBe(true);
    expect(await store.claim(long, 60_000)).toBe(false);
    expect(await store.claim(long.slice(0, -1), 60_000)).toBe(true);
  });

  it('rejects invalid options', () => {
    expect(() => new MemoryNonceStore({ maxKeys: 0 })).toThrow(TypeError);
    expect(() => new MemoryNonceStore({ maxKeys: 1.5 })).toThrow(TypeError);
  });
});

describe('RedisNonceStore without an answer', () => {
  it('rejects with SecurityStoreUnavailableError when a claim is not answered in time, never accepting it', async () => {
    const silent = { evalsha: () => new Promise<never>(() => {}) } as unknown as Redis;
    const store = new RedisNonceStore(silent, { commandTimeoutMs: 50 });

    await expect(store.claim('k', 60_000)).rejects.toBeInstanceOf(SecurityStoreUnavailableError);
    await expect(store.claim('k', 60_000)).rejects.toMatchObject({
      code: 'ERR_SECURITY_STORE_UNAVAILABLE',
      store: 'nonce',
    });
  });

  it('rejects with SecurityStoreUnavailableError when the client refuses the command', async () => {
    const refusing = { evalsha: () => Promise.reject(new Error('Stream isn’t writeable')) } as unknown as Redis;

    await expect(new RedisNonceStore(refusing).claim('k', 60_000)).rejects.toBeInstanceOf(
      SecurityStoreUnavailableError,
    );
  });

  it('rejects invalid options', () => {
    expect(() => new RedisNonceStore({} as Redis, { commandTimeoutMs: 0 })).toThrow(TypeError);
  });
});

describeWithRedis('RedisNonceStore', () => {
  const shared = useTestRedis(RUN_PREFIX);
  let testNumber = 0;

  describeNonceStoreContract('redis', async () => {
    const prefix = `${RUN_PREFIX}${++testNumber}:`;
    return {
      store: new RedisNonceStore(shared.admin(), { prefix }),
      elapse: (ms) => sleep(ms),
      ttlMs: 600,
      cleanup: () => deleteKeys(shared.admin(), prefix),
    };
  });

  it('accepts exactly one of 200 concurrent claims of one key from two instances', async () => {
    const prefix = `${RUN_PREFIX}race:`;
    const [first, second] = [shared.client(), shared.client()];
    await Promise.all([first.connect(), second.connect()]);
    const stores = [new RedisNonceStore(first, { prefix }), new RedisNonceStore(second, { prefix })];

    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => stores[i % 2]!.claim('one', 60_000)));

    expect(results.filter(Boolean)).toHaveLength(1);
    await deleteKeys(shared.admin(), prefix);
  });

  it('stores one key under the prefix, expiring after the TTL', async () => {
    const prefix = `${RUN_PREFIX}ttl:`;
    const store = new RedisNonceStore(shared.admin(), { prefix });

    await store.claim('hmac-sha256:NASAAAAAAAAAAAAAAAAA:n', 30_000);

    expect(await shared.admin().get(`${prefix}hmac-sha256:NASAAAAAAAAAAAAAAAAA:n`)).toMatch(/^[\w-]{16}$/);
    const ttl = await shared.admin().pttl(`${prefix}hmac-sha256:NASAAAAAAAAAAAAAAAAA:n`);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
    await deleteKeys(shared.admin(), prefix);
  });

  it('accepts a claim the client ran twice (a re-send after a lost reply), and refuses every other', async () => {
    const prefix = `${RUN_PREFIX}resend:`;
    const admin = shared.admin();
    await admin.script('LOAD', NONCE_CLAIM_LUA);
    // ioredis re-sends a command in flight when the connection drops: Redis may run it twice.
    const resending = {
      evalsha: async (...args: Parameters<Redis['evalsha']>) => {
        await admin.evalsha(...args);
        return admin.evalsha(...args);
      },
    } as unknown as Redis;

    expect(await new RedisNonceStore(resending, { prefix }).claim('k', 60_000)).toBe(true);
    expect(await new RedisNonceStore(admin, { prefix }).claim('k', 60_000)).toBe(false);
    expect(await new RedisNonceStore(resending, { prefix }).claim('k', 60_000)).toBe(false);
    await deleteKeys(admin, prefix);
  });

  it('keeps stores with different prefixes apart, and defaults to nas:nonce:', async () => {
    const [one, two] = [`${RUN_PREFIX}p1:`, `${RUN_PREFIX}p2:`];

    expect(await new RedisNonceStore(shared.admin(), { prefix: one }).claim('k', 60_000)).toBe(true);
    expect(await new RedisNonceStore(shared.admin(), { prefix: two }).claim('k', 60_000)).toBe(true);
    expect(await shared.admin().exists(`${one}k`, `${two}k`)).toBe(2);
    expect(new RedisNonceStore(shared.admin()).prefix).toBe('nas:nonce:');
    await Promise.all([deleteKeys(shared.admin(), one), deleteKeys(shared.admin(), two)]);
  });
});

// Outages need a Redis of this test's own, not the shared one.
describeWithRedisServer('RedisNonceStore on a private server', () => {
  let server: TestRedisServer;
  let redis: Redis;
  let admin: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    [redis, admin] = [testRedisClient(server.url), testRedisClient(server.url)];
    await Promise.all([redis.connect(), admin.connect()]);
  });

  afterAll(async () => {
    redis?.disconnect();
    admin?.disconnect();
    await server?.stop();
  });

  it('refuses with SecurityStoreUnavailableError while Redis is connected but does not answer', async () => {
    const store = new RedisNonceStore(redis, { prefix: 'paused:', commandTimeoutMs: 200 });
    await admin.call('CLIENT', 'PAUSE', '1000', 'ALL');

    await expect(store.claim('k', 60_000)).rejects.toBeInstanceOf(SecurityStoreUnavailableError);
  });

  it('refuses with SecurityStoreUnavailableError while Redis is down, and works again once it is back', async () => {
    const store = new RedisNonceStore(redis, { prefix: 'down:', commandTimeoutMs: 300 });
    await server.stop();
    try {
      await expect(store.claim('k', 60_000)).rejects.toBeInstanceOf(SecurityStoreUnavailableError);
    } finally {
      await server.start();
    }
    await expect.poll(() => store.claim('after', 60_000).catch(() => 'unavailable'), { timeout: 5_000 }).toBe(true);
  });

  it('still refuses a replay after a dropped connection, when Redis kept its data (no quarantine)', async () => {
    const store = new RedisNonceStore(redis, { prefix: 'kept:', commandTimeoutMs: 300 });
    expect(await store.claim('k', 60_000)).toBe(true);
    await admin.call('CLIENT', 'KILL', 'ID', String(await redis.call('CLIENT', 'ID')));

    await expect.poll(() => store.claim('k', 60_000).catch(() => 'unavailable'), { timeout: 5_000 }).toBe(false);
    expect(await store.claim('fresh', 60_000)).toBe(true);
  });

  it('refuses every claim for one TTL once Redis comes back without the claims (restart), on every store', async () => {
    const ttlMs = 1_500;
    const warnings: string[] = [];
    const logger = { warn: (message: string) => warnings.push(message) };
    const [before, other] = [
      new RedisNonceStore(redis, { prefix: 'lost:', commandTimeoutMs: 300, logger }),
      new RedisNonceStore(redis, { prefix: 'lost:', commandTimeoutMs: 300, logger }),
    ];
    expect(await before.claim('k', ttlMs)).toBe(true);
    expect(await other.claim('other', ttlMs)).toBe(true);
    await server.stop();
    await server.start();

    // The first answer after the restart: the epoch changed, so 'k' may have been claimed; refused (while
    // the client reconnects, refused as unavailable too), never accepted.
    const outcomes: unknown[] = [];
    await expect
      .poll(
        async () => {
          const outcome = await before.claim('k', ttlMs).catch((error: Error) => error.cause);
          outcomes.push(outcome);
          return outcome instanceof Error ? outcome.message : outcome;
        },
        { timeout: 5_000 },
      )
      .toMatch(/nonce claims were lost/);
    expect(outcomes.filter((outcome) => !(outcome instanceof Error))).toEqual([]);
    await expect(before.claim('k', ttlMs)).rejects.toMatchObject({ store: 'nonce' });
    // A store that had not noticed yet, and a store that never saw the old set, are refused as well.
    await expect(other.claim('fresh', ttlMs)).rejects.toBeInstanceOf(SecurityStoreUnavailableError);
    const newcomer = new RedisNonceStore(redis, { prefix: 'lost:', commandTimeoutMs: 300, logger });
    await expect(newcomer.claim('fresh', ttlMs)).rejects.toBeInstanceOf(SecurityStoreUnavailableError);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/lost the claims/);

    // Once the lost claims would have expired, claims are decided again.
    await sleep(ttlMs);
    expect(await before.claim('k', ttlMs)).toBe(true);
    expect(await other.claim('k', ttlMs)).toBe(false);
    expect(await newcomer.claim('fresh', ttlMs)).toBe(true);
  });

  it('quarantines after a FLUSHALL, for the longest TTL in use, and starts a new epoch only once', async () => {
    const store = new RedisNonceStore(redis, { prefix: 'flushed:', commandTimeoutMs: 300, logger: { warn() {} } });
    expect(await store.claim('k', 60_000)).toBe(true);
    const epoch = await admin.get('flushed:~epoch');
    expect(epoch).toMatch(/^[\w-]{16}@\d{13}$/);
    await admin.flushall();

    await expect(store.claim('k', 60_000)).rejects.toMatchObject({ retryAfterSeconds: 60 });
    const renewed = await admin.get('flushed:~epoch');
    expect(renewed).not.toBe(epoch);
    // A shorter TTL does not shorten the quarantine; the epoch stays the new one.
    await expect(store.claim('x', 1_000)).rejects.toMatchObject({ retryAfterSeconds: 60 });
    expect(await admin.get('flushed:~epoch')).toBe(renewed);
    expect(await admin.pttl('flushed:~lost')).toBeGreaterThan(55_000);
    expect(await admin.exists('flushed:x')).toBe(0);
  });

  it('does not quarantine again when a store notices the loss after the lost claims have expired', async () => {
    const ttlMs = 1_000;
    const quiet = { warn() {} };
    const [busy, idle] = [
      new RedisNonceStore(redis, { prefix: 'late:', commandTimeoutMs: 300, logger: quiet }),
      new RedisNonceStore(redis, { prefix: 'late:', commandTimeoutMs: 300, logger: quiet }),
    ];
    expect(await busy.claim('a', ttlMs)).toBe(true);
    expect(await idle.claim('b', ttlMs)).toBe(true);
    await admin.flushall();
    // The busy store starts the new epoch and the quarantine at once.
    await expect(busy.claim('a', ttlMs)).rejects.toBeInstanceOf(SecurityStoreUnavailableError);
    await sleep(ttlMs + 100);
    expect(await busy.claim('c', ttlMs)).toBe(true);
    // The idle store sees the new epoch only now, one TTL after it was made: every claim it could have
    // missed has expired, so it decides at once and refuses no one.
    expect(await idle.claim('d', ttlMs)).toBe(true);
    expect(await busy.claim('e', ttlMs)).toBe(true);
    expect(await admin.exists('late:~lost')).toBe(0);
  });
});
