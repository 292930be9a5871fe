import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewSession, SessionRecord, SessionStore } from '../../src/sessions/session.store.js';
import { at, useStoreWithAliceAndBob, type StoreWithPrincipalsFixture } from '../stores/contract-support.js';

/** What a contract run needs: a session store and the principal store its sessions belong to, over a clean state. */
export type SessionStoreFixture = StoreWithPrincipalsFixture<SessionStore>;

const HOUR = 3_600;

/** A random token hash (64 hex characters). */
export const randomTokenHash = (): string => randomBytes(32).toString('hex');

/**
 * A session of `principalId` created at `at(0)` with a fresh id and hash, expiring an hour later and idling
 * out ten minutes later; `extra` overrides.
 */
export function newSession(principalId: string, extra: Partial<NewSession> = {}): NewSession {
  return {
    id: randomUUID(),
    principalId,
    tokenHash: randomTokenHash(),
    createdAt: at(0),
    expiresAt: at(HOUR),
    idleExpiresAt: at(600),
    ip: '203.0.113.7',
    userAgent: 'contract/1.0',
    ...extra,
  };
}

/**
 * The behaviour every `SessionStore` adapter must have. `makeStore` is called before each test and must
 * hand over empty stores; `cleanup` runs after each test.
 * @example
 * describeSessionStoreContract('memory', async () => {
 *   const principals = new MemoryPrincipalStore();
 *   return { store: new MemorySessionStore(principals), principals, cleanup: async () => {} };
 * });
 */
