import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { describeWithRedis } from '../../../../test/support/services.js';
import {
  describeWithRedisServer,
  startRedisServer,
  type TestRedisServer,
} from '../../../../test/support/redis-server.js';
import { deleteKeys, testRedisClient, useTestRedis } from '../support/test-redis.js';
import { SecurityStoreUnavailableError } from '../../src/core/errors.js';
import { MemoryRateLimitStore } from '../../src/rate-limit/adapters/memory-rate-limit.store.js';
import { RATE_LIMIT_LUA_SHA, RedisRateLimitStore } from '../../src/rate-limit/adapters/redis-rate-limit.store.js';
import type { RateLimitCheck, RateLimitDecision, RateLimitStore } from '../../src/rate-limit/rate-limit.store.js';
import { T0 } from './rate-limit-store.contract.js';

// RedisRateLimitStore sends the `consume` calls of one event-loop turn as one EVALSHA. These tests would
// fail if a batch mixed up its calls: each call keeps its own all-or-nothing outcome, calls on one key
// are counted in call order, and a batch that fails or times out rejects every call in it.

const RUN_PREFIX = `nas_test:rl-batch:${randomBytes(6).toString('hex')}:`;
const W = 60_000;

type Call = readonly [checks: RateLimitCheck[], now: number];

/** Makes every call in the same turn and settles them all. */
function callTogether(
  store: RateLimitStore,
  calls: readonly Call[],
): Promise<PromiseSettledResult<RateLimitDecision[]>[]> {
  return Promise.allSettled(calls.map(([checks, now]) => store.consume(checks, now)));
}

/** The decisions of calls that all fulfilled. */
function fulfilled(outcomes: readonly PromiseSettledResult<RateLimitDecision[]>[]): RateLimitDecision[][] {
  return outcomes.map((outcome) => {
    if (outcome.status === 'rejected') throw outcome.reason;
    return outcome.value;
  });
}

/** A small seeded generator (mulberry32), so a failing run can be repeated. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * `rounds` rounds of `size` calls of 1 to 3 checks over 6 keys (each key keeps one policy: limit, cost,
 * block), with `now` moving forward by up to 4 s per round, so windows roll and blocks start and end.
 */
function randomRounds(seed: number, rounds: number, size: number): Call[][] {
  const next = random(seed);
  const pick = (n: number) => Math.floor(next() * n);
  const policies = Array.from({ length: 6 }, (_, i) => ({
    key: `k${i}`,
    limit: 2 + pick(6),
    windowMs: [5_000, 10_000, W][pick(3)]!,
    blockMs: pick(3) === 0 ? 8_000 : 0,
  }));
  let now = T0;
  return Array.from({ length: rounds }, () => {
    now += pick(4_000);
    return Array.from({ length: size }, () => {
      const keys = new Set(Array.from({ length: 1 + pick(3) }, () => pick(policies.length)));
      const checks = [...keys].map((i) => ({ ...policies[i]!, cost: pick(3) }));
      return [checks.map((check) => ({ ...check, cost: Math.min(check.cost, check.limit) })), now] as const;
    });
  });
}

