import { createHash, randomBytes } from 'node:crypto';
import { MemorySecurityChangeBus, MemorySecurityChangeHub } from '../changes/adapters/memory-security-change.bus.js';
import { ManualClock } from '../core/clock.js';
import { InvalidCredentialsError, SecurityStoreUnavailableError } from '../core/errors.js';
import type { HttpRequestLike } from '../http/http-request.js';
import { MemoryApiKeyStore } from '../keys/adapters/memory-api-key.store.js';
import { parsePepperRing } from '../keys/core/secret-hashing.js';
import { FakeSecurityEvents } from '../monitoring/fake-security-events.test-helpers.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import type { SecurityModuleOptions } from '../options/security-options.js';
import { MemoryPrincipalStore } from '../principals/adapters/memory-principal.store.js';
import { PASSWORD_HASH_TEST_COST, PasswordHasher } from '../principals/password-hasher.js';
import { Principals } from '../principals/principals.service.js';
import { MemoryLoginBackoffStore } from './adapters/memory-login-backoff.store.js';
import { MemorySessionStore } from './adapters/memory-session.store.js';
import { LoginBackoff } from './login-backoff.service.js';
import { LoginBackoffStore } from './login-backoff.store.js';
import { Logins } from './logins.service.js';
import { SessionAuthenticator } from './session.authenticator.js';
import { Sessions } from './sessions.service.js';

const MINUTE = 60_000;
const PASSWORD = 'correct horse battery staple 42';
const quiet = { log: () => undefined, warn: () => undefined };
const request = (ip = '203.0.113.7', headers: Record<string, string> = {}): HttpRequestLike => ({
  method: 'POST',
  url: '/login',
  headers: { 'user-agent': 'spec/1.0', ...headers },
  socket: { remoteAddress: ip },
});

async function setup(options: SecurityModuleOptions = {}, pepper?: string) {
  const resolved = resolveSecurityOptions(
    { sessions: { idleTimeout: '10m', absoluteTimeout: '1h', ...(options.sessions as object) }, ...options },
    { NODE_ENV: 'test' },
  );
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 9));
  const principals = new MemoryPrincipalStore();
  const store = new MemorySessionStore(principals);
  const hub = new MemorySecurityChangeHub();
  const events = new FakeSecurityEvents(clock);
  const ring = parsePepperRing(pepper);
  const hasher = new PasswordHasher(PASSWORD_HASH_TEST_COST);
  /** One instance of the app: its own bus (on the shared hub) and its own cache, over the shared stores. */
  const instance = (withRing = ring) => {
    const bus = new MemorySecurityChangeBus({ hub, logger: quiet });
    void bus.start();
    const sessions = new Sessions(resolved, store, principals, withRing, bus, events.asService(), clock);
    const people = new Principals(
      principals,
      new MemoryApiKeyStore(principals),
      hasher,
      bus,
      events.asService(),
      clock,
      undefined,
      sessions,
    );
    return { sessions, people, bus };
  };
  const app = instance();
  await principals.upsertRole('viewer', ['items:read', 'users:read']);
  const alice = await principals.create({ kind: 'user', username: 'alice', passwordHash: await hasher.hash(PASSWORD) });
  await principals.assignRole(alice.id, 'viewer');
  return { resolved, clock, principals, store, events, ring, instance, app, alice, hasher };
}

const reasonOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: unknown) => (error instanceof InvalidCredentialsError ? error.reason : String(error)),
  );

