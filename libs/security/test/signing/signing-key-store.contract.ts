import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewSigningKey, SigningKeyRecord, SigningKeyStore } from '../../src/signing/signing-key.store.js';
import { at, useStoreWithAliceAndBob, type StoreWithPrincipalsFixture } from '../stores/contract-support.js';

/** What a contract run needs: a signing key store and the principal store its keys belong to, over a clean state. */
export type SigningKeyStoreFixture = StoreWithPrincipalsFixture<SigningKeyStore>;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 20 characters of the access key id shape: `NAS` + 17 random base32. */
export function randomAccessKeyId(): string {
  return `NAS${[...randomBytes(17)].map((byte) => BASE32[byte % 32]).join('')}`;
}

const PUBLIC_KEY = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();

/** An HMAC key of `principalId` with a fresh id and an opaque sealed secret (the store never opens it); `extra` overrides. */
export function newHmacSigningKey(principalId: string, extra: Partial<NewSigningKey> = {}): NewSigningKey {
  return {
    accessKeyId: randomAccessKeyId(),
    principalId,
    algorithm: 'hmac-sha256',
    secretCiphertext: randomBytes(68).toString('base64'),
    masterKeyVersion: 'v1',
    publicKey: null,
    name: 'payments client',
    ...extra,
  };
}

/** An ed25519 key of `principalId` with a fresh id; `extra` overrides. */
export function newEd25519SigningKey(principalId: string, extra: Partial<NewSigningKey> = {}): NewSigningKey {
  return {
    accessKeyId: randomAccessKeyId(),
    principalId,
    algorithm: 'ed25519',
    secretCiphertext: null,
    masterKeyVersion: null,
    publicKey: PUBLIC_KEY,
    name: 'partner',
    ...extra,
  };
}

/**
 * The behaviour every `SigningKeyStore` adapter must have. `makeStore` is called before each test and
 * must hand over empty stores; `cleanup` runs after each test.
 * @example
 * describeSigningKeyStoreContract('memory', async () => {
 *   const principals = new MemoryPrincipalStore();
 *   return { store: new MemorySigningKeyStore(principals), principals, cleanup: async () => {} };
 * });
 */
