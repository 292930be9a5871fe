import { describe, expect, it } from 'vitest';
import type { LoginBackoffPolicy } from '../../src/sessions/core/login-backoff.js';
import type { LoginBackoffStore } from '../../src/sessions/login-backoff.store.js';
import { useContractFixture, type ContractFixture } from '../stores/contract-support.js';

/** What a contract run needs: an empty backoff store. */
export interface LoginBackoffStoreFixture extends ContractFixture {
  store: LoginBackoffStore;
}

/** A fixed instant in the past, as the callers' (pinned) clock would give it. */
export const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);
const POLICY: LoginBackoffPolicy = { baseMs: 1_000, maxMs: 8_000, after: 3 };

/**
 * The behaviour every `LoginBackoffStore` adapter must have: the arithmetic of `core/login-backoff.ts`,
 * read against the caller's clock, and atomic attempts.
 */
export function describeLoginBackoffStoreContract(
  name: string,
  makeStore: () => Promise<LoginBackoffStoreFixture>,
): void {
  describe(`LoginBackoffStore contract: ${name}`, () => {
    let store: LoginBackoffStore;
    useContractFixture(makeStore, (fixture) => {
      store = fixture.store;
    });

    it('has a kind', () => {
      expect(store.kind).toMatch(/^[a-z]+$/);
    });

    it('allows `after` attempts at once, then makes each further one wait twice as long, up to the cap', async () => {
      for (let failures = 1; failures <= 3; failures++) {
        expect(await store.attempt('pair', T0, POLICY)).toEqual({ allowed: true, failures });
      }
      let now = T0;
      for (const [wait, failures] of [
        [1_000, 4],
        [2_000, 5],
        [4_000, 6],
        [8_000, 7],
        [8_000, 8],
      ] as const) {
        expect(await store.attempt('pair', now, POLICY)).toEqual({ allowed: false, retryAfterMs: wait });
        expect(await store.attempt('pair', now + wait - 1, POLICY)).toEqual({ allowed: false, retryAfterMs: 1 });
        now += wait;
        expect(await store.attempt('pair', now, POLICY)).toEqual({ allowed: true, failures });
      }
    });

    it('does not count refused attempts: waiting is all it takes', async () => {
      for (let i = 0; i < 3; i++) await store.attempt('pair', T0, POLICY);
      for (let i = 0; i < 20; i++) await store.attempt('pair', T0 + 500, POLICY);

      expect(await store.attempt('pair', T0 + 1_000, POLICY)).toEqual({ allowed: true, failures: 4 });
    });

    it('starts again from zero after a reset, and keeps pairs apart', async () => {
      for (let i = 0; i < 3; i++) await store.attempt('pair', T0, POLICY);
      for (let i = 0; i < 3; i++) await store.attempt('other', T0, POLICY);

      await store.reset('pair');
      await store.reset('never-seen');

      expect(await store.attempt('pair', T0, POLICY)).toEqual({ allowed: true, failures: 1 });
      expect(await store.attempt('other', T0, POLICY)).toEqual({ allowed: false, retryAfterMs: 1_000 });
    });

    it('forgets a pair left alone for the cap after its wait', async () => {
      for (let i = 0; i < 4; i++) await store.attempt('pair', T0 + (i === 3 ? 1_000 : 0), POLICY);
      // The 4th failure (at T0 + 1 s) waits 2 s, and is remembered for 8 s after that.
      expect(await store.attempt('pair', T0 + 1_000 + 2_000 + 8_000 - 1, POLICY)).toEqual({
        allowed: true,
        failures: 5,
      });
      await store.reset('pair');
      for (let i = 0; i < 4; i++) await store.attempt('pair', T0 + (i === 3 ? 1_000 : 0), POLICY);
      expect(await store.attempt('pair', T0 + 1_000 + 2_000 + 8_000, POLICY)).toEqual({ allowed: true, failures: 1 });
    });

    it('lets exactly one of many simultaneous attempts through once a pair must wait', async () => {
      const policy = { baseMs: 60_000, maxMs: 60_000, after: 1 };
      const decisions = await Promise.all(Array.from({ length: 50 }, () => store.attempt('burst', T0, policy)));

      expect(decisions.filter((decision) => decision.allowed)).toEqual([{ allowed: true, failures: 1 }]);
    });
  });
}