describe('Sessions', () => {
  it('issues a random token, stores only its hash, and authenticates it as the user with its roles', async () => {
    const { app, store, alice, clock, events } = await setup();

    const issued = await app.sessions.create(alice.id, request());

    expect(issued).toEqual({
      id: expect.any(String),
      principalId: alice.id,
      token: expect.stringMatching(/^sess_[A-Za-z0-9_-]{43}$/),
      expiresAt: new Date(clock.now() + 60 * MINUTE),
    });
    const stored = (await store.findById(issued.id))!;
    expect(stored.tokenHash).toBe(createHash('sha256').update(issued.token).digest('hex'));
    expect(JSON.stringify(stored)).not.toContain(issued.token);
    expect(stored).toMatchObject({ ip: '203.0.113.7', userAgent: 'spec/1.0' });
    const { principal } = await app.sessions.authenticate(issued.token);
    expect(principal).toMatchObject({
      id: alice.id,
      authMethod: 'session',
      sessionId: issued.id,
      roles: ['viewer'],
      permissions: ['items:read', 'users:read'],
    });
    expect(principal.mfaAt).toBeUndefined();
    expect(events.ofType('SESSION_CREATED')).toEqual([
      expect.objectContaining({ principalId: alice.id, details: expect.objectContaining({ sessionId: issued.id }) }),
    ]);
  });

  it('hashes with the API key pepper when there is one, and still knows tokens hashed before a pepper rotation', async () => {
    const oldPepper = randomBytes(32).toString('base64');
    const { app, store, alice, instance } = await setup({}, `v1:${oldPepper}`);
    const issued = await app.sessions.create(alice.id);
    expect((await store.findById(issued.id))!.tokenHash).not.toBe(
      createHash('sha256').update(issued.token).digest('hex'),
    );

    const rotated = instance(parsePepperRing(`v2:${randomBytes(32).toString('base64')},v1:${oldPepper}`));
    expect(await reasonOf(rotated.sessions.authenticate(issued.token))).toBe('accepted');
    const dropped = instance(parsePepperRing(`v2:${randomBytes(32).toString('base64')}`));
    expect(await reasonOf(dropped.sessions.authenticate(issued.token))).toBe('unknown');
  });

  it('refuses malformed and unknown tokens without a second look-up', async () => {
    const { app, store } = await setup();
    const lookUps = vi.spyOn(store, 'findByTokenHash');
    const unknown = `sess_${randomBytes(32).toString('base64url')}`;

    expect(await reasonOf(app.sessions.authenticate('sess_short'))).toBe('malformed');
    expect(lookUps).not.toHaveBeenCalled();
    expect(await reasonOf(app.sessions.authenticate(unknown))).toBe('unknown');
    expect(await reasonOf(app.sessions.authenticate(unknown))).toBe('unknown');
    expect(lookUps).toHaveBeenCalledTimes(1);
  });

  it('slides the idle deadline with use, writing last_seen_at at most once a minute', async () => {
    const { app, store, alice, clock } = await setup();
    const { token, id } = await app.sessions.create(alice.id);
    const touches = vi.spyOn(store, 'touch');

    for (let i = 0; i < 5; i++) {
      clock.advance(10_000);
      await app.sessions.authenticate(token);
    }
    expect(touches).toHaveBeenCalledTimes(0);
    clock.advance(10_000);
    await app.sessions.authenticate(token);
    expect(touches).toHaveBeenCalledTimes(1);
    expect(await store.findById(id)).toMatchObject({ lastSeenAt: new Date(clock.now()) });
    clock.advance(9 * MINUTE + 59_999);
    expect(await reasonOf(app.sessions.authenticate(token))).toBe('accepted');
  });

  it('ends an idle session on its next use, with an expired_idle event', async () => {
    const { app, store, alice, clock, events } = await setup();
    const { token, id } = await app.sessions.create(alice.id);

    clock.advance(10 * MINUTE);

    expect(await reasonOf(app.sessions.authenticate(token))).toBe('expired');
    expect(await store.findById(id)).toMatchObject({ endReason: 'expired_idle', endedAt: new Date(clock.now()) });
    expect(events.ofType('SESSION_ENDED').at(-1)?.details).toMatchObject({ sessionId: id, reason: 'expired_idle' });
    clock.advance(-MINUTE);
    expect(await reasonOf(app.sessions.authenticate(token))).toBe('revoked');
  });

  it('reads the store before refusing on idle: another instance may have kept the session alive', async () => {
    const { app, instance, alice, clock } = await setup();
    const other = instance();
    const { token } = await app.sessions.create(alice.id);
    await app.sessions.authenticate(token);

    for (let i = 0; i < 3; i++) {
      clock.advance(5 * MINUTE);
      expect(await reasonOf(other.sessions.authenticate(token))).toBe('accepted');
    }
    // 15 minutes since `app` last saw it, 0 since `other` did: `app`'s cached row says idle, the store does not.
    expect(await reasonOf(app.sessions.authenticate(token))).toBe('accepted');
  });

  it('ends a session at its absolute expiry whatever its use', async () => {
    const { app, alice, clock, store } = await setup();
    const { token, id } = await app.sessions.create(alice.id);

    for (let i = 0; i < 6; i++) {
      clock.advance(9 * MINUTE);
      await app.sessions.authenticate(token);
    }
    clock.set(Date.UTC(2026, 5, 1, 10) - 1);
    expect(await reasonOf(app.sessions.authenticate(token))).toBe('accepted');
    clock.advance(1);

    expect(await reasonOf(app.sessions.authenticate(token))).toBe('expired');
    expect(await store.findById(id)).toMatchObject({ endReason: 'expired_absolute' });
  });

  it('refuses an ended session on every instance at once, cache or not', async () => {
    const { app, instance, alice } = await setup();
    const other = instance();
    const { token, id } = await app.sessions.create(alice.id);
    await other.sessions.authenticate(token);

    expect(await app.sessions.end(id, 'logout', { principalId: alice.id })).toBe(true);

    expect(await reasonOf(other.sessions.authenticate(token))).toBe('revoked');
    expect(await app.sessions.end(id, 'logout')).toBe(false);
  });

  it('rotates: the old token stops working everywhere, the new one keeps expiry and second factor', async () => {
    const { app, instance, alice, clock, events } = await setup();
    const other = instance();
    const old = await app.sessions.create(alice.id);
    await other.sessions.authenticate(old.token);
    const proved = new Date(clock.now());
    expect(await app.sessions.recordSecondFactor(old.id, proved)).toBe(true);
    expect((await other.sessions.authenticate(old.token)).principal.mfaAt).toEqual(proved);
    clock.advance(MINUTE);

    const fresh = await app.sessions.rotate(old.id, { cause: 'roles_changed' });

    expect(fresh.token).not.toBe(old.token);
    expect(fresh.expiresAt).toEqual(old.expiresAt);
    expect(await reasonOf(other.sessions.authenticate(old.token))).toBe('revoked');
    const { principal } = await other.sessions.authenticate(fresh.token);
    expect(principal).toMatchObject({ sessionId: fresh.id, mfaAt: proved });
    expect(events.ofType('SESSION_ENDED').at(-1)?.details).toMatchObject({
      sessionId: old.id,
      reason: 'rotated',
      cause: 'roles_changed',
      rotatedTo: fresh.id,
    });
    await expect(app.sessions.rotate(old.id)).rejects.toMatchObject({ code: 'ERR_SECURITY_SESSION_NOT_ACTIVE' });
  });

  it('drops cached sessions of a principal whose roles change, on every instance', async () => {
    const { app, instance, alice, principals } = await setup();
    const other = instance();
    const { token } = await app.sessions.create(alice.id);
    expect((await other.sessions.authenticate(token)).principal.roles).toEqual(['viewer']);
    await principals.upsertRole('editor', ['documents:write']);

    await app.people.assignRole(alice.id, 'editor', { label: 'test' });

    expect((await other.sessions.authenticate(token)).principal.roles).toEqual(['editor', 'viewer']);
  });

  it('ends every session of a principal that is disabled', async () => {
    const { app, instance, alice, events } = await setup();
    const other = instance();
    const first = await app.sessions.create(alice.id);
    const second = await app.sessions.create(alice.id);
    await other.sessions.authenticate(first.token);

    const disabled = await app.people.disable(alice.id, { label: 'test' });

    expect(disabled.endedSessions).toEqual([first.id, second.id].sort());
    expect(await reasonOf(other.sessions.authenticate(first.token))).toBe('revoked');
    expect(await reasonOf(app.sessions.authenticate(second.token))).toBe('revoked');
    expect(events.ofType('SESSION_ENDED').map((event) => event.details.reason)).toEqual([
      'principal_disabled',
      'principal_disabled',
    ]);
    await expect(app.sessions.create(alice.id)).rejects.toMatchObject({ code: 'ERR_SECURITY_PRINCIPAL_DISABLED' });
  });

  it('keeps at most maxPerPrincipal sessions, ending the oldest', async () => {
    const { app, alice, clock } = await setup({ sessions: { maxPerPrincipal: 2 } });
    const made = [];
    for (let i = 0; i < 3; i++) {
      made.push(await app.sessions.create(alice.id));
      clock.advance(1_000);
    }

    expect(await reasonOf(app.sessions.authenticate(made[0]!.token))).toBe('revoked');
    for (const session of made.slice(1))
      expect(await reasonOf(app.sessions.authenticate(session.token))).toBe('accepted');
  });

  it('lists active sessions newest first, marks the current one and shows no secret', async () => {
    const { app, alice, clock } = await setup();
    const first = await app.sessions.create(alice.id, request());
    clock.advance(1_000);
    const second = await app.sessions.create(alice.id, request('198.51.100.2'));

    const { items, nextCursor } = await app.sessions.list(alice.id, { currentSessionId: first.id });

    expect(nextCursor).toBeNull();
    expect(items.map((item) => [item.id, item.current, item.ip])).toEqual([
      [second.id, false, '198.51.100.2'],
      [first.id, true, '203.0.113.7'],
    ]);
    expect(JSON.stringify(items)).not.toMatch(/sess_|tokenHash/);
    await expect(app.sessions.list(alice.id, { cursor: 'x' })).rejects.toMatchObject({
      code: 'ERR_SECURITY_INVALID_CURSOR',
    });
    // Well-formed, but times no session has: an invalid Date, or one outside what PostgreSQL stores.
    const uuid = '6f1c2b1e-1111-4111-8111-111111111111';
    for (const time of [Number.MAX_SAFE_INTEGER, -8.64e15, -1]) {
      const cursor = Buffer.from(JSON.stringify([time, uuid])).toString('base64url');
      await expect(app.sessions.list(alice.id, { cursor })).rejects.toMatchObject({
        code: 'ERR_SECURITY_INVALID_CURSOR',
      });
    }
  });

  it('ends an own session only: someone else’s or an ended one is refused the same way', async () => {
    const { app, alice, principals } = await setup();
    const bob = await principals.create({ kind: 'user', username: 'bob' });
    const hers = await app.sessions.create(alice.id);

    expect(await app.sessions.endOwn(bob.id, hers.id, 'ended_by_owner')).toBe(false);
    expect(await app.sessions.endOwn(alice.id, hers.id, 'ended_by_owner')).toBe(true);
    expect(await app.sessions.endOwn(alice.id, hers.id, 'ended_by_owner')).toBe(false);
  });

  it('answers 503 (store unavailable) rather than accepting or failing with a 500 when the store is down', async () => {
    const { app, store, alice } = await setup();
    const { token } = await app.sessions.create(alice.id);
    vi.spyOn(store, 'findByTokenHash').mockRejectedValue(new Error('connection refused'));

    await expect(app.sessions.authenticate(token)).rejects.toBeInstanceOf(SecurityStoreUnavailableError);
  });

  it('is refused when sessions are off', async () => {
    const { app, alice, resolved, store, principals, ring, clock, events } = await setup();
    const off = new Sessions(
      { ...resolved, sessions: false },
      store,
      principals,
      ring,
      new MemorySecurityChangeBus({ logger: quiet }),
      events.asService(),
      clock,
    );
    const { token } = await app.sessions.create(alice.id);

    expect(off.enabled).toBe(false);
    expect(await reasonOf(off.authenticate(token))).toBe('scheme_unsupported');
    await expect(off.create(alice.id)).rejects.toMatchObject({ code: 'ERR_SECURITY_SESSIONS_OFF' });
  });
});

