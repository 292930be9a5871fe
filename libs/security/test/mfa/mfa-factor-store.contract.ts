import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { MfaFactorStore } from '../../src/mfa/mfa-factor.store.js';
import type { SealedSecret } from '../../src/signing/core/secret-box.js';
import { at, useStoreWithAliceAndBob, type StoreWithPrincipalsFixture } from '../stores/contract-support.js';

/** What a contract run needs: an MFA factor store and the principal store its rows belong to, both empty. */
export type MfaFactorStoreFixture = StoreWithPrincipalsFixture<MfaFactorStore>;

/** A sealed secret as the store sees it: opaque text and a master key version (the store never opens it). */
export const sealedSecret = (version = 'v1'): SealedSecret => ({
  ciphertext: randomBytes(48).toString('base64'),
  version,
});

/** `count` recovery code hashes as the service stores them (SHA-256 hex). */
export const recoveryHashes = (count = 10): string[] =>
  Array.from({ length: count }, () => createHash('sha256').update(randomBytes(16)).digest('hex'));

// A TOTP time step of 2026 (unix seconds / 30): beyond 32 bits of milliseconds, within bigint.
const STEP = 59_000_000;

/**
 * The behaviour every `MfaFactorStore` adapter must have. `makeStore` is called before each test and must
 * hand over empty stores; `cleanup` runs after each test.
 * @example
 * describeMfaFactorStoreContract('memory', async () => ({
 *   store: new MemoryMfaFactorStore(), principals: new MemoryPrincipalStore(), cleanup: async () => {},
 * }));
 */
