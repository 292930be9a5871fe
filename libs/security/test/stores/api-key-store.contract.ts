import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ApiKeyRecord, NewApiKey } from '../../src/keys/api-key.record.js';
import type { ApiKeyStore } from '../../src/keys/api-key.store.js';
import {
  at,
  newApiKey,
  randomKeyId,
  useStoreWithAliceAndBob,
  type StoreWithPrincipalsFixture,
} from './contract-support.js';

/** What a contract run needs: a key store and the principal store its keys belong to, over a clean state. */
export type ApiKeyStoreFixture = StoreWithPrincipalsFixture<ApiKeyStore>;

/**
 * The behaviour every `ApiKeyStore` adapter must have. `makeStore` is called before each test and
 * must hand over empty stores; `cleanup` runs after each test.
 * @example
 * describeApiKeyStoreContract('memory', async () => {
 *   const principals = new MemoryPrincipalStore();
 *   return { store: new MemoryApiKeyStore(principals), principals, cleanup: async () => {} };
 * });
 */
export function describeApiKeyStoreContract(name: string, makeStore: () => Promise<ApiKeyStoreFixture>): void {
  describe(`ApiKeyStore contract: ${name}`, () => {
    let store: ApiKeyStore;
    let alice: string;
    let bob: string;
    useStoreWithAliceAndBob(makeStore, (given) => ({ store, alice, bob } = given));

    const newKey = (principalId: string, extra: Partial<NewApiKey> = {}) =>
      newApiKey(principalId, { createdAt: at(0), ...extra });
    const create = (principalId: string, extra: Partial<NewApiKey> = {}) => store.create(newKey(principalId, extra));
    const ids = (keys: readonly ApiKeyRecord[]) => keys.map((key) => key.id);

    describe('create and findById', () => {
      it('stores every field, adds the managed ones, and reads the same record back', async () => {
        const key = newKey(alice, {
          name: 'reporting',
          environment: 'test',
          scopes: ['documents:read', 'items:read'],
          allowedCidrs: ['10.0.0.0/8', '2001:db8::/32'],
          expiresAt: at(3600),
          rotatedFrom: 'AAAAAAAAAAAA',
          metadata: { createdBy: 'cli:root', nested: { list: [1, 'two', null] } },
        });

        const created = await store.create(key);

        expect(created).toEqual({ ...key, revokedAt: null, lastUsedAt: null });
        expect(await store.findById(key.id)).toEqual(created);
      });

      it('keeps an empty scope list apart from null (no permission versus all of them)', async () => {
        const none = await create(alice, { scopes: [], allowedCidrs: [] });
        const all = await create(alice, { scopes: null });

        expect((await store.findById(none.id))?.scopes).toEqual([]);
        expect((await store.findById(none.id))?.allowedCidrs).toEqual([]);
        expect((await store.findById(all.id))?.scopes).toBeNull();
      });

      it('defaults createdAt to now', async () => {
        const before = Date.now();
        const { createdAt: _omitted, ...key } = newKey(alice);
        const created = await store.create(key);
        const after = Date.now();

        expect(created.createdAt).toBeInstanceOf(Date);
        // The database clock may be another machine's: a generous bound, not an exact instant.
        expect(Math.abs(created.createdAt.getTime() - (before + after) / 2)).toBeLessThan(60_000);
      });

      it('refuses a duplicate id with ERR_SECURITY_KEY_ID_TAKEN and keeps the first key', async () => {
        const first = await create(alice);

        const duplicate = create(bob, { id: first.id, name: 'impostor' });

        await expect(duplicate).rejects.toBeInstanceOf(Error);
        await expect(duplicate).rejects.toMatchObject({ code: 'ERR_SECURITY_KEY_ID_TAKEN' });
        expect(await store.findById(first.id)).toEqual(first);
      });

      it('lets exactly one of two concurrent creates with the same id win', async () => {
        const id = randomKeyId();

        const results = await Promise.allSettled([create(alice, { id }), create(bob, { id })]);

        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const [failure] = results.filter((r) => r.status === 'rejected');
        expect(failure?.reason).toMatchObject({ code: 'ERR_SECURITY_KEY_ID_TAKEN' });
      });

      it('refuses a key of an unknown principal with ERR_SECURITY_UNKNOWN_PRINCIPAL', async () => {
        const orphan = newKey(randomUUID());
        const malformed = newKey('not-a-uuid');

        await expect(store.create(orphan)).rejects.toMatchObject({ code: 'ERR_SECURITY_UNKNOWN_PRINCIPAL' });
        await expect(store.create(malformed)).rejects.toMatchObject({ code: 'ERR_SECURITY_UNKNOWN_PRINCIPAL' });
        expect(await store.findById(orphan.id)).toBeNull();
        expect(await store.findById(malformed.id)).toBeNull();
      });

      it('answers null for an unknown id, whatever its shape', async () => {
        await create(alice);

        for (const id of [randomKeyId(), '', 'short', 'x'.repeat(200), "' OR '1'='1"]) {
          expect(await store.findById(id)).toBeNull();
        }
      });

      it('returns copies: changing a returned record changes nothing stored', async () => {
        const created = await create(alice, { scopes: ['items:read'], metadata: { a: 1 } });

        created.scopes!.push('*:*');
        created.metadata.a = 2;
        created.expiresAt = at(1);

        expect(await store.findById(created.id)).toMatchObject({ scopes: ['items:read'], metadata: { a: 1 } });
        expect((await store.findById(created.id))?.expiresAt).toBeNull();
      });
    });

    describe('list', () => {
      it('lists keys newest first, ties broken by id descending', async () => {
        const old = await create(alice, { createdAt: at(0) });
        const newest = await create(bob, { createdAt: at(20) });
        const tieA = await create(alice, { id: 'AAAAAAAAAAAA', createdAt: at(10) });
        const tieB = await create(alice, { id: 'aaaaaaaaaaaa', createdAt: at(10) });
        const tieC = await create(alice, { id: '000000000000', createdAt: at(10) });

        expect(ids(await store.list({}))).toEqual([newest.id, tieB.id, tieA.id, tieC.id, old.id]);
        expect(ids(await store.list())).toEqual([newest.id, tieB.id, tieA.id, tieC.id, old.id]);
      });

      it('filters by principal', async () => {
        const a1 = await create(alice, { createdAt: at(1) });
        const b1 = await create(bob, { createdAt: at(2) });
        const a2 = await create(alice, { createdAt: at(3) });

        expect(ids(await store.list({ principalId: alice }))).toEqual([a2.id, a1.id]);
        expect(ids(await store.list({ principalId: bob }))).toEqual([b1.id]);
        expect(await store.list({ principalId: randomUUID() })).toEqual([]);
        expect(await store.list({ principalId: 'not-a-uuid' })).toEqual([]);
      });

      it('leaves revoked keys out unless asked, and always lists expired ones', async () => {
        const live = await create(alice, { createdAt: at(1) });
        const revoked = await create(alice, { createdAt: at(2) });
        const expired = await create(alice, { createdAt: at(3), expiresAt: at(4) });
        await store.revoke(revoked.id, at(5));

        expect(ids(await store.list({ principalId: alice }))).toEqual([expired.id, live.id]);
        expect(ids(await store.list({ principalId: alice, includeRevoked: true }))).toEqual([
          expired.id,
          revoked.id,
          live.id,
        ]);
        expect((await store.list({ includeRevoked: true }))[1]).toMatchObject({ id: revoked.id, revokedAt: at(5) });
      });

      it('returns whole records', async () => {
        const created = await create(alice, { scopes: ['users:read'], metadata: { k: 'v' } });

        expect(await store.list({ principalId: alice })).toEqual([created]);
      });
    });

    describe('revoke', () => {
      it('sets revokedAt and returns the whole record', async () => {
        const key = await create(alice);

        const revoked = await store.revoke(key.id, at(10));

        expect(revoked).toEqual({ ...key, revokedAt: at(10) });
        expect(await store.findById(key.id)).toEqual(revoked);
      });

      it('is idempotent: a second revoke keeps the first revokedAt', async () => {
        const key = await create(alice);
        await store.revoke(key.id, at(10));

        const again = await store.revoke(key.id, at(20));
        const earlier = await store.revoke(key.id, at(5));

        expect(again?.revokedAt).toEqual(at(10));
        expect(earlier?.revokedAt).toEqual(at(10));
        expect((await store.findById(key.id))?.revokedAt).toEqual(at(10));
      });

      it('answers null for an unknown key', async () => {
        expect(await store.revoke(randomKeyId(), at(10))).toBeNull();
        expect(await store.revoke('x'.repeat(50), at(10))).toBeNull();
      });
    });

    describe('revokeAllForPrincipal', () => {
      it("revokes only that principal's keys in force and returns their ids, sorted", async () => {
        const a1 = await create(alice);
        const a2 = await create(alice);
        const already = await create(alice);
        const b1 = await create(bob);
        await store.revoke(already.id, at(5));

        const revoked = await store.revokeAllForPrincipal(alice, at(10));

        expect(revoked).toEqual([a1.id, a2.id].sort());
        expect((await store.findById(a1.id))?.revokedAt).toEqual(at(10));
        expect((await store.findById(a2.id))?.revokedAt).toEqual(at(10));
        expect((await store.findById(already.id))?.revokedAt).toEqual(at(5));
        expect((await store.findById(b1.id))?.revokedAt).toBeNull();
      });

      it('returns nothing the second time, and for unknown or malformed principals', async () => {
        await create(alice);
        await store.revokeAllForPrincipal(alice, at(10));

        expect(await store.revokeAllForPrincipal(alice, at(20))).toEqual([]);
        expect(await store.revokeAllForPrincipal(randomUUID(), at(20))).toEqual([]);
        expect(await store.revokeAllForPrincipal('not-a-uuid', at(20))).toEqual([]);
      });
    });

    describe('rotate', () => {
      it('creates the next key pointing at the previous one and cuts the previous one off at the given time', async () => {
        const previous = await create(alice, { scopes: ['items:read'] });
        const next = newKey(alice, { createdAt: at(100), scopes: ['items:read'] });

        const rotation = await store.rotate(previous.id, next, at(200));

        expect(rotation).toEqual({
          created: { ...next, rotatedFrom: previous.id, revokedAt: null, lastUsedAt: null },
          previous: { ...previous, expiresAt: at(200) },
        });
        expect(await store.findById(next.id)).toEqual(rotation?.created);
        expect(await store.findById(previous.id)).toEqual(rotation?.previous);
      });

      it('sets rotatedFrom to the previous id whatever next says', async () => {
        const previous = await create(alice);

        const rotation = await store.rotate(previous.id, newKey(alice, { rotatedFrom: 'ZZZZZZZZZZZZ' }), at(200));

        expect(rotation?.created.rotatedFrom).toBe(previous.id);
      });

      it('shortens an expiry but never extends it', async () => {
        const soon = await create(alice, { expiresAt: at(50) });
        const later = await create(alice, { expiresAt: at(500) });

        const keptSoon = await store.rotate(soon.id, newKey(alice), at(200));
        const cutLater = await store.rotate(later.id, newKey(alice), at(200));

        expect(keptSoon?.previous.expiresAt).toEqual(at(50));
        expect(cutLater?.previous.expiresAt).toEqual(at(200));
        expect((await store.findById(soon.id))?.expiresAt).toEqual(at(50));
        expect((await store.findById(later.id))?.expiresAt).toEqual(at(200));
      });

      it('returns null and creates nothing for a revoked key', async () => {
        const previous = await create(alice, { expiresAt: at(500) });
        const revoked = await store.revoke(previous.id, at(10));
        const next = newKey(alice);

        expect(await store.rotate(previous.id, next, at(200))).toBeNull();

        expect(await store.findById(next.id)).toBeNull();
        expect(await store.findById(previous.id)).toEqual(revoked);
        expect(ids(await store.list({ includeRevoked: true }))).toEqual([previous.id]);
      });

      it('returns null and creates nothing for an unknown key', async () => {
        const next = newKey(alice);

        expect(await store.rotate(randomKeyId(), next, at(200))).toBeNull();
        expect(await store.findById(next.id)).toBeNull();
      });

      it('returns null and creates nothing when next belongs to another principal', async () => {
        const previous = await create(alice);
        const next = newKey(bob);

        expect(await store.rotate(previous.id, next, at(200))).toBeNull();
        expect(await store.rotate(previous.id, newKey('not-a-uuid'), at(200))).toBeNull();
        expect(await store.findById(next.id)).toBeNull();
        expect(await store.findById(previous.id)).toEqual(previous);
      });

      it('changes nothing when the next id is taken: ERR_SECURITY_KEY_ID_TAKEN', async () => {
        const previous = await create(alice, { expiresAt: at(500) });
        const other = await create(alice);

        const rotation = store.rotate(previous.id, newKey(alice, { id: other.id }), at(200));

        await expect(rotation).rejects.toMatchObject({ code: 'ERR_SECURITY_KEY_ID_TAKEN' });
        expect(await store.findById(previous.id)).toEqual(previous);
        expect(await store.findById(other.id)).toEqual(other);
      });

      it('rotates a rotated key again (a chain)', async () => {
        const first = await create(alice);
        const second = await store.rotate(first.id, newKey(alice), at(200));
        const third = await store.rotate(second!.created.id, newKey(alice), at(300));

        expect(third?.created.rotatedFrom).toBe(second?.created.id);
        expect(third?.previous.expiresAt).toEqual(at(300));
        expect((await store.findById(first.id))?.expiresAt).toEqual(at(200));
      });

      it('never lets a revoke racing a rotation leave a successor of a key revoked first', async () => {
        const previous = await create(alice);
        const next = newKey(alice);

        const [rotation, revoked] = await Promise.all([
          store.rotate(previous.id, next, at(200)),
          store.revoke(previous.id, at(10)),
        ]);

        expect(revoked?.revokedAt).toEqual(at(10));
        if (rotation === null) {
          expect(await store.findById(next.id)).toBeNull();
        } else {
          expect(await store.findById(next.id)).toEqual(rotation.created);
          expect((await store.findById(previous.id))?.expiresAt).toEqual(at(200));
        }
      });
    });

    describe('updateHash', () => {
      it('replaces hash and version when the old hash matches', async () => {
        const key = await create(alice, { secretHash: 'aa'.repeat(32), hashVersion: 'sha256' });

        expect(await store.updateHash(key.id, 'aa'.repeat(32), 'bb'.repeat(32), 'p2')).toBe(true);

        expect(await store.findById(key.id)).toEqual({ ...key, secretHash: 'bb'.repeat(32), hashVersion: 'p2' });
      });

      it('changes nothing when the old hash no longer matches (someone upgraded it first)', async () => {
        const key = await create(alice, { secretHash: 'aa'.repeat(32), hashVersion: 'sha256' });
        await store.updateHash(key.id, 'aa'.repeat(32), 'bb'.repeat(32), 'p2');

        expect(await store.updateHash(key.id, 'aa'.repeat(32), 'cc'.repeat(32), 'p3')).toBe(false);

        expect(await store.findById(key.id)).toMatchObject({ secretHash: 'bb'.repeat(32), hashVersion: 'p2' });
      });

      it('lets exactly one of two concurrent upgrades win', async () => {
        const key = await create(alice, { secretHash: 'aa'.repeat(32), hashVersion: 'sha256' });

        const results = await Promise.all([
          store.updateHash(key.id, 'aa'.repeat(32), 'bb'.repeat(32), 'p2'),
          store.updateHash(key.id, 'aa'.repeat(32), 'cc'.repeat(32), 'p3'),
        ]);

        expect(results.filter(Boolean)).toHaveLength(1);
        const stored = await store.findById(key.id);
        expect(stored?.secretHash).toBe(results[0] ? 'bb'.repeat(32) : 'cc'.repeat(32));
      });

      it('answers false for an unknown key', async () => {
        expect(await store.updateHash(randomKeyId(), 'aa', 'bb', 'p2')).toBe(false);
      });
    });

    describe('recordUsage', () => {
      it('sets lastUsedAt of several keys in one batch, ignoring unknown ids', async () => {
        const k1 = await create(alice);
        const k2 = await create(bob);
        const untouched = await create(alice);

        await store.recordUsage([
          { id: k1.id, at: at(10) },
          { id: k2.id, at: at(20) },
          { id: randomKeyId(), at: at(30) },
        ]);

        expect((await store.findById(k1.id))?.lastUsedAt).toEqual(at(10));
        expect((await store.findById(k2.id))?.lastUsedAt).toEqual(at(20));
        expect((await store.findById(untouched.id))?.lastUsedAt).toBeNull();
      });

      it('only moves forward, across batches and within one', async () => {
        const key = await create(alice);

        await store.recordUsage([{ id: key.id, at: at(20) }]);
        await store.recordUsage([{ id: key.id, at: at(10) }]);
        expect((await store.findById(key.id))?.lastUsedAt).toEqual(at(20));

        await store.recordUsage([
          { id: key.id, at: at(40) },
          { id: key.id, at: at(30) },
          { id: key.id, at: at(35) },
        ]);
        expect((await store.findById(key.id))?.lastUsedAt).toEqual(at(40));
      });

      it('accepts an empty batch', async () => {
        await expect(store.recordUsage([])).resolves.toBeUndefined();
      });

      it('records uses of revoked keys too, and changes nothing else', async () => {
        const key = await create(alice);
        const revoked = await store.revoke(key.id, at(5));

        await store.recordUsage([{ id: key.id, at: at(10) }]);

        expect(await store.findById(key.id)).toEqual({ ...revoked, lastUsedAt: at(10) });
      });

      it('keeps the latest use when overlapping batches run at once, in opposite orders', async () => {
        const keys = await Promise.all(Array.from({ length: 8 }, () => create(alice)));
        const batch = (offset: number) => keys.map((key, index) => ({ id: key.id, at: at(offset + index) }));

        await Promise.all([
          store.recordUsage(batch(100)),
          store.recordUsage(batch(200).reverse()),
          store.recordUsage(batch(150)),
          store.recordUsage(batch(50).reverse()),
        ]);

        for (const [index, key] of keys.entries()) {
          expect((await store.findById(key.id))?.lastUsedAt).toEqual(at(200 + index));
        }
      });
    });
  });
}