describe('Principals.changePassword', () => {
  it('checks the current password, ends the other sessions and keeps the named one', async () => {
    const { app, alice, events } = await setup();
    const kept = await app.sessions.create(alice.id);
    const other = await app.sessions.create(alice.id);

    await expect(
      app.people.changePassword(alice.id, {
        currentPassword: 'wrong password!',
        newPassword: 'another fine passphrase',
      }),
    ).rejects.toMatchObject({ code: 'ERR_SECURITY_WRONG_PASSWORD', kind: 'invalid' });
    await expect(
      app.people.changePassword(alice.id, { currentPassword: PASSWORD, newPassword: PASSWORD }),
    ).rejects.toMatchObject({ code: 'ERR_SECURITY_WEAK_PASSWORD' });
    expect(await reasonOf(app.sessions.authenticate(other.token))).toBe('accepted');

    const changed = await app.people.changePassword(
      alice.id,
      { currentPassword: PASSWORD, newPassword: 'another fine passphrase' },
      { keepSessionId: kept.id },
    );

    expect(changed).toEqual({ endedSessions: [other.id] });
    expect(await reasonOf(app.sessions.authenticate(other.token))).toBe('revoked');
    expect(await reasonOf(app.sessions.authenticate(kept.token))).toBe('accepted');
    expect(events.ofType('PASSWORD_CHANGED').map((event) => [event.outcome, event.details.reason])).toEqual([
      ['failure', 'wrong_password'],
      ['failure', 'unchanged'],
      ['success', undefined],
    ]);
    await expect(app.people.login('alice', PASSWORD)).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(app.people.login('alice', 'another fine passphrase')).resolves.toEqual({ principalId: alice.id });
  });
});