export function describeSessionStoreContract(name: string, makeStore: () => Promise<SessionStoreFixture>): void {
  describe(`SessionStore contract: ${name}`, () => {
    let store: SessionStore;
    let alice: string;
    let bob: string;
    useStoreWithAliceAndBob(makeStore, (given) => ({ store, alice, bob } = given));

    const create = (principalId: string, extra: Partial<NewSession> = {}) =>
      store.create(newSession(principalId, extra));
    const ids = (sessions: readonly SessionRecord[]) => sessions.map((session) => session.id);

    it('has a kind', () => {
      expect(store.kind).toMatch(/^[a-z]+$/);
    });

    describe('create, findById and findByTokenHash', () => {
      it('stores a session and reads the same record back by id and by token hash', async () => {
        const input = newSession(alice, { mfaAt: at(-5) });

        const created = await store.create(input);

        expect(created).toEqual({
          id: input.id,
          principalId: alice,
          tokenHash: input.tokenHash,
          createdAt: at(0),
          lastSeenAt: at(0),
          expiresAt: at(HOUR),
          idleExpiresAt: at(600),
          endedAt: null,
          endReason: null,
          mfaAt: at(-5),
          ip: '203.0.113.7',
          userAgent: 'contract/1.0',
        });
        expect(await store.findById(input.id)).toEqual(created);
        expect(await store.findByTokenHash(input.tokenHash)).toEqual(created);
      });

      it('keeps absent client details and second factor as null', async () => {
        const { ip: _ip, userAgent: _userAgent, ...bare } = newSession(bob);

        expect(await store.create(bare)).toMatchObject({ ip: null, userAgent: null, mfaAt: null });
      });

      it('answers null for an unknown id or hash, and for an id that is not a uuid', async () => {
        await create(alice);

        expect(await store.findById(randomUUID())).toBeNull();
        expect(await store.findById('not-a-uuid')).toBeNull();
        expect(await store.findByTokenHash(randomTokenHash())).toBeNull();
      });

      it('refuses a session of an unknown principal and a duplicate token hash', async () => {
        const first = await create(alice);

        await expect(create(randomUUID())).rejects.toMatchObject({ code: 'ERR_SECURITY_UNKNOWN_PRINCIPAL' });
        await expect(create(bob, { tokenHash: first.tokenHash })).rejects.toMatchObject({
          code: 'ERR_SECURITY_SESSION_TOKEN_TAKEN',
        });
        expect(await store.findByTokenHash(first.tokenHash)).toMatchObject({ principalId: alice });
      });

      it('returns copies: changing a returned record changes nothing stored', async () => {
        const created = await create(alice);
        created.lastSeenAt.setTime(0);
        created.endedAt = at(1);

        expect(await store.findById(created.id)).toMatchObject({ lastSeenAt: at(0), endedAt: null });
      });
    });

    describe('listActive', () => {
      it('lists only sessions active at now, of that principal, newest first', async () => {
        const old = await create(alice, { createdAt: at(-60) });
        const recent = await create(alice, { createdAt: at(0) });
        const ended = await create(alice, { createdAt: at(10) });
        await store.end(ended.id, at(20), 'logout');
        await create(alice, { createdAt: at(-1_000), idleExpiresAt: at(100) });
        await create(alice, { createdAt: at(-2_000), expiresAt: at(100), idleExpiresAt: at(100) });
        await create(bob);

        expect(ids(await store.listActive(alice, at(200), { limit: 10 }))).toEqual([recent.id, old.id]);
        expect(await store.listActive(randomUUID(), at(200), { limit: 10 })).toEqual([]);
        expect(await store.listActive('not-a-uuid', at(200), { limit: 10 })).toEqual([]);
      });

      it('pages with a cursor, ties at the same instant broken by id (descending)', async () => {
        const made = [];
        for (let i = 0; i < 5; i++) made.push(await create(alice, { createdAt: at(i < 3 ? 0 : i) }));
        const expected = [...made.slice(3).reverse(), ...made.slice(0, 3).sort((a, b) => (a.id < b.id ? 1 : -1))].map(
          (session) => session.id,
        );

        const seen: string[] = [];
        let after: { createdAt: Date; id: string } | undefined;
        for (let page = 0; page < 4; page++) {
          const rows = await store.listActive(alice, at(100), { limit: 2, after });
          seen.push(...ids(rows));
          if (rows.length < 2) break;
          after = { createdAt: rows.at(-1)!.createdAt, id: rows.at(-1)!.id };
        }

        expect(seen).toEqual(expected);
      });
    });

    describe('touch', () => {
      it('moves lastSeenAt and the idle deadline forward, never back', async () => {
        const session = await create(alice);

        expect(await store.touch(session.id, at(120), at(720))).toBe(true);
        expect(await store.findById(session.id)).toMatchObject({ lastSeenAt: at(120), idleExpiresAt: at(720) });
        expect(await store.touch(session.id, at(60), at(660))).toBe(false);
        expect(await store.touch(session.id, at(120), at(720))).toBe(false);
        expect(await store.findById(session.id)).toMatchObject({ lastSeenAt: at(120), idleExpiresAt: at(720) });
      });

      it('does not revive an ended or expired session', async () => {
        const ended = await create(alice);
        await store.end(ended.id, at(10), 'logout');
        const idle = await create(alice);
        const old = await create(alice, { expiresAt: at(100), idleExpiresAt: at(100) });

        expect(await store.touch(ended.id, at(20), at(620))).toBe(false);
        expect(await store.touch(idle.id, at(600), at(1_200))).toBe(false);
        expect(await store.touch(old.id, at(100), at(700))).toBe(false);
        expect(await store.touch(randomUUID(), at(1), at(2))).toBe(false);
        expect(await store.touch('not-a-uuid', at(1), at(2))).toBe(false);
        expect(await store.findById(idle.id)).toMatchObject({ lastSeenAt: at(0), idleExpiresAt: at(600) });
      });
    });

    describe('end', () => {
      it('ends a session once, with its reason, and returns it', async () => {
        const session = await create(alice);

        const ended = await store.end(session.id, at(30), 'logout');

        expect(ended).toEqual({ ...session, endedAt: at(30), endReason: 'logout' });
        expect(await store.findById(session.id)).toEqual(ended);
        expect(await store.end(session.id, at(40), 'ended_by_admin')).toBeNull();
        expect(await store.findById(session.id)).toMatchObject({ endedAt: at(30), endReason: 'logout' });
      });

      it('ends a session that expired without being ended (to record why), and nothing unknown', async () => {
        const idle = await create(alice);

        expect(await store.end(idle.id, at(900), 'expired_idle')).toMatchObject({ endReason: 'expired_idle' });
        expect(await store.end(randomUUID(), at(1), 'logout')).toBeNull();
        expect(await store.end('not-a-uuid', at(1), 'logout')).toBeNull();
      });
    });

    describe('endAllOf and endOldest', () => {
      it('ends every active session of the principal but the one kept', async () => {
        const kept = await create(alice);
        const a = await create(alice);
        const b = await create(alice);
        const before = await create(alice);
        await store.end(before.id, at(5), 'logout');
        const expired = await create(alice, { idleExpiresAt: at(5) });
        const bobs = await create(bob);

        const ended = await store.endAllOf(alice, at(10), 'password_changed', kept.id);

        expect(ended).toEqual([a.id, b.id].sort());
        expect(await store.findById(a.id)).toMatchObject({ endedAt: at(10), endReason: 'password_changed' });
        expect(await store.findById(kept.id)).toMatchObject({ endedAt: null });
        expect(await store.findById(before.id)).toMatchObject({ endReason: 'logout' });
        expect(await store.findById(expired.id)).toMatchObject({ endedAt: null });
        expect(await store.findById(bobs.id)).toMatchObject({ endedAt: null });
        expect(await store.endAllOf(alice, at(20), 'principal_disabled')).toEqual([kept.id]);
        expect(await store.endAllOf(alice, at(30), 'principal_disabled')).toEqual([]);
        expect(await store.endAllOf('not-a-uuid', at(30), 'principal_disabled')).toEqual([]);
      });

      it('ends the oldest active sessions beyond the newest `keep`', async () => {
        const made = [];
        for (let i = 0; i < 4; i++) made.push(await create(alice, { createdAt: at(i) }));
        await create(bob, { createdAt: at(-10) });

        const ended = await store.endOldest(alice, 2, at(10), 'session_limit');

        expect(ended).toEqual([made[0]!.id, made[1]!.id].sort());
        expect(ids(await store.listActive(alice, at(10), { limit: 10 }))).toEqual([made[3]!.id, made[2]!.id]);
        expect(await store.findById(made[0]!.id)).toMatchObject({ endReason: 'session_limit' });
        expect(await store.endOldest(alice, 2, at(11), 'session_limit')).toEqual([]);
        expect(await store.listActive(bob, at(10), { limit: 10 })).toHaveLength(1);
      });
    });

    describe('rotate', () => {
      it('ends the session as rotated and creates its replacement with the same principal, expiry and mfaAt', async () => {
        const old = await create(alice, { mfaAt: at(-30) });
        const replacement = { id: randomUUID(), tokenHash: randomTokenHash(), at: at(100), idleExpiresAt: at(700) };

        const rotated = await store.rotate(old.id, { ...replacement, ip: '198.51.100.1', userAgent: 'new/2.0' });

        expect(rotated).toEqual({
          id: replacement.id,
          principalId: alice,
          tokenHash: replacement.tokenHash,
          createdAt: at(100),
          lastSeenAt: at(100),
          expiresAt: at(HOUR),
          idleExpiresAt: at(700),
          endedAt: null,
          endReason: null,
          mfaAt: at(-30),
          ip: '198.51.100.1',
          userAgent: 'new/2.0',
        });
        expect(await store.findByTokenHash(old.tokenHash)).toMatchObject({ endedAt: at(100), endReason: 'rotated' });
        expect(await store.findByTokenHash(replacement.tokenHash)).toEqual(rotated);
      });

      it('never moves the idle deadline past the absolute expiry', async () => {
        const old = await create(alice, { expiresAt: at(300), idleExpiresAt: at(300) });

        const rotated = await store.rotate(old.id, {
          id: randomUUID(),
          tokenHash: randomTokenHash(),
          at: at(200),
          idleExpiresAt: at(800),
        });

        expect(rotated).toMatchObject({ expiresAt: at(300), idleExpiresAt: at(300) });
      });

      it('changes nothing for a session that is over or unknown', async () => {
        const ended = await create(alice);
        await store.end(ended.id, at(10), 'logout');
        const idle = await create(alice);
        const replacement = () => ({
          id: randomUUID(),
          tokenHash: randomTokenHash(),
          at: at(601),
          idleExpiresAt: at(900),
        });
        const attempts = [replacement(), replacement(), replacement()];

        expect(await store.rotate(ended.id, attempts[0]!)).toBeNull();
        expect(await store.rotate(idle.id, attempts[1]!)).toBeNull();
        expect(await store.rotate(randomUUID(), attempts[2]!)).toBeNull();
        for (const attempt of attempts) expect(await store.findById(attempt.id)).toBeNull();
        expect(await store.findById(idle.id)).toMatchObject({ endedAt: null });
      });

      it('refuses a replacement whose token hash is taken and keeps the session', async () => {
        const old = await create(alice);
        const other = await create(bob);

        await expect(
          store.rotate(old.id, { id: randomUUID(), tokenHash: other.tokenHash, at: at(1), idleExpiresAt: at(601) }),
        ).rejects.toMatchObject({ code: 'ERR_SECURITY_SESSION_TOKEN_TAKEN' });
        expect(await store.findById(old.id)).toMatchObject({ endedAt: null });
      });
    });

    describe('recordSecondFactor', () => {
      it('sets mfaAt on an active session, never moving it back', async () => {
        const session = await create(alice);

        expect(await store.recordSecondFactor(session.id, at(50))).toBe(true);
        expect(await store.recordSecondFactor(session.id, at(40))).toBe(true);
        expect(await store.findById(session.id)).toMatchObject({ mfaAt: at(50) });
        expect(await store.recordSecondFactor(session.id, at(60))).toBe(true);
        expect(await store.findById(session.id)).toMatchObject({ mfaAt: at(60) });
      });

      it('refuses an ended, expired or unknown session', async () => {
        const ended = await create(alice);
        await store.end(ended.id, at(10), 'logout');
        const idle = await create(alice);

        expect(await store.recordSecondFactor(ended.id, at(20))).toBe(false);
        expect(await store.recordSecondFactor(idle.id, at(600))).toBe(false);
        expect(await store.recordSecondFactor(randomUUID(), at(1))).toBe(false);
        expect(await store.findById(ended.id)).toMatchObject({ mfaAt: null });
      });
    });

    describe('purge', () => {
      it('deletes the sessions over before the cutoff and keeps the others', async () => {
        const endedEarly = await create(alice);
        await store.end(endedEarly.id, at(10), 'logout');
        const idledOut = await create(alice, { idleExpiresAt: at(50) });
        const expired = await create(alice, { expiresAt: at(60), idleExpiresAt: at(60) });
        const active = await create(alice);
        const endedLate = await create(alice);
        await store.end(endedLate.id, at(500), 'logout');

        expect(await store.purge(at(100))).toBe(3);

        for (const gone of [endedEarly, idledOut, expired]) {
          expect(await store.findById(gone.id)).toBeNull();
          expect(await store.findByTokenHash(gone.tokenHash)).toBeNull();
        }
        expect(await store.findById(active.id)).not.toBeNull();
        expect(await store.findById(endedLate.id)).not.toBeNull();
        expect(await store.purge(at(100))).toBe(0);
      });
    });
  });
}