export function describeMfaFactorStoreContract(name: string, makeStore: () => Promise<MfaFactorStoreFixture>): void {
  describe(`MfaFactorStore contract: ${name}`, () => {
    let store: MfaFactorStore;
    let alice: string;
    let bob: string;
    useStoreWithAliceAndBob(makeStore, (given) => ({ store, alice, bob } = given));

    /** Enrols and activates a factor for `principalId` at `step`; returns the secret and the recovery hashes. */
    const activated = async (principalId: string, step = STEP, hashes = recoveryHashes()) => {
      const secret = sealedSecret();
      await store.savePending(principalId, secret, at(0));
      expect(await store.activate(principalId, secret, hashes, step, at(10))).toBe(true);
      return { secret, hashes };
    };

    it('has a kind', () => {
      expect(['memory', 'postgres']).toContain(store.kind);
    });

    describe('savePending and get', () => {
      it('knows no factor of a principal that never enrolled', async () => {
        expect(await store.get(alice)).toBeUndefined();
        expect(await store.remainingRecoveryCodes(alice)).toBe(0);
      });

      it('stores a pending secret, with no active secret, step or activation', async () => {
        const pending = sealedSecret();

        await store.savePending(alice, pending, at(0));

        expect(await store.get(alice)).toEqual({
          principalId: alice,
          secret: null,
          pending,
          lastUsedStep: null,
          activatedAt: null,
        });
        expect(await store.get(bob)).toBeUndefined();
      });

      it('replaces an older pending secret', async () => {
        await store.savePending(alice, sealedSecret(), at(0));
        const newer = sealedSecret('v2');

        await store.savePending(alice, newer, at(5));

        expect((await store.get(alice))?.pending).toEqual(newer);
      });

      it('keeps the active secret, its last step and its recovery codes while a new one is pending', async () => {
        const { secret, hashes } = await activated(alice);
        const next = sealedSecret();

        await store.savePending(alice, next, at(20));

        expect(await store.get(alice)).toEqual({
          principalId: alice,
          secret,
          pending: next,
          lastUsedStep: STEP,
          activatedAt: at(10),
        });
        expect(await store.remainingRecoveryCodes(alice)).toBe(hashes.length);
      });
      // a caller that changes `record.secret` or `record.pending` changes the stored factor (the other stores'
      // contracts all ask for copies).
      it('hands out copies: changing a returned record changes nothing stored', async () => {
        const { secret } = await activated(alice);
        const pending = sealedSecret();
        await store.savePending(alice, pending, at(20));

        const record = (await store.get(alice)) as unknown as Record<'secret' | 'pending', { ciphertext: string }>;
        record.secret.ciphertext = 'changed';
        record.pending.ciphertext = 'changed';

        expect(await store.get(alice)).toMatchObject({ secret, pending });
      });
    });

    describe('activate', () => {
      it('moves the pending secret to the active one, sets the last step and the activation time', async () => {
        const pending = sealedSecret();
        const hashes = recoveryHashes(10);
        await store.savePending(alice, pending, at(0));

        expect(await store.activate(alice, pending, hashes, STEP, at(10))).toBe(true);

        expect(await store.get(alice)).toEqual({
          principalId: alice,
          secret: pending,
          pending: null,
          lastUsedStep: STEP,
          activatedAt: at(10),
        });
        expect(await store.remainingRecoveryCodes(alice)).toBe(10);
      });

      it('refuses, changing nothing, when the pending secret is not the one given', async () => {
        const pending = sealedSecret();
        await store.savePending(alice, pending, at(0));
        const before = await store.get(alice);

        expect(await store.activate(alice, sealedSecret(), recoveryHashes(), STEP, at(10))).toBe(false);

        expect(await store.get(alice)).toEqual(before);
        expect(await store.remainingRecoveryCodes(alice)).toBe(0);
      });

      it('refuses the older pending secret once a newer one replaced it (an enrolment restarted meanwhile)', async () => {
        const older = sealedSecret();
        await store.savePending(alice, older, at(0));
        const newer = sealedSecret();
        await store.savePending(alice, newer, at(5));

        expect(await store.activate(alice, older, recoveryHashes(), STEP, at(10))).toBe(false);
        expect(await store.activate(alice, newer, recoveryHashes(), STEP, at(10))).toBe(true);
      });

      it('refuses without any factor, and a second time with the same secret (nothing pending any more)', async () => {
        const pending = sealedSecret();

        expect(await store.activate(alice, pending, recoveryHashes(), STEP, at(10))).toBe(false);
        expect(await store.get(alice)).toBeUndefined();

        await store.savePending(alice, pending, at(0));
        expect(await store.activate(alice, pending, recoveryHashes(), STEP, at(10))).toBe(true);
        expect(await store.activate(alice, pending, recoveryHashes(), STEP + 1, at(20))).toBe(false);
        expect((await store.get(alice))?.lastUsedStep).toBe(STEP);
      });

      it('does not activate another principal’s pending secret', async () => {
        const pending = sealedSecret();
        await store.savePending(alice, pending, at(0));

        expect(await store.activate(bob, pending, recoveryHashes(), STEP, at(10))).toBe(false);
        expect((await store.get(alice))?.pending).toEqual(pending);
        expect(await store.get(bob)).toBeUndefined();
      });

      it('replaces the active secret and every recovery code on re-enrolment', async () => {
        const first = await activated(alice, STEP, recoveryHashes(10));
        await store.consumeRecoveryCode(alice, first.hashes[0]!, at(11));
        const next = sealedSecret();
        const nextHashes = recoveryHashes(8);
        await store.savePending(alice, next, at(20));

        expect(await store.activate(alice, next, nextHashes, STEP + 40, at(30))).toBe(true);

        expect(await store.get(alice)).toEqual({
          principalId: alice,
          secret: next,
          pending: null,
          lastUsedStep: STEP + 40,
          activatedAt: at(30),
        });
        expect(await store.remainingRecoveryCodes(alice)).toBe(8);
        expect(await store.consumeRecoveryCode(alice, first.hashes[1]!, at(31))).toBe(false);
        expect(await store.consumeRecoveryCode(alice, nextHashes[0]!, at(31))).toBe(true);
      });
    });

    describe('claimStep', () => {
      it('refuses the step of the activation code and older ones, accepts a newer one once', async () => {
        await activated(alice, STEP);

        expect(await store.claimStep(alice, STEP)).toBe(false);
        expect(await store.claimStep(alice, STEP - 1)).toBe(false);
        expect(await store.claimStep(alice, STEP + 1)).toBe(true);
        expect(await store.claimStep(alice, STEP + 1)).toBe(false);
        expect(await store.claimStep(alice, STEP)).toBe(false);
        expect((await store.get(alice))?.lastUsedStep).toBe(STEP + 1);
      });

      it('accepts a step further ahead and then refuses every step up to it', async () => {
        await activated(alice, STEP);

        expect(await store.claimStep(alice, STEP + 5)).toBe(true);
        for (const step of [STEP + 1, STEP + 4, STEP + 5]) expect(await store.claimStep(alice, step)).toBe(false);
        expect(await store.claimStep(alice, STEP + 6)).toBe(true);
      });

      it('keeps steps per principal', async () => {
        await activated(alice, STEP);
        await activated(bob, STEP - 10);

        expect(await store.claimStep(bob, STEP - 5)).toBe(true);
        expect(await store.claimStep(alice, STEP - 5)).toBe(false);
        expect((await store.get(alice))?.lastUsedStep).toBe(STEP);
      });

      it('refuses a principal without a factor', async () => {
        expect(await store.claimStep(alice, STEP)).toBe(false);
        expect(await store.get(alice)).toBeUndefined();
      });
      // pending, while the TypeORM store (`"secret_ciphertext" IS NOT NULL`) refuses it: the adapters disagree.
      it('refuses a principal whose factor is only pending (no active secret)', async () => {
        await store.savePending(alice, sealedSecret(), at(0));

        expect(await store.claimStep(alice, STEP)).toBe(false);
        expect((await store.get(alice))?.lastUsedStep).toBeNull();
      });

      it('accepts exactly one of 10 concurrent claims of the same step', async () => {
        await activated(alice, STEP);

        const results = await Promise.all(Array.from({ length: 10 }, () => store.claimStep(alice, STEP + 1)));

        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await store.get(alice))?.lastUsedStep).toBe(STEP + 1);
      });

      it('ends on the newest of 10 concurrent claims of different steps, whatever their order', async () => {
        await activated(alice, STEP);

        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.claimStep(alice, STEP + 10 - i)));

        expect(results[0]).toBe(true);
        expect((await store.get(alice))?.lastUsedStep).toBe(STEP + 10);
        expect(await store.claimStep(alice, STEP + 10)).toBe(false);
      });
    });

    describe('recovery codes', () => {
      it('consumes each code once, and counts those left', async () => {
        const { hashes } = await activated(alice, STEP, recoveryHashes(5));

        expect(await store.consumeRecoveryCode(alice, hashes[2]!, at(20))).toBe(true);
        expect(await store.remainingRecoveryCodes(alice)).toBe(4);
        expect(await store.consumeRecoveryCode(alice, hashes[2]!, at(21))).toBe(false);
        expect(await store.remainingRecoveryCodes(alice)).toBe(4);
        expect(await store.consumeRecoveryCode(alice, hashes[0]!, at(22))).toBe(true);
        expect(await store.remainingRecoveryCodes(alice)).toBe(3);
      });

      it('can use every code, then has none left', async () => {
        const { hashes } = await activated(alice, STEP, recoveryHashes(4));

        for (const hash of hashes) expect(await store.consumeRecoveryCode(alice, hash, at(20))).toBe(true);

        expect(await store.remainingRecoveryCodes(alice)).toBe(0);
        for (const hash of hashes) expect(await store.consumeRecoveryCode(alice, hash, at(21))).toBe(false);
      });

      it('refuses an unknown code, and another principal’s code', async () => {
        const { hashes } = await activated(alice);
        await activated(bob);

        expect(await store.consumeRecoveryCode(alice, recoveryHashes(1)[0]!, at(20))).toBe(false);
        expect(await store.consumeRecoveryCode(bob, hashes[0]!, at(20))).toBe(false);
        expect(await store.remainingRecoveryCodes(alice)).toBe(10);
        expect(await store.remainingRecoveryCodes(bob)).toBe(10);
      });

      it('has no codes before activation', async () => {
        await store.savePending(alice, sealedSecret(), at(0));

        expect(await store.remainingRecoveryCodes(alice)).toBe(0);
        expect(await store.consumeRecoveryCode(alice, recoveryHashes(1)[0]!, at(1))).toBe(false);
      });

      it('accepts exactly one of 10 concurrent uses of the same code', async () => {
        const { hashes } = await activated(alice);

        const results = await Promise.all(
          Array.from({ length: 10 }, () => store.consumeRecoveryCode(alice, hashes[3]!, at(20))),
        );

        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.remainingRecoveryCodes(alice)).toBe(9);
      });

      it('accepts each of 10 concurrent uses of different codes', async () => {
        const { hashes } = await activated(alice);

        const results = await Promise.all(hashes.map((hash) => store.consumeRecoveryCode(alice, hash, at(20))));

        expect(results.every(Boolean)).toBe(true);
        expect(await store.remainingRecoveryCodes(alice)).toBe(0);
      });
    });
  });
}
