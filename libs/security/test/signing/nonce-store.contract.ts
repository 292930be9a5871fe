import { describe, expect, it } from 'vitest';
import type { NonceStore } from '../../src/signing/nonce.store.js';
import { useContractFixture, type ContractFixture } from '../stores/contract-support.js';

/** What a contract run needs: an empty store, and how to let time pass for it. */
export interface NonceStoreFixture extends ContractFixture {
  store: NonceStore;
  /** Lets `ms` milliseconds pass as the store sees time (a settable clock, or real time for Redis). */
  elapse: (ms: number) => Promise<void>;
  /** The TTL the expiry tests use: short where time is real. */
  ttlMs: number;
}

/**
 * The behaviour every `NonceStore` adapter must have. `makeStore` is called before each test and must hand
 * over an empty store; `cleanup` runs after each test.
 * @example
 * describeNonceStoreContract('memory', async () => {
 *   const clock = new ManualClock();
 *   return { store: new MemoryNonceStore({ clock }), elapse: async (ms) => clock.advance(ms), ttlMs: 60_000, cleanup: async () => {} };
 * });
 */
export function describeNonceStoreContract(name: string, makeStore: () => Promise<NonceStoreFixture>): void {
  describe(`NonceStore contract: ${name}`, () => {
    let store: NonceStore;
    let elapse: (ms: number) => Promise<void>;
    let ttlMs: number;
    useContractFixture(makeStore, (given) => {
      ({ store, elapse, ttlMs } = given);
    });

    it('has a kind', () => {
      expect(store.kind).toMatch(/^[a-z]+$/);
    });

    it('accepts a key the first time and refuses it afterwards', async () => {
      expect(await store.claim('hmac-sha256:NASAAAAAAAAAAAAAAAAA:n-1', 60_000)).toBe(true);
      expect(await store.claim('hmac-sha256:NASAAAAAAAAAAAAAAAAA:n-1', 60_000)).toBe(false);
      expect(await store.claim('hmac-sha256:NASAAAAAAAAAAAAAAAAA:n-1', 60_000)).toBe(false);
    });

    it('keeps keys apart, whatever they have in common', async () => {
      const keys = ['a:K:n', 'a:K:n2', 'b:K:n', 'a:L:n', 'A:K:N', `a:K:${'x'.repeat(4_000)}`, 'a:K:ñ', 'a:K:n '];

      for (const key of keys) expect(await store.claim(key, 60_000)).toBe(true);
      for (const key of keys) expect(await store.claim(key, 60_000)).toBe(false);
    });

    it('accepts a key again once its TTL has passed, and not before', async () => {
      expect(await store.claim('k', ttlMs)).toBe(true);
      await elapse(ttlMs / 2);
      expect(await store.claim('k', ttlMs)).toBe(false);

      await elapse(ttlMs / 2 + Math.max(10, ttlMs / 10));

      expect(await store.claim('k', ttlMs)).toBe(true);
      expect(await store.claim('k', ttlMs)).toBe(false);
    });

    it('does not extend a TTL by a refused claim', async () => {
      expect(await store.claim('k', ttlMs)).toBe(true);
      await elapse(ttlMs / 2);
      expect(await store.claim('k', ttlMs)).toBe(false);

      await elapse(ttlMs / 2 + Math.max(10, ttlMs / 10));

      expect(await store.claim('k', ttlMs)).toBe(true);
    });

    it('accepts exactly one of 200 concurrent claims of one key', async () => {
      const results = await Promise.all(Array.from({ length: 200 }, () => store.claim('race', 60_000)));

      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('accepts each of 200 concurrent claims of different keys', async () => {
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.claim(`many:${i}`, 60_000)));

      expect(results.every(Boolean)).toBe(true);
    });

    it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
      'rejects a ttlMs of %s with a TypeError',
      async (ttl) => {
        await expect(store.claim('k', ttl)).rejects.toBeInstanceOf(TypeError);
        expect(await store.claim('k', 60_000)).toBe(true);
      },
    );

    it('rejects an empty key with a TypeError', async () => {
      await expect(store.claim('', 60_000)).rejects.toBeInstanceOf(TypeError);
    });
  });
}
