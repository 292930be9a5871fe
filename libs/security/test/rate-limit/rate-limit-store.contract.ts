import { describe, expect, it } from 'vitest';
import type { RateLimitCheck, RateLimitDecision, RateLimitStore } from '../../src/rate-limit/rate-limit.store.js';
import { useContractFixture, type ContractFixture } from '../stores/contract-support.js';

/** What a contract run needs: a store over a clean state, and how to let it go. */
export interface RateLimitStoreFixture extends ContractFixture {
  store: RateLimitStore;
}

const W = 60_000;
/** A window start (windows are aligned on multiples of windowMs); every test passes its own `now`. */
export const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);

/**
 * The behaviour every `RateLimitStore` adapter must have, with exact numbers (the store takes `now`
 * from the caller, so no test sleeps). `makeStore` is called before each test and must hand over an
 * empty store; `cleanup` runs after each test.
 * @example
 * describeRateLimitStoreContract('memory', async () => {
 *   const store = new MemoryRateLimitStore();
 *   return { store, cleanup: () => store.shutdown() };
 * });
 */
export function describeRateLimitStoreContract(name: string, makeStore: () => Promise<RateLimitStoreFixture>): void {
  describe(`RateLimitStore contract: ${name}`, () => {
    let store: RateLimitStore;
    useContractFixture(makeStore, (given) => {
      store = given.store;
    });

    const check = (extra: Partial<RateLimitCheck> = {}): RateLimitCheck => ({
      key: 'ip:203.0.113.7',
      limit: 10,
      windowMs: W,
      ...extra,
    });
    const one = async (at: number, extra: Partial<RateLimitCheck> = {}): Promise<RateLimitDecision> =>
      (await store.consume([check(extra)], at))[0]!;
    const times = async (count: number, at: number, extra: Partial<RateLimitCheck> = {}) => {
      const decisions: RateLimitDecision[] = [];
      for (let i = 0; i < count; i++) decisions.push(await one(at, extra));
      return decisions;
    };

    it('has a kind', () => {
      expect(store.kind).toMatch(/^[a-z]+$/);
    });

    it('answers one decision per check, in order, and nothing for no checks', async () => {
      expect(await store.consume([], T0)).toEqual([]);
      expect(await store.consume([check({ key: 'b' }), check({ key: 'a', limit: 3 })], T0)).toEqual([
        { key: 'b', allowed: true, limit: 10, remaining: 9, resetMs: 0, retryAfterMs: 0 },
        { key: 'a', allowed: true, limit: 3, remaining: 2, resetMs: 0, retryAfterMs: 0 },
      ]);
    });

    it('allows exactly the limit in one window and refuses the next request without consuming', async () => {
      const decisions = await times(10, T0 + 1_000);
      expect(decisions.map((decision) => decision.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      expect(decisions.every((decision) => decision.allowed)).toBe(true);
      // 10 in this window; one unit is free again 1/10 into the next one.
      expect(decisions[9]!.resetMs).toBe(W - 1_000 + 6_000);

      const refused = await times(3, T0 + 2_000);
      expect(refused.at(-1)).toEqual({
        key: 'ip:203.0.113.7',
        allowed: false,
        limit: 10,
        remaining: 0,
        resetMs: 64_000,
        retryAfterMs: 64_000,
      });
      // The refusals did not count: one unit is free exactly when it would have been without them.
      expect(await one(T0 + W + 6_000)).toMatchObject({ allowed: true, remaining: 0 });
    });

    describe('window edges', () => {
      it('refuses on the last millisecond of a full window and counts it whole at the next one', async () => {
        await times(10, T0);
        expect(await one(T0 + W - 1)).toMatchObject({ allowed: false, retryAfterMs: 6_001 });
        expect(await one(T0 + W)).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 6_000 });
        expect(await one(T0 + W + 5_999)).toMatchObject({ allowed: false, retryAfterMs: 1 });
        expect(await one(T0 + W + 6_000)).toMatchObject({ allowed: true, remaining: 0 });
      });

      it('forgets everything two windows later', async () => {
        await times(10, T0 + W - 1);
        expect(await one(T0 + 2 * W)).toMatchObject({ allowed: true, remaining: 9, resetMs: 0 });
      });
    });

    it('slides: half of the previous window counts half', async () => {
      await times(10, T0);
      const half = T0 + W + W / 2;
      expect(await one(half, { cost: 0 })).toMatchObject({ allowed: true, remaining: 5 });
      const decisions = await times(5, half);
      expect(decisions.map((decision) => decision.remaining)).toEqual([4, 3, 2, 1, 0]);
      // 5 current + 10 × (W/2 − t)/W <= 9  =>  t >= 6 000
      expect(await one(half)).toMatchObject({ allowed: false, retryAfterMs: 6_000 });
      expect(await one(half + 6_000)).toMatchObject({ allowed: true, remaining: 0 });
    });

    describe('cost', () => {
      it('consumes the cost and refuses a cost larger than what is left, without consuming', async () => {
        expect(await one(T0, { cost: 4 })).toMatchObject({ allowed: true, remaining: 6 });
        expect(await one(T0, { cost: 4 })).toMatchObject({ allowed: true, remaining: 2 });
        // 8 in this window must fall to 6: a quarter into the next one.
        expect(await one(T0, { cost: 4 })).toEqual({
          key: 'ip:203.0.113.7',
          allowed: false,
          limit: 10,
          remaining: 2,
          resetMs: 0,
          retryAfterMs: W + 15_000,
        });
        expect(await one(T0, { cost: 2 })).toMatchObject({ allowed: true, remaining: 0 });
      });

      it('reads without consuming at cost 0', async () => {
        await times(3, T0);
        expect(await one(T0, { cost: 0 })).toMatchObject({ allowed: true, remaining: 7 });
        expect(await one(T0, { cost: 0 })).toMatchObject({ allowed: true, remaining: 7 });
      });

      it('rejects a cost above the limit, which could never pass', async () => {
        await expect(store.consume([check({ cost: 11 })], T0)).rejects.toThrow(TypeError);
      });
    });

    describe('block', () => {
      const blocking = { key: 'login:203.0.113.7', limit: 2, blockMs: 300_000 };

      it('refuses from the first refusal until the block ends, without extending it on retries', async () => {
        await times(2, T0, blocking);
        expect(await one(T0 + 1_000, blocking)).toMatchObject({
          allowed: false,
          remaining: 0,
          resetMs: 300_000,
          retryAfterMs: 300_000,
        });
        // The counts are long gone by then; the block is not.
        expect(await one(T0 + 200_000, blocking)).toMatchObject({
          allowed: false,
          remaining: 0,
          retryAfterMs: 101_000,
        });
        expect(await one(T0 + 300_999, blocking)).toMatchObject({ allowed: false, retryAfterMs: 1 });
        expect(await one(T0 + 301_000, blocking)).toMatchObject({ allowed: true, remaining: 1 });
      });

      it('does not block a policy without blockMs', async () => {
        await times(2, T0, { limit: 2 });
        expect(await one(T0, { limit: 2 })).toMatchObject({ allowed: false });
        expect(await one(T0 + 2 * W, { limit: 2 })).toMatchObject({ allowed: true, remaining: 1 });
      });
    });

    describe('several policies in one call', () => {
      const ip = check({ key: 'ip:203.0.113.7', limit: 2 });
      const principal = check({ key: 'principal:42', limit: 5 });

      it('consumes all of them when all allow', async () => {
        expect(await store.consume([ip, principal], T0)).toMatchObject([
          { key: ip.key, allowed: true, remaining: 1 },
          { key: principal.key, allowed: true, remaining: 4 },
        ]);
      });

      it('consumes none when one refuses (a request refused by the IP policy keeps the principal budget)', async () => {
        await store.consume([ip, principal], T0);
        await store.consume([ip, principal], T0);
        const refused = await store.consume([ip, principal], T0);
        expect(refused).toEqual([
          { key: ip.key, allowed: false, limit: 2, remaining: 0, resetMs: W + 30_000, retryAfterMs: W + 30_000 },
          { key: principal.key, allowed: true, limit: 5, remaining: 3, resetMs: 0, retryAfterMs: 0 },
        ]);
        expect(await store.consume([principal], T0)).toMatchObject([{ allowed: true, remaining: 2 }]);
      });

      it('refuses the whole request when the second policy refuses, and the first keeps its budget', async () => {
        const tight = check({ key: 'principal:7', limit: 1 });
        await store.consume([tight], T0);
        expect(await store.consume([ip, tight], T0)).toMatchObject([
          { allowed: true, remaining: 2 },
          { allowed: false, remaining: 0 },
        ]);
        expect(await one(T0, { key: ip.key, limit: 2 })).toMatchObject({ allowed: true, remaining: 1 });
      });

      it('starts the block of the refusing policy only', async () => {
        const blocking = check({ key: 'login:203.0.113.7', limit: 1, blockMs: 600_000 });
        await store.consume([blocking, principal], T0);
        await store.consume([blocking, principal], T0);
        expect(await store.consume([principal, blocking], T0 + 3 * W)).toMatchObject([
          { allowed: true, remaining: 5 },
          { allowed: false, retryAfterMs: 600_000 - 3 * W },
        ]);
      });

      it('rejects a key checked twice in one call', async () => {
        await expect(store.consume([ip, ip], T0)).rejects.toThrow(TypeError);
      });
    });

    it('keeps keys independent', async () => {
      await times(10, T0, { key: 'ip:198.51.100.1' });
      expect(await one(T0, { key: 'ip:198.51.100.1' })).toMatchObject({ allowed: false });
      expect(await one(T0, { key: 'ip:198.51.100.2' })).toMatchObject({ allowed: true, remaining: 9 });
      // The same key under another limit and window is the same counter: policies put their name in the key.
      expect(await one(T0, { key: 'principal:198.51.100.1' })).toMatchObject({ allowed: true, remaining: 9 });
    });

    it('decides concurrent calls one at a time: exactly the limit passes', async () => {
      const decisions = await Promise.all(
        Array.from({ length: 50 }, () => store.consume([check({ key: 'burst', limit: 20 })], T0)),
      );
      expect(decisions.filter(([decision]) => decision!.allowed)).toHaveLength(20);
    });

    describe('calls made together (in one event-loop turn)', () => {
      const shared = check({ key: 'shared', limit: 3 });
      const other = check({ key: 'principal:1', limit: 5 });
      const full = check({ key: 'full', limit: 1 });

      it('decides them in call order, each all or nothing on its own', async () => {
        await store.consume([full], T0);
        const decisions = await Promise.all([
          store.consume([shared, full], T0),
          store.consume([shared, other], T0),
          store.consume([other, full], T0),
          store.consume([shared], T0 + 1_000),
          store.consume([shared, other], T0 + 2_000),
          store.consume([other, shared], T0 + 2_000),
        ]);
        expect(decisions).toEqual([
          // Refused by `full`: `shared` keeps its budget (and reports it unconsumed).
          [
            { key: shared.key, allowed: true, limit: 3, remaining: 3, resetMs: 0, retryAfterMs: 0 },
            { key: full.key, allowed: false, limit: 1, remaining: 0, resetMs: 2 * W, retryAfterMs: 2 * W },
          ],
          // Sees the budget the refusal above left.
          [
            { key: shared.key, allowed: true, limit: 3, remaining: 2, resetMs: 0, retryAfterMs: 0 },
            { key: other.key, allowed: true, limit: 5, remaining: 4, resetMs: 0, retryAfterMs: 0 },
          ],
          [
            { key: other.key, allowed: true, limit: 5, remaining: 4, resetMs: 0, retryAfterMs: 0 },
            { key: full.key, allowed: false, limit: 1, remaining: 0, resetMs: 2 * W, retryAfterMs: 2 * W },
          ],
          [{ key: shared.key, allowed: true, limit: 3, remaining: 1, resetMs: 0, retryAfterMs: 0 }],
          // The last unit of `shared` goes to the earlier call, so the later one is refused whole.
          [
            { key: shared.key, allowed: true, limit: 3, remaining: 0, resetMs: W - 2_000 + 20_000, retryAfterMs: 0 },
            { key: other.key, allowed: true, limit: 5, remaining: 3, resetMs: 0, retryAfterMs: 0 },
          ],
          [
            { key: other.key, allowed: true, limit: 5, remaining: 3, resetMs: 0, retryAfterMs: 0 },
            {
              key: shared.key,
              allowed: false,
              limit: 3,
              remaining: 0,
              resetMs: W - 2_000 + 20_000,
              retryAfterMs: W - 2_000 + 20_000,
            },
          ],
        ]);
        expect(await store.consume([other, shared], T0 + 3_000)).toMatchObject([
          { allowed: true, remaining: 3 },
          { allowed: false },
        ]);
      });

      it('counts one key across them in call order', async () => {
        const decisions = await Promise.all(
          Array.from({ length: 30 }, (_, i) => store.consume([check({ key: 'k', limit: 20, cost: i % 2 })], T0)),
        );
        // Odd calls cost 1, even ones read: 15 units go, and each call sees the ones before it.
        expect(decisions.map(([decision]) => decision!.remaining)).toEqual(
          Array.from({ length: 30 }, (_, i) => 20 - Math.ceil(i / 2)),
        );
        expect(decisions.every(([decision]) => decision!.allowed)).toBe(true);
      });

      it('lets a block started by one of them refuse the ones after it', async () => {
        const blocking = check({ key: 'login:1', limit: 1, blockMs: 600_000 });
        const decisions = await Promise.all([
          store.consume([blocking], T0),
          store.consume([blocking, other], T0),
          store.consume([other], T0 + 1_000),
          store.consume([blocking], T0 + 1_000),
        ]);
        expect(decisions).toMatchObject([
          [{ allowed: true, remaining: 0 }],
          [
            { allowed: false, retryAfterMs: 600_000 },
            { allowed: true, remaining: 5 },
          ],
          [{ allowed: true, remaining: 4 }],
          [{ allowed: false, remaining: 0, retryAfterMs: 599_000 }],
        ]);
      });

      it('rejects only the call whose checks are invalid', async () => {
        const outcomes = await Promise.allSettled([
          store.consume([shared], T0),
          store.consume([check({ key: 'bad', cost: 11 })], T0),
          store.consume([shared, shared], T0),
          store.consume([shared], T0),
        ]);
        expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
        expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
        expect((outcomes[2] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
        expect((outcomes[3] as PromiseFulfilledResult<RateLimitDecision[]>).value).toMatchObject([{ remaining: 1 }]);
      });
    });
  });
}