describe('Logins and the backoff', () => {
  const policy = { sessions: { loginBackoff: { base: '1s', max: '4s', after: 2 } } };
  const loginsOf = async (store: LoginBackoffStore = new MemoryLoginBackoffStore()) => {
    const given = await setup(policy);
    const backoff = new LoginBackoff(given.resolved, store, given.clock);
    const logins = new Logins(given.app.people, given.app.sessions, backoff, given.events.asService());
    return { ...given, logins, backoff };
  };
  const statusOf = (promise: Promise<unknown>) =>
    promise.then(
      () => 200,
      (error: unknown) => ((error as { code?: string }).code === 'ERR_SECURITY_RATE_LIMITED' ? 429 : 401),
    );

  it('backs off per (username, IP) and never per account alone', async () => {
    const { logins, clock } = await loginsOf();
    const attacker = request('198.51.100.66');
    for (let i = 0; i < 2; i++) expect(await statusOf(logins.login('alice', 'nope', attacker))).toBe(401);

    expect(await statusOf(logins.login('alice', PASSWORD, attacker))).toBe(429);
    expect(await statusOf(logins.login('ALICE ', PASSWORD, attacker))).toBe(429);
    expect(await statusOf(logins.login('alice', PASSWORD, request()))).toBe(200);
    clock.advance(1_000);
    expect(await statusOf(logins.login('alice', PASSWORD, attacker))).toBe(200);
  });

  it('names the wait in the 429 and records the refusal as LOGIN_FAILED', async () => {
    const { logins, events } = await loginsOf();
    for (let i = 0; i < 2; i++) await statusOf(logins.login('alice', 'nope', request()));

    await expect(logins.login('alice', PASSWORD, request())).rejects.toMatchObject({
      retryAfterSeconds: 1,
      recorded: true,
      context: { policy: 'login-backoff' },
    });
    expect(events.ofType('LOGIN_FAILED').at(-1)).toMatchObject({ outcome: 'denied', details: { reason: 'backoff' } });
  });

  it('keeps backing off in memory while a shared store fails', async () => {
    const broken = new MemoryLoginBackoffStore();
    vi.spyOn(broken, 'attempt').mockRejectedValue(new Error('redis is down'));
    vi.spyOn(broken, 'reset').mockRejectedValue(new Error('redis is down'));
    const { logins } = await loginsOf(broken);

    for (let i = 0; i < 2; i++) expect(await statusOf(logins.login('alice', 'nope', request()))).toBe(401);
    expect(await statusOf(logins.login('alice', PASSWORD, request()))).toBe(429);
  });
});