export function describeSigningKeyStoreContract(name: string, makeStore: () => Promise<SigningKeyStoreFixture>): void {
  describe(`SigningKeyStore contract: ${name}`, () => {
    let store: SigningKeyStore;
    let alice: string;
    let bob: string;
    useStoreWithAliceAndBob(makeStore, (given) => ({ store, alice, bob } = given));

    const create = (principalId: string, extra: Partial<NewSigningKey> = {}) =>
      store.create(newHmacSigningKey(principalId, { createdAt: at(0), ...extra }));
    const ids = (keys: readonly SigningKeyRecord[]) => keys.map((key) => key.accessKeyId);

    it('has a kind', () => {
      expect(store.kind).toMatch(/^[a-z]+$/);
    });

    describe('create and findById', () => {
      it('stores an HMAC key with its sealed secret and reads the same record back', async () => {
        const key = newHmacSigningKey(alice, { createdAt: at(0), masterKeyVersion: 'v2', name: 'payments (eu)' });

        const created = await store.create(key);

        expect(created).toEqual({ ...key, revokedAt: null });
        expect(await store.findById(key.accessKeyId)).toEqual(created);
      });

      it('stores an ed25519 key with its public key and no secret', async () => {
        const key = newEd25519SigningKey(bob, { createdAt: at(1) });

        const created = await store.create(key);

        expect(created).toEqual({ ...key, revokedAt: null });
        expect(await store.findById(key.accessKeyId)).toEqual(created);
      });

      it('defaults createdAt to now', async () => {
        const before = Date.now();
        const created = await store.create(newHmacSigningKey(alice));
        const after = Date.now();

        expect(created.createdAt).toBeInstanceOf(Date);
        // The database clock may be another machine's: a generous bound, not an exact instant.
        expect(Math.abs(created.createdAt.getTime() - (before + after) / 2)).toBeLessThan(60_000);
      });

      it.each<[string, Partial<NewSigningKey>]>([
        ['an HMAC key without a secret', { secretCiphertext: null }],
        ['an HMAC key without a master key version', { masterKeyVersion: null }],
        ['an HMAC key with a public key', { publicKey: PUBLIC_KEY }],
        [
          'an ed25519 key without a public key',
          { algorithm: 'ed25519', secretCiphertext: null, masterKeyVersion: null },
        ],
        ['an ed25519 key with a secret', { algorithm: 'ed25519', publicKey: PUBLIC_KEY }],
        ['an unknown algorithm', { algorithm: 'rsa-sha256' as 'ed25519' }],
      ])('refuses %s with a TypeError, storing nothing', async (_, extra) => {
        const key = newHmacSigningKey(alice, extra);

        await expect(store.create(key)).rejects.toBeInstanceOf(TypeError);
        expect(await store.findById(key.accessKeyId)).toBeNull();
      });

      it('refuses a duplicate id with ERR_SECURITY_SIGNING_KEY_ID_TAKEN and keeps the first key', async () => {
        const first = await create(alice);

        const duplicate = create(bob, { accessKeyId: first.accessKeyId, name: 'impostor' });

        await expect(duplicate).rejects.toMatchObject({ code: 'ERR_SECURITY_SIGNING_KEY_ID_TAKEN' });
        expect(await store.findById(first.accessKeyId)).toEqual(first);
      });

      it('lets exactly one of two concurrent creates with the same id win', async () => {
        const accessKeyId = randomAccessKeyId();

        const results = await Promise.allSettled([create(alice, { accessKeyId }), create(bob, { accessKeyId })]);

        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const [failure] = results.filter((r) => r.status === 'rejected');
        expect(failure?.reason).toMatchObject({ code: 'ERR_SECURITY_SIGNING_KEY_ID_TAKEN' });
      });

      it('refuses a key of an unknown principal with ERR_SECURITY_UNKNOWN_PRINCIPAL', async () => {
        const orphan = newHmacSigningKey(randomUUID());
        const malformed = newHmacSigningKey('not-a-uuid');

        await expect(store.create(orphan)).rejects.toMatchObject({ code: 'ERR_SECURITY_UNKNOWN_PRINCIPAL' });
        await expect(store.create(malformed)).rejects.toMatchObject({ code: 'ERR_SECURITY_UNKNOWN_PRINCIPAL' });
        expect(await store.findById(orphan.accessKeyId)).toBeNull();
      });

      it('answers null for an unknown id, whatever its shape', async () => {
        await create(alice);

        for (const id of [randomAccessKeyId(), '', 'short', 'x'.repeat(300), "' OR '1'='1"]) {
          expect(await store.findById(id)).toBeNull();
        }
      });

      it('returns copies: changing a returned record changes nothing stored', async () => {
        const created = await create(alice);

        created.revokedAt = at(1);
        created.createdAt.setTime(0);
        created.name = 'changed';

        expect(await store.findById(created.accessKeyId)).toMatchObject({
          revokedAt: null,
          createdAt: at(0),
          name: 'payments client',
        });
      });
    });

    describe('list', () => {
      it('lists every key newest first, ties broken by id descending, revoked included', async () => {
        const old = await create(alice, { createdAt: at(0) });
        const newest = await create(bob, { createdAt: at(20) });
        const tieA = await create(alice, { accessKeyId: 'NASAAAAAAAAAAAAAAAAA', createdAt: at(10) });
        const tieB = await create(alice, { accessKeyId: 'NASBAAAAAAAAAAAAAAAA', createdAt: at(10) });
        const tie2 = await create(alice, { accessKeyId: 'NAS2AAAAAAAAAAAAAAAA', createdAt: at(10) });
        await store.revoke(old.accessKeyId, at(30));

        expect(ids(await store.list())).toEqual([
          newest.accessKeyId,
          tieB.accessKeyId,
          tieA.accessKeyId,
          tie2.accessKeyId,
          old.accessKeyId,
        ]);
        expect((await store.list()).at(-1)).toEqual({ ...old, revokedAt: at(30) });
      });

      it('filters by principal', async () => {
        const a1 = await create(alice, { createdAt: at(1) });
        const b1 = await store.create(newEd25519SigningKey(bob, { createdAt: at(2) }));
        const a2 = await create(alice, { createdAt: at(3) });

        expect(ids(await store.list(alice))).toEqual([a2.accessKeyId, a1.accessKeyId]);
        expect(await store.list(bob)).toEqual([b1]);
        expect(await store.list(randomUUID())).toEqual([]);
        expect(await store.list('not-a-uuid')).toEqual([]);
      });
    });

    describe('revoke', () => {
      it('sets revokedAt and answers true', async () => {
        const key = await create(alice);

        expect(await store.revoke(key.accessKeyId, at(10))).toBe(true);

        expect(await store.findById(key.accessKeyId)).toEqual({ ...key, revokedAt: at(10) });
      });

      it('is idempotent: a second revoke answers true and keeps the first revokedAt', async () => {
        const key = await create(alice);
        await store.revoke(key.accessKeyId, at(10));

        expect(await store.revoke(key.accessKeyId, at(20))).toBe(true);
        expect(await store.revoke(key.accessKeyId, at(5))).toBe(true);

        expect((await store.findById(key.accessKeyId))?.revokedAt).toEqual(at(10));
      });

      it('answers false for an unknown key', async () => {
        expect(await store.revoke(randomAccessKeyId(), at(10))).toBe(false);
        expect(await store.revoke('x'.repeat(300), at(10))).toBe(false);
      });
    });

    describe('revokeAllOf', () => {
      it("revokes only that principal's keys in force and returns their ids, sorted", async () => {
        const a1 = await create(alice);
        const a2 = await store.create(newEd25519SigningKey(alice));
        const already = await create(alice);
        const b1 = await create(bob);
        await store.revoke(already.accessKeyId, at(5));

        const revoked = await store.revokeAllOf(alice, at(10));

        expect(revoked).toEqual([a1.accessKeyId, a2.accessKeyId].sort());
        expect((await store.findById(a1.accessKeyId))?.revokedAt).toEqual(at(10));
        expect((await store.findById(a2.accessKeyId))?.revokedAt).toEqual(at(10));
        expect((await store.findById(already.accessKeyId))?.revokedAt).toEqual(at(5));
        expect((await store.findById(b1.accessKeyId))?.revokedAt).toBeNull();
      });

      it('returns nothing the second time, and for unknown or malformed principals', async () => {
        await create(alice);
        await store.revokeAllOf(alice, at(10));

        expect(await store.revokeAllOf(alice, at(20))).toEqual([]);
        expect(await store.revokeAllOf(randomUUID(), at(20))).toEqual([]);
        expect(await store.revokeAllOf('not-a-uuid', at(20))).toEqual([]);
      });
    });
  });
}
