import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidGrantError, type GrantStore, type NewResourceGrant } from '../../src/authz/grant.store.js';
import { SecurityError } from '../../src/core/errors.js';
import { UnknownPrincipalError } from '../../src/principals/principal.store.js';
import { at, useStoreWithAliceAndBob, type StoreWithPrincipalsFixture } from './contract-support.js';

/** What a contract run needs: a grant store and the principal store it checks, over a clean state. */
export type GrantStoreFixture = StoreWithPrincipalsFixture<GrantStore>;

/** Inputs every method must refuse with `ERR_SECURITY_INVALID_GRANT`, by field. */
const INVALID = {
  resourceType: ['', 'Documents', '1docs', 'docs!', 'docs type', 'a'.repeat(65), '*', "x') OR 1=1 --", 'é'],
  resourceId: ['', 'a/b', 'a b', 'x'.repeat(129), "1' OR '1'='1", 'ü', '\u0000', '*'],
  action: ['', 'Read', 'read!', 'read write', 'r'.repeat(65), '**', '*:*', "read' --"],
} as const;

/**
 * The behaviour every `GrantStore` adapter must have. `makeStore` is called before each test and must
 * hand over empty stores; `cleanup` runs after each test.
 * @example
 * describeGrantStoreContract('memory', async () => {
 *   const principals = new MemoryPrincipalStore();
 *   return { store: new MemoryGrantStore(principals), principals, cleanup: async () => {} };
 * });
 */