describeWithRedis('RedisRateLimitStore batching', () => {
  const shared = useTestRedis(RUN_PREFIX);
  let testNumber = 0;
  /**
   * A store on a connection of its own and a prefix of its own; `scripts` sees the commands it sends
   * (`callBuffer('evalsha' | 'eval', [...])`), `evalshaCalls()` the EVALSHA ones.
   */
  async function storeWithClient(options: { maxBatchCalls?: number } = {}) {
    const client = shared.client();
    await client.connect();
    const store = new RedisRateLimitStore(client, { prefix: `${RUN_PREFIX}${++testNumber}:`, ...options });
    await store.init();
    const scripts = vi.spyOn(client, 'callBuffer');
    const evalshaCalls = () =>
      (scripts.mock.calls as unknown as [string, unknown[]][]).filter(([command]) => command === 'evalsha');
    return { store, client, scripts, evalshaCalls };
  }

  it('decides a batch whose reply arrived while this process stalled past the timeout, instead of failing it', async () => {
    const client = shared.client();
    await client.connect();
    const store = new RedisRateLimitStore(client, { prefix: `${RUN_PREFIX}${++testNumber}:`, commandTimeoutMs: 50 });
    await store.init();
    const decision = store.consume([{ key: 'k', limit: 5, windowMs: W }], T0);
    // Let the batch go out (its setImmediate was queued first), then keep the CPU busy past the timeout:
    // Redis answers meanwhile, but the overdue timer runs before the reply is read when the loop resumes.
    await new Promise((resolve) => setImmediate(resolve));
    const until = Date.now() + 300;
    while (Date.now() < until) {
      // busy, as a CPU-starved instance under a burst is
    }
    await expect(decision).resolves.toMatchObject([{ allowed: true, remaining: 4 }]);
  });

  it('sends the calls of one turn as one EVALSHA, each answered as the memory store answers it', async () => {
    const { store, evalshaCalls } = await storeWithClient();
    const memory = new MemoryRateLimitStore();
    const full = { key: 'full', limit: 1, windowMs: W };
    const ip = { key: 'ip', limit: 3, windowMs: W };
    const principal = { key: 'principal', limit: 2, windowMs: W, blockMs: 5 * W };
    const calls: Call[] = [
      [[full], T0],
      [[ip, full], T0],
      [[ip, principal], T0],
      [[principal], T0 + 1_000],
      [[principal, ip], T0 + 1_000],
      [[ip], T0 + 2_000],
      [[ip, principal], T0 + 3_000],
    ];

    const decisions = fulfilled(await callTogether(store, calls));

    expect(evalshaCalls()).toHaveLength(1);
    expect(decisions).toEqual(fulfilled(await callTogether(memory, calls)));
    // Spot checks: the refused call consumed nothing; the principal policy started its block for later calls.
    expect(decisions[1]).toMatchObject([{ allowed: true, remaining: 3 }, { allowed: false }]);
    expect(decisions[4]).toMatchObject([
      { allowed: false, retryAfterMs: 5 * W },
      { allowed: true, remaining: 2 },
    ]);
    expect(decisions[6]).toMatchObject([
      { allowed: true, remaining: 1 },
      { allowed: false, retryAfterMs: 5 * W - 2_000 },
    ]);
    await memory.shutdown();
  });

  it('answers 1,000 concurrent calls on one key in call order: exactly the first 100 pass a limit of 100', async () => {
    const { store, evalshaCalls } = await storeWithClient();
    const decisions = fulfilled(
      await callTogether(
        store,
        Array.from({ length: 1_000 }, (): Call => [[{ key: 'burst', limit: 100, windowMs: W }], T0]),
      ),
    ).map(([decision]) => decision!);

    expect(decisions.map((decision) => decision.allowed)).toEqual(Array.from({ length: 1_000 }, (_, i) => i < 100));
    expect(decisions.map((decision) => decision.remaining)).toEqual(
      Array.from({ length: 1_000 }, (_, i) => Math.max(0, 99 - i)),
    );
    // 32 calls per batch at most.
    expect(evalshaCalls()).toHaveLength(32);
  });

  it('keeps to maxBatchCalls, counting across batches in call order', async () => {
    const { store, evalshaCalls } = await storeWithClient({ maxBatchCalls: 7 });
    const decisions = fulfilled(
      await callTogether(
        store,
        Array.from({ length: 50 }, (_, i): Call => [[{ key: `k${i % 2}`, limit: 20, windowMs: W }], T0]),
      ),
    );
    expect(evalshaCalls()).toHaveLength(8);
    expect(decisions.map(([decision]) => decision!.allowed)).toEqual(Array.from({ length: 50 }, (_, i) => i < 40));
    expect(() => new RedisRateLimitStore(shared.admin(), { maxBatchCalls: 0 })).toThrow(TypeError);
  });

  it('sends a call alone when nothing else is asked in its turn', async () => {
    const { store, evalshaCalls } = await storeWithClient();
    for (let i = 1; i <= 3; i++) {
      expect(await store.consume([{ key: 'alone', limit: 5, windowMs: W }], T0)).toMatchObject([
        { allowed: true, remaining: 5 - i },
      ]);
    }
    expect(evalshaCalls()).toHaveLength(3);
  });

  it('decides random concurrent calls exactly as the memory store decides them one by one', async () => {
    const { store, evalshaCalls } = await storeWithClient();
    const memory = new MemoryRateLimitStore();
    const rounds = randomRounds(20_260_301, 30, 40);
    let refused = 0;
    for (const [round, calls] of rounds.entries()) {
      const redisDecisions = fulfilled(await callTogether(store, calls));
      const memoryDecisions = fulfilled(await callTogether(memory, calls));
      expect(redisDecisions, `round ${round}`).toEqual(memoryDecisions);
      refused += redisDecisions.filter((decisions) => decisions.some((decision) => !decision.allowed)).length;
    }
    // 40 calls a round: a batch of 32 (the default maximum), then one of 8.
    expect(evalshaCalls()).toHaveLength(2 * rounds.length);
    // The mix exercised both outcomes.
    expect(refused).toBeGreaterThan(100);
    expect(refused).toBeLessThan(30 * 40 - 100);
    await memory.shutdown();
  });

  it('rejects an invalid call on its own, before it joins a batch', async () => {
    const { store, evalshaCalls } = await storeWithClient();
    const outcomes = await callTogether(store, [
      [[{ key: 'a', limit: 2, windowMs: W }], T0],
      [[{ key: 'b', limit: 2, windowMs: W, cost: 3 }], T0],
      [[{ key: 'c', limit: 2, windowMs: 0 }], T0],
      [[{ key: 'a', limit: 2, windowMs: W }], -1],
      [[{ key: 'a', limit: 2, windowMs: W }], T0],
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
    for (const outcome of outcomes.slice(1, 4))
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
    expect(fulfilled([outcomes[4]!])[0]).toMatchObject([{ allowed: true, remaining: 0 }]);
    // One EVALSHA, with the one key of the valid calls.
    expect(evalshaCalls()).toHaveLength(1);
    expect(evalshaCalls()[0]![1].slice(0, 3)).toEqual([RATE_LIMIT_LUA_SHA, 1, `${store.prefix}a`]);
  });

  it('rejects every call of a batch that fails, and nothing of it counts', async () => {
    const { store, scripts } = await storeWithClient();
    const check = { key: 'k', limit: 3, windowMs: W };
    scripts.mockRejectedValueOnce(new Error('ERR something went wrong'));
    const outcomes = await callTogether(store, [
      [[check], T0],
      [[check, { key: 'other', limit: 1, windowMs: W }], T0],
      [[check], T0 + 1],
    ]);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as SecurityStoreUnavailableError;
      expect(reason).toBeInstanceOf(SecurityStoreUnavailableError);
      expect((reason.cause as Error).message).toBe('ERR something went wrong');
    }
    // Each caller has an error of its own.
    expect(new Set(outcomes.map((outcome) => (outcome as PromiseRejectedResult).reason)).size).toBe(3);
    // The next batch goes to Redis, which never saw the failed one.
    expect(fulfilled(await callTogether(store, [[[check], T0]]))).toMatchObject([[{ allowed: true, remaining: 2 }]]);
  });

  it('rejects every call of a batch when the reply is not what the script answers', async () => {
    const { store, scripts } = await storeWithClient();
    scripts.mockResolvedValueOnce([1, 2, 3]);
    const outcomes = await callTogether(store, [
      [[{ key: 'a', limit: 3, windowMs: W }], T0],
      [[{ key: 'b', limit: 3, windowMs: W }], T0],
    ]);
    for (const outcome of outcomes) {
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(SecurityStoreUnavailableError);
    }
  });

  it("works on a client with ioredis's own keyPrefix", async () => {
    const client = shared.client();
    await client.connect();
    const prefixed = new Redis(client.options.port!, client.options.host!, {
      keyPrefix: `${RUN_PREFIX}client:`,
      lazyConnect: true,
    });
    await prefixed.connect();
    const store = new RedisRateLimitStore(prefixed, { prefix: 'store:' });
    const outcomes = fulfilled(
      await callTogether(store, [
        [[{ key: 'k', limit: 2, windowMs: W }], T0],
        [[{ key: 'k', limit: 2, windowMs: W }], T0],
      ]),
    );
    expect(outcomes).toMatchObject([[{ remaining: 1 }], [{ remaining: 0 }]]);
    expect(await client.exists(`${RUN_PREFIX}client:store:k`)).toBe(1);
    prefixed.disconnect();
  });

  afterAll(async () => {
    await deleteKeys(shared.admin(), RUN_PREFIX);
  });
});

// SCRIPT FLUSH and a Redis that stops answering need a server of this test's own.
describeWithRedisServer('RedisRateLimitStore batching on a private server', () => {
  let server: TestRedisServer;
  let redis: Redis;
  let admin: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = testRedisClient(server.url);
    admin = testRedisClient(server.url);
    await Promise.all([redis.connect(), admin.connect()]);
  });

  afterAll(async () => {
    redis?.disconnect();
    admin?.disconnect();
    await server?.stop();
  });

  it('falls back to EVAL for each batch that meets NOSCRIPT after SCRIPT FLUSH, with exact counts', async () => {
    const store = new RedisRateLimitStore(redis, { prefix: 'flush:', maxBatchCalls: 10 });
    await store.init();
    const scripts = vi.spyOn(redis, 'callBuffer');
    const check = { key: 'k', limit: 25, windowMs: W };
    const calls = Array.from({ length: 10 }, () => store.consume([check], T0));
    // The first batch is full, so on its way; SCRIPT FLUSH goes after it, before the next two batches.
    await redis.script('FLUSH');
    calls.push(...Array.from({ length: 20 }, () => store.consume([check], T0)));

    const decisions = (await Promise.all(calls)).map(([decision]) => decision!);

    expect(decisions.map((decision) => decision.allowed)).toEqual(Array.from({ length: 30 }, (_, i) => i < 25));
    const commands = (scripts.mock.calls as unknown as [string][]).map(([command]) => command);
    expect(commands).toEqual(['evalsha', 'evalsha', 'evalsha', 'eval', 'eval']);
    expect(await admin.script('EXISTS', RATE_LIMIT_LUA_SHA)).toEqual([1]);
    scripts.mockRestore();
  });

  it('falls back to EVAL when SCRIPT FLUSH comes in the same turn as the calls', async () => {
    const store = new RedisRateLimitStore(redis, { prefix: 'flush-same-turn:' });
    await store.init();
    const calls = Array.from({ length: 5 }, (_, i) => store.consume([{ key: 'k', limit: 3, windowMs: W }], T0 + i));
    // Sent at once, while the batch waits for the end of this turn.
    const flushed = redis.script('FLUSH');
    expect((await Promise.all(calls)).map(([decision]) => decision!.allowed)).toEqual([true, true, true, false, false]);
    await flushed;
  });

  it('rejects every waiting call, batch by batch, once commandTimeoutMs has passed without an answer', async () => {
    const store = new RedisRateLimitStore(redis, { prefix: 'paused:', commandTimeoutMs: 150 });
    await store.init();
    // Redis holds every client's commands (this one's included) for 1.5 s.
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const first = Array.from({ length: 3 }, () => store.consume([{ key: 'k', limit: 5, windowMs: W }], T0));
    await new Promise((resolve) => setImmediate(resolve));
    const second = Array.from({ length: 2 }, () => store.consume([{ key: 'k', limit: 5, windowMs: W }], T0));

    for (const outcome of await Promise.allSettled([...first, ...second])) {
      const reason = (outcome as PromiseRejectedResult).reason as SecurityStoreUnavailableError;
      expect(reason).toBeInstanceOf(SecurityStoreUnavailableError);
      expect((reason.cause as Error).message).toBe('no answer from Redis within 150 ms');
    }
    // Once Redis answers again, so does the store. The timed-out batches ran late (their replies ignored).
    await admin.ping();
    expect(await store.consume([{ key: 'k', limit: 10, windowMs: W }], T0)).toMatchObject([
      { allowed: true, remaining: 4 },
    ]);
  });
});