describe('SessionAuthenticator', () => {
  it('offers itself for Bearer sess_ tokens only, and refuses a repeated Authorization header', async () => {
    const { app, alice } = await setup();
    const authenticator = new SessionAuthenticator(app.sessions);
    const { token } = await app.sessions.create(alice.id);
    const withAuthorization = (value: string, rawHeaders?: string[]): HttpRequestLike => ({
      headers: { authorization: value },
      ...(rawHeaders ? { rawHeaders } : {}),
    });

    expect(authenticator.present(withAuthorization(`Bearer ${token}`))).toBe(true);
    expect(authenticator.present(withAuthorization(`bearer ${token}`))).toBe(true);
    expect(authenticator.present(withAuthorization('Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig'))).toBe(false);
    expect(authenticator.present(withAuthorization(`Basic ${token}`))).toBe(false);
    expect(authenticator.present({ headers: {} })).toBe(false);

    expect(await authenticator.authenticate(withAuthorization(`Bearer ${token}`))).toMatchObject({ id: alice.id });
    expect(
      await reasonOf(
        authenticator.authenticate(
          withAuthorization(`Bearer ${token}`, ['Authorization', `Bearer ${token}`, 'authorization', 'Bearer x']),
        ),
      ),
    ).toBe('ambiguous');
  });
});