export function describeGrantStoreContract(name: string, makeStore: () => Promise<GrantStoreFixture>): void {
  describe(`GrantStore contract: ${name}`, () => {
    let store: GrantStore;
    let alice: string;
    let bob: string;
    useStoreWithAliceAndBob(makeStore, (given) => ({ store, alice, bob } = given));

    const grant = (principalId: string, extra: Partial<NewResourceGrant> = {}): NewResourceGrant => ({
      principalId,
      resourceType: 'documents',
      resourceId: '1',
      action: 'read',
      grantedBy: null,
      grantedAt: at(0),
      ...extra,
    });
    const add = (principalId: string, extra: Partial<NewResourceGrant> = {}) => store.add(grant(principalId, extra));

    describe('add', () => {
      it('stores every field and reads the same grant back', async () => {
        expect(
          await add(alice, { resourceId: 'f3c1-x', action: 'write', grantedBy: 'cli:root', grantedAt: at(5) }),
        ).toBe(true);

        expect(await store.listForPrincipal(alice)).toEqual([
          {
            principalId: alice,
            resourceType: 'documents',
            resourceId: 'f3c1-x',
            action: 'write',
            grantedAt: at(5),
            grantedBy: 'cli:root',
          },
        ]);
      });

      it('defaults grantedAt to now and grantedBy to null', async () => {
        const before = Date.now();
        await store.add({
          principalId: alice,
          resourceType: 'documents',
          resourceId: '7',
          action: 'read',
          grantedBy: null,
        });
        const after = Date.now();

        const [stored] = await store.listForPrincipal(alice);
        expect(stored).toMatchObject({ grantedBy: null, grantedAt: expect.any(Date) });
        // The database clock may be another machine's: a generous bound, not an exact instant.
        expect(Math.abs(stored!.grantedAt.getTime() - (before + after) / 2)).toBeLessThan(60_000);
      });

      it('answers false for a grant that exists, keeping the first one unchanged', async () => {
        expect(await add(alice, { grantedBy: 'first', grantedAt: at(1) })).toBe(true);
        expect(await add(alice, { grantedBy: 'second', grantedAt: at(2) })).toBe(false);

        expect(await store.listForPrincipal(alice)).toEqual([
          expect.objectContaining({ grantedBy: 'first', grantedAt: at(1) }),
        ]);
      });

      it('keeps grants apart that differ in one part only', async () => {
        expect(await add(alice)).toBe(true);
        expect(await add(bob)).toBe(true);
        expect(await add(alice, { resourceType: 'folders' })).toBe(true);
        expect(await add(alice, { resourceId: '2' })).toBe(true);
        expect(await add(alice, { action: 'write' })).toBe(true);
        expect(await add(alice, { action: '*' })).toBe(true);

        expect(await store.listForPrincipal(alice)).toHaveLength(5);
        expect(await store.listForPrincipal(bob)).toHaveLength(1);
      });

      it('compares resource ids exactly, case included', async () => {
        await add(alice, { resourceId: 'AbC' });

        expect(await store.actionsOn(alice, 'documents', 'AbC')).toEqual(['read']);
        expect(await store.actionsOn(alice, 'documents', 'abc')).toEqual([]);
      });

      it('accepts the edges of each grammar', async () => {
        const longType = `a${'b'.repeat(63)}`;
        const longId = `${'Az09._:-'.repeat(16)}`;
        const longAction = `r${'-'.repeat(63)}`;
        await add(alice, {
          resourceType: longType,
          resourceId: longId,
          action: longAction,
          grantedBy: 'g'.repeat(255),
        });
        await add(alice, { resourceType: 'a', resourceId: '0', action: 'r' });
        await add(alice, { resourceType: 'team_docs-2', resourceId: '6f1c8a52-3d4e-4b7a-9c1d-2e3f4a5b6c7d' });
        await add(alice, { grantedBy: 'ünïcödé ✓'.padEnd(255, '✓') });
        // 255 characters outside the BMP: 510 UTF-16 code units, which varchar(255) still holds.
        await add(alice, { resourceId: 'emoji', grantedBy: '😀'.repeat(255) });

        expect(await store.actionsOn(alice, longType, longId)).toEqual([longAction]);
        expect(await store.actionsOn(alice, 'a', '0')).toEqual(['r']);
        expect(await store.listForPrincipal(alice, 'team_docs-2')).toHaveLength(1);
        const byId = new Map((await store.listForPrincipal(alice, 'documents')).map((g) => [g.resourceId, g]));
        expect(byId.get('1')?.grantedBy).toBe('ünïcödé ✓'.padEnd(255, '✓'));
        expect(byId.get('emoji')?.grantedBy).toBe('😀'.repeat(255));
      });

      it('refuses an unknown or malformed principal with ERR_SECURITY_UNKNOWN_PRINCIPAL', async () => {
        for (const principalId of [randomUUID(), 'not-a-uuid', '', "' OR 1=1 --"]) {
          const refusal = add(principalId);
          await expect(refusal).rejects.toBeInstanceOf(UnknownPrincipalError);
          await expect(refusal).rejects.toMatchObject({ code: 'ERR_SECURITY_UNKNOWN_PRINCIPAL', principalId });
        }
        expect(await store.listForResource('documents', '1')).toEqual([]);
      });

      it('accepts an upper-case principal uuid like Postgres does, and stores it lower-case', async () => {
        expect(await add(alice.toUpperCase())).toBe(true);
        expect(await add(alice)).toBe(false);

        expect((await store.listForResource('documents', '1')).map((g) => g.principalId)).toEqual([alice]);
      });

      for (const [field, values] of Object.entries(INVALID)) {
        it(`refuses an invalid ${field} with ERR_SECURITY_INVALID_GRANT, storing nothing`, async () => {
          for (const value of values) {
            const refusal = add(alice, { [field]: value });
            await expect(refusal).rejects.toBeInstanceOf(InvalidGrantError);
            await expect(refusal).rejects.toBeInstanceOf(SecurityError);
            await expect(refusal).rejects.toMatchObject({ code: 'ERR_SECURITY_INVALID_GRANT', field });
          }
          expect(await store.listForPrincipal(alice)).toEqual([]);
        });
      }

      it('refuses a missing part, a grantedBy over 255 characters or with NUL, and an invalid date', async () => {
        const cases: Array<[string, Partial<NewResourceGrant>]> = [
          ['resourceType', { resourceType: undefined as never }],
          ['resourceId', { resourceId: 7 as never }],
          ['action', { action: null as never }],
          ['grantedBy', { grantedBy: 'g'.repeat(256) }],
          ['grantedBy', { grantedBy: '😀'.repeat(256) }],
          ['grantedBy', { grantedBy: 'a\u0000b' }],
          ['grantedBy', { grantedBy: 42 as never }],
          ['grantedAt', { grantedAt: new Date(Number.NaN) }],
          ['grantedAt', { grantedAt: '2026-01-01' as never }],
        ];
        for (const [field, extra] of cases) {
          await expect(add(alice, extra)).rejects.toMatchObject({ code: 'ERR_SECURITY_INVALID_GRANT', field });
        }
        expect(await store.listForPrincipal(alice)).toEqual([]);
      });

      it('does not repeat the refused value in the error', async () => {
        const error = (await add(alice, { resourceId: "1' OR '1'='1" }).catch((e: unknown) => e)) as InvalidGrantError;

        expect(error).toBeInstanceOf(InvalidGrantError);

        expect(error.message).not.toContain('OR');
        expect(JSON.stringify(error.context)).not.toContain('OR');
      });

      it('keeps one grant when the same one is added concurrently', async () => {
        const results = await Promise.all(Array.from({ length: 8 }, () => add(alice)));

        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.listForPrincipal(alice)).toHaveLength(1);
      });
    });

    describe('remove', () => {
      it('removes one grant: true when it existed, false after', async () => {
        await add(alice, { action: 'read' });
        await add(alice, { action: 'write' });
        await add(bob, { action: 'read' });

        expect(await store.remove(alice, 'documents', '1', 'read')).toBe(true);
        expect(await store.remove(alice, 'documents', '1', 'read')).toBe(false);

        expect(await store.actionsOn(alice, 'documents', '1')).toEqual(['write']);
        expect(await store.actionsOn(bob, 'documents', '1')).toEqual(['read']);
      });

      it('removes the wildcard grant only when asked for *, and * removes nothing else', async () => {
        await add(alice, { action: '*' });
        await add(alice, { action: 'read' });

        expect(await store.remove(alice, 'documents', '1', 'write')).toBe(false);
        expect(await store.remove(alice, 'documents', '1', '*')).toBe(true);
        expect(await store.actionsOn(alice, 'documents', '1')).toEqual(['read']);
      });

      it('answers false for an unknown or malformed principal and an unknown resource', async () => {
        await add(alice);

        expect(await store.remove(randomUUID(), 'documents', '1', 'read')).toBe(false);
        expect(await store.remove('not-a-uuid', 'documents', '1', 'read')).toBe(false);
        expect(await store.remove(alice, 'folders', '1', 'read')).toBe(false);
        expect(await store.remove(alice, 'documents', '2', 'read')).toBe(false);
        expect(await store.actionsOn(alice, 'documents', '1')).toEqual(['read']);
      });

      it('accepts an upper-case principal uuid', async () => {
        await add(alice);

        expect(await store.remove(alice.toUpperCase(), 'documents', '1', 'read')).toBe(true);
      });

      it('lets a removed grant be added again', async () => {
        await add(alice, { grantedAt: at(1) });
        await store.remove(alice, 'documents', '1', 'read');

        expect(await add(alice, { grantedAt: at(2) })).toBe(true);
        expect(await store.listForPrincipal(alice)).toEqual([expect.objectContaining({ grantedAt: at(2) })]);
      });

      it('refuses invalid parts with ERR_SECURITY_INVALID_GRANT', async () => {
        await expect(store.remove(alice, INVALID.resourceType[7], '1', 'read')).rejects.toMatchObject({
          code: 'ERR_SECURITY_INVALID_GRANT',
          field: 'resourceType',
        });
        await expect(store.remove(alice, 'documents', INVALID.resourceId[4], 'read')).rejects.toMatchObject({
          field: 'resourceId',
        });
        await expect(store.remove(alice, 'documents', '1', INVALID.action[7])).rejects.toMatchObject({
          field: 'action',
        });
      });
    });

    describe('listForPrincipal', () => {
      it('lists the principal grants sorted by type, id (as text) and action, optionally of one type', async () => {
        await add(alice, { resourceType: 'folders', resourceId: 'b', action: 'read' });
        await add(alice, { resourceType: 'documents', resourceId: '10', action: 'write' });
        await add(alice, { resourceType: 'documents', resourceId: '2', action: 'read' });
        await add(alice, { resourceType: 'documents', resourceId: '10', action: '*' });
        await add(alice, { resourceType: 'documents', resourceId: 'B', action: 'read' });
        await add(alice, { resourceType: 'documents', resourceId: 'a', action: 'read' });
        await add(bob, { resourceType: 'documents', resourceId: '1', action: 'read' });
        const parts = (list: Awaited<ReturnType<GrantStore['listForPrincipal']>>) =>
          list.map((g) => `${g.resourceType}/${g.resourceId}/${g.action}`);

        expect(parts(await store.listForPrincipal(alice))).toEqual([
          'documents/10/*',
          'documents/10/write',
          'documents/2/read',
          'documents/B/read',
          'documents/a/read',
          'folders/b/read',
        ]);
        expect(parts(await store.listForPrincipal(alice, 'folders'))).toEqual(['folders/b/read']);
        expect(parts(await store.listForPrincipal(alice, 'nothing'))).toEqual([]);
        expect((await store.listForPrincipal(alice)).every((g) => g.principalId === alice)).toBe(true);
      });

      it('answers [] for a principal without grants, unknown or malformed', async () => {
        await add(alice);

        expect(await store.listForPrincipal(bob)).toEqual([]);
        expect(await store.listForPrincipal(randomUUID())).toEqual([]);
        expect(await store.listForPrincipal('not-a-uuid')).toEqual([]);
        expect(await store.listForPrincipal(alice.toUpperCase())).toHaveLength(1);
      });

      it('refuses an invalid resource type', async () => {
        await expect(store.listForPrincipal(alice, 'Bad Type')).rejects.toMatchObject({
          code: 'ERR_SECURITY_INVALID_GRANT',
          field: 'resourceType',
        });
      });

      it('hands out copies: changing a result changes nothing stored', async () => {
        await add(alice, { grantedAt: at(1) });
        const [first] = await store.listForPrincipal(alice);
        first!.action = 'write';
        first!.grantedAt.setTime(0);

        expect(await store.listForPrincipal(alice)).toEqual([
          expect.objectContaining({ action: 'read', grantedAt: at(1) }),
        ]);
      });
    });

    describe('listForResource', () => {
      it('lists every grant on one resource, sorted by principal id and action', async () => {
        await add(alice, { action: 'write' });
        await add(alice, { action: 'read' });
        await add(bob, { action: '*' });
        await add(alice, { resourceId: '2' });
        await add(bob, { resourceType: 'folders' });
        const [first, second] = [alice, bob].sort();
        const expected = [
          ...(first === alice ? ['read', 'write'] : ['*']).map((action) => [first, action]),
          ...(second === alice ? ['read', 'write'] : ['*']).map((action) => [second, action]),
        ];

        const list = await store.listForResource('documents', '1');

        expect(list.map((g) => [g.principalId, g.action])).toEqual(expected);
        expect(list.every((g) => g.resourceType === 'documents' && g.resourceId === '1')).toBe(true);
        expect(await store.listForResource('documents', '3')).toEqual([]);
      });

      it('refuses invalid parts', async () => {
        await expect(store.listForResource('', '1')).rejects.toMatchObject({ field: 'resourceType' });
        await expect(store.listForResource('documents', 'a b')).rejects.toMatchObject({ field: 'resourceId' });
      });
    });

    describe('actionsOn', () => {
      it('answers the sorted actions of one principal on one resource, * as stored', async () => {
        await add(alice, { action: 'write' });
        await add(alice, { action: 'delete' });
        await add(alice, { action: '*' });
        await add(alice, { resourceId: '2', action: 'share' });
        await add(alice, { resourceType: 'folders', action: 'admin' });
        await add(bob, { action: 'read' });

        expect(await store.actionsOn(alice, 'documents', '1')).toEqual(['*', 'delete', 'write']);
        expect(await store.actionsOn(bob, 'documents', '1')).toEqual(['read']);
        expect(await store.actionsOn(alice, 'documents', '2')).toEqual(['share']);
        expect(await store.actionsOn(alice, 'folders', '1')).toEqual(['admin']);
      });

      it('answers [] for nothing granted and for an unknown or malformed principal', async () => {
        await add(alice);

        expect(await store.actionsOn(alice, 'documents', '9')).toEqual([]);
        expect(await store.actionsOn(bob, 'documents', '1')).toEqual([]);
        expect(await store.actionsOn(randomUUID(), 'documents', '1')).toEqual([]);
        expect(await store.actionsOn('not-a-uuid', 'documents', '1')).toEqual([]);
        expect(await store.actionsOn('', 'documents', '1')).toEqual([]);
        expect(await store.actionsOn(alice.toUpperCase(), 'documents', '1')).toEqual(['read']);
      });

      it('refuses invalid parts rather than answer for them', async () => {
        await expect(store.actionsOn(alice, 'Documents', '1')).rejects.toMatchObject({
          code: 'ERR_SECURITY_INVALID_GRANT',
          field: 'resourceType',
        });
        await expect(store.actionsOn(alice, 'documents', '../1')).rejects.toMatchObject({ field: 'resourceId' });
      });
    });
  });
}
