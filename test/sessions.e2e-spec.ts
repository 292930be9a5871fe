import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Clock, Sessions } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { eventOf } from './support/events.js';
import { createIdentity, type Identity } from './support/identities.js';

const PASSWORD = 'correct horse battery staple 42';
const NEW_PASSWORD = 'a brand new passphrase for this test 7';
const MINUTE = 60_000;
const ATTACKER_IP = '198.51.100.7';

// Bodies are checked field by field, so `any` is the honest type here.
const jsonOf = async (response: Response): Promise<any> => response.json();
const requestIdOf = (response: Response) => response.headers.get('x-request-id')!;

/**
 * Login sessions over HTTP: `POST /login` tokens used as `Authorization: Bearer sess_…`, logout, idle and
 * absolute expiry (the demo's clock is pinned and moved by the test), rotation on privilege changes, the
 * caller's own sessions, the admin route, and the failed-login backoff per (username, IP). The demo runs
 * with a 10 minute idle timeout, a 1 hour absolute one, at most 3 sessions per principal, and a backoff of
 * 1 s doubling to 4 s after 2 failures; one proxy hop is trusted so tests can come from other addresses.
 */
describe.each(ADAPTERS)('login sessions on %s', (adapter) => {
  let server: RunningDemo;
  let admin: Identity;
  let now: number;

  const call = (
    method: string,
    path: string,
    auth: { token?: string; key?: string; ip?: string } = {},
    body?: unknown,
  ) =>
    fetch(`${server.baseUrl}${path}`, {
      method,
      headers: {
        ...(auth.token ? { authorization: `Bearer ${auth.token}` } : {}),
        ...(auth.key ? { 'x-api-key': auth.key } : {}),
        ...(auth.ip ? { 'x-forwarded-for': auth.ip } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const login = (username: string, password = PASSWORD, ip?: string) =>
    call('POST', '/login', { ip }, { username, password });
  /** Logs in and returns the answer's body, failing the test unless it is a 200. */
  const session = async (user: Identity, password = PASSWORD): Promise<{ token: string; expiresAt: string }> => {
    const response = await login(user.username, password);
    expect(response.status).toBe(200);
    return jsonOf(response);
  };
  const me = (token: string) => call('GET', '/me', { token });
  const person = (roles: string[] = ['viewer']) => createIdentity(server.demo.app, roles, { password: PASSWORD });

  beforeAll(async () => {
    server = await startDemo(adapter, {
      SESSION_IDLE_TIMEOUT: '10m',
      SESSION_ABSOLUTE_TIMEOUT: '1h',
      SESSION_MAX_PER_PRINCIPAL: '3',
      LOGIN_BACKOFF_AFTER: '2',
      LOGIN_BACKOFF_BASE: '1s',
      LOGIN_BACKOFF_MAX: '4s',
      TRUST_PROXY: '1',
    });
    now = Math.floor(Date.now() / 1000) * 1000;
    vi.spyOn(server.demo.app.get(Clock), 'now').mockImplementation(() => now);
    admin = await person(['admin']);
  }, 60_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await server?.close();
  });

  it('logs in with a new sess_ token, authenticates GET /me as a session, and logs out (then 401)', async () => {
    const user = await person();
    const response = await login(user.username);
    expect(response.status).toBe(200);
    const body = await jsonOf(response);
    expect(body).toEqual({
      token: expect.stringMatching(/^sess_[A-Za-z0-9_-]{43}$/),
      expiresAt: new Date(now + 60 * MINUTE).toISOString(),
      principalId: user.id,
    });
    // The token is in this answer only: no cache may keep it.
    expect(response.headers.get('cache-control')).toContain('no-store');
    const created = await eventOf(server, 'SESSION_CREATED', requestIdOf(response));
    expect(created).toMatchObject({ principalId: user.id, outcome: 'success', details: { via: 'login' } });
    expect(JSON.stringify(created)).not.toContain(body.token);

    const who = await me(body.token);
    expect(who.status).toBe(200);
    expect(await jsonOf(who)).toMatchObject({
      principalId: user.id,
      authMethod: 'session',
      roles: ['viewer'],
      permissions: expect.arrayContaining(['documents:read', 'items:read', 'users:read']),
      keyId: null,
    });

    const out = await call('POST', '/logout', { token: body.token });
    expect(out.status).toBe(204);
    const ended = await eventOf(server, 'SESSION_ENDED', requestIdOf(out));
    expect(ended).toMatchObject({
      principalId: user.id,
      details: { sessionId: created!.details.sessionId, reason: 'logout' },
    });
    const after = await me(body.token);
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toContain('Bearer realm="api"');
    expect((await call('POST', '/logout', { token: body.token })).status).toBe(401);
  });

  it('refuses POST /logout from an API key (400: only a session logs out)', async () => {
    const user = await person();
    expect((await call('POST', '/logout', { key: user.key })).status).toBe(400);
    expect((await call('GET', '/me', { key: user.key })).status).toBe(200);
  });

  it('ends a session left unused for the idle timeout, and keeps one in use alive', async () => {
    const user = await person();
    const { token } = await session(user);
    // Each use moves the idle deadline: 9 minutes apart, 18 minutes after login, it still works.
    now += 9 * MINUTE;
    expect((await me(token)).status).toBe(200);
    now += 9 * MINUTE;
    expect((await me(token)).status).toBe(200);
    now += 10 * MINUTE;
    const expired = await me(token);
    expect(expired.status).toBe(401);
    expect(await eventOf(server, 'SESSION_ENDED', requestIdOf(expired))).toMatchObject({
      principalId: user.id,
      details: { reason: 'expired_idle' },
    });
    // Ended for good: coming back "in time" does not revive it.
    now -= 5 * MINUTE;
    expect((await me(token)).status).toBe(401);
    now += 5 * MINUTE;
  });

  it('ends a session at its absolute expiry however steadily it is used', async () => {
    const user = await person();
    const { token, expiresAt } = await session(user);
    for (let minute = 9; minute < 60; minute += 9) {
      now += 9 * MINUTE;
      expect((await me(token)).status, `minute ${minute}`).toBe(200);
    }
    now = Date.parse(expiresAt) - 1;
    expect((await me(token)).status).toBe(200);
    now += 1;
    const expired = await me(token);
    expect(expired.status).toBe(401);
    expect(await eventOf(server, 'SESSION_ENDED', requestIdOf(expired))).toMatchObject({
      details: { reason: 'expired_absolute' },
    });
  });

  it('never adopts a token the client brings: a login issues a new one and made-up tokens stay unknown', async () => {
    const user = await person();
    const planted = `sess_${randomBytes(32).toString('base64url')}`;
    const response = await fetch(`${server.baseUrl}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${planted}`, cookie: `session=${planted}` },
      body: JSON.stringify({ username: user.username, password: PASSWORD }),
    });
    expect(response.status).toBe(200);
    const { token } = await jsonOf(response);
    expect(token).not.toBe(planted);
    expect((await me(planted)).status).toBe(401);
    expect((await me(token)).status).toBe(200);

    // Two logins, two independent sessions: ending one leaves the other.
    const second = await session(user);
    expect(second.token).not.toBe(token);
    expect((await call('POST', '/logout', { token })).status).toBe(204);
    expect((await me(second.token)).status).toBe(200);
  });

  it('changes the password: the other sessions end, the current one continues under a new token', async () => {
    const user = await person();
    const current = await session(user);
    const other = await session(user);
    expect((await me(other.token)).status).toBe(200);

    const wrong = await call(
      'POST',
      '/me/password',
      { token: current.token },
      {
        currentPassword: 'not the password at all',
        newPassword: NEW_PASSWORD,
      },
    );
    expect(wrong.status).toBe(400);
    expect(await eventOf(server, 'PASSWORD_CHANGED', requestIdOf(wrong))).toMatchObject({
      outcome: 'failure',
      details: { reason: 'wrong_password' },
    });
    expect((await me(other.token)).status).toBe(200);
    const weak = await call(
      'POST',
      '/me/password',
      { token: current.token },
      { currentPassword: PASSWORD, newPassword: 'short' },
    );
    expect(weak.status).toBe(400);

    const changed = await call(
      'POST',
      '/me/password',
      { token: current.token },
      {
        currentPassword: PASSWORD,
        newPassword: NEW_PASSWORD,
      },
    );
    expect(changed.status).toBe(200);
    const body = await jsonOf(changed);
    expect(body).toEqual({
      endedSessions: 1,
      token: expect.stringMatching(/^sess_/),
      // Rotation keeps the login's absolute expiry.
      expiresAt: current.expiresAt,
      principalId: user.id,
    });
    expect(body.token).not.toBe(current.token);
    expect((await me(current.token)).status).toBe(401);
    expect((await me(other.token)).status).toBe(401);
    expect(await jsonOf(await me(body.token))).toMatchObject({ principalId: user.id, authMethod: 'session' });

    const id = requestIdOf(changed);
    expect(await eventOf(server, 'PASSWORD_CHANGED', id)).toMatchObject({ principalId: user.id, outcome: 'success' });
    const ended = await eventOf(server, 'SESSION_ENDED', id);
    expect(['password_changed', 'rotated']).toContain(ended?.details.reason);
    expect(await eventOf(server, 'SESSION_CREATED', id)).toMatchObject({
      details: { via: 'rotation', cause: 'password_changed' },
    });
    expect((await login(user.username, PASSWORD)).status).toBe(401);
    expect((await login(user.username, NEW_PASSWORD)).status).toBe(200);
  });

  it('lists the caller’s own active sessions without any secret, a page at a time', async () => {
    const user = await person();
    const first = await session(user);
    now += 1_000;
    const second = await session(user);
    const listed = await call('GET', '/sessions', { token: second.token });
    expect(listed.status).toBe(200);
    const body = await jsonOf(listed);
    expect(body.nextCursor).toBeNull();
    expect(body.items).toHaveLength(2);
    for (const item of body.items) {
      expect(Object.keys(item).sort()).toEqual(
        ['createdAt', 'current', 'expiresAt', 'id', 'idleExpiresAt', 'ip', 'lastSeenAt', 'userAgent'].sort(),
      );
    }
    expect(body.items.map((item: any) => item.current)).toEqual([true, false]);
    expect(body.items[0]).toMatchObject({ ip: '127.0.0.1', createdAt: new Date(now).toISOString() });
    const text = JSON.stringify(body);
    for (const { token } of [first, second]) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(createHash('sha256').update(token).digest('hex'));
    }

    const page = await jsonOf(await call('GET', '/sessions?limit=1', { token: first.token }));
    expect(page.items).toHaveLength(1);
    expect(page.items[0].current).toBe(false);
    const rest = await jsonOf(
      await call('GET', `/sessions?limit=1&cursor=${encodeURIComponent(page.nextCursor)}`, { token: first.token }),
    );
    expect(rest).toMatchObject({ items: [{ current: true }], nextCursor: null });
    expect((await call('GET', '/sessions?cursor=not-a-cursor', { token: first.token })).status).toBe(400);
  });

  it('ends the caller’s own session by id, and answers 404 for someone else’s (which keeps working)', async () => {
    const user = await person();
    const stranger = await person();
    const mine = await session(user);
    const spare = await session(user);
    const theirs = await session(stranger);
    const idOf = async (token: string) =>
      (await jsonOf(await call('GET', '/sessions', { token }))).items.find((item: any) => item.current).id as string;
    const theirId = await idOf(theirs.token);
    const spareId = await idOf(spare.token);

    expect((await call('DELETE', `/sessions/${theirId}`, { token: mine.token })).status).toBe(404);
    expect((await call('DELETE', `/sessions/${randomUUID()}`, { token: mine.token })).status).toBe(404);
    expect((await call('DELETE', '/sessions/not-a-uuid', { token: mine.token })).status).toBe(400);
    expect((await me(theirs.token)).status).toBe(200);

    const ended = await call('DELETE', `/sessions/${spareId}`, { token: mine.token });
    expect(ended.status).toBe(204);
    expect(await eventOf(server, 'SESSION_ENDED', requestIdOf(ended))).toMatchObject({
      principalId: user.id,
      details: { sessionId: spareId, reason: 'ended_by_owner' },
    });
    expect((await me(spare.token)).status).toBe(401);
    expect((await me(mine.token)).status).toBe(200);
    expect((await call('DELETE', `/sessions/${spareId}`, { token: mine.token })).status).toBe(404);
  });

  it('lets an administrator (sessions:admin) end any session; others get 403', async () => {
    const user = await person();
    const target = await session(user);
    const id = (await jsonOf(await call('GET', '/sessions', { token: target.token }))).items[0].id;

    expect((await call('DELETE', `/admin/sessions/${id}`, { key: user.key })).status).toBe(403);
    expect((await call('DELETE', `/admin/sessions/${id}`, { token: target.token })).status).toBe(403);
    const ended = await call('DELETE', `/admin/sessions/${id}`, { key: admin.key });
    expect(ended.status).toBe(204);
    expect(await eventOf(server, 'SESSION_ENDED', requestIdOf(ended))).toMatchObject({
      principalId: admin.id,
      details: { sessionId: id, ownerId: user.id, reason: 'ended_by_admin' },
    });
    expect((await me(target.token)).status).toBe(401);
    expect((await call('DELETE', `/admin/sessions/${id}`, { key: admin.key })).status).toBe(404);
  });

  it('ends every session of a disabled principal', async () => {
    const user = await person();
    const { token } = await session(user);
    const disabled = await call('DELETE', `/users/${user.id}`, { key: admin.key });
    expect(disabled.status).toBe(200);
    expect(await jsonOf(disabled)).toMatchObject({ endedSessions: [expect.any(String)] });
    expect(await eventOf(server, 'SESSION_ENDED', requestIdOf(disabled))).toMatchObject({
      details: { ownerId: user.id, reason: 'principal_disabled' },
    });
    expect((await me(token)).status).toBe(401);
  });

  it('keeps at most 3 sessions per principal: a 4th login ends the oldest', async () => {
    const user = await person();
    const tokens: string[] = [];
    for (let i = 0; i < 4; i++) {
      tokens.push((await session(user)).token);
      now += 1_000;
    }
    expect((await me(tokens[0]!)).status).toBe(401);
    for (const token of tokens.slice(1)) expect((await me(token)).status).toBe(200);
  });

  it('gives a session that changes its own roles a new token in that answer, keeping its second factor', async () => {
    const boss = await person(['admin']);
    const old = await session(boss);
    const sessionId = (await jsonOf(await call('GET', '/sessions', { token: old.token }))).items[0].id;
    // Role changes need a recent second factor; MFA records it on the session through this call.
    expect(await server.demo.app.get(Sessions).recordSecondFactor(sessionId)).toBe(true);

    const assigned = await call('POST', '/admin/roles/editor/members', { token: old.token }, { principalId: boss.id });
    expect(assigned.status).toBe(200);
    const body = await jsonOf(assigned);
    expect(body).toMatchObject({ principalId: boss.id, role: 'editor', assigned: true });
    expect(body.session).toEqual({ token: expect.stringMatching(/^sess_/), expiresAt: old.expiresAt });
    expect((await me(old.token)).status).toBe(401);
    expect(await jsonOf(await me(body.session.token))).toMatchObject({ roles: ['admin', 'editor'] });
    expect(await eventOf(server, 'SESSION_ENDED', requestIdOf(assigned))).toMatchObject({
      details: { sessionId, reason: 'rotated', cause: 'roles_changed' },
    });

    // The new session carries the second factor over: the next role change needs no new proof.
    const revoked = await call('DELETE', `/admin/roles/editor/members/${boss.id}`, { token: body.session.token });
    expect(revoked.status).toBe(200);
    const second = await jsonOf(revoked);
    expect(second).toMatchObject({ revoked: true, session: { token: expect.stringMatching(/^sess_/) } });
    expect((await me(body.session.token)).status).toBe(401);

    // A change to someone else's roles rotates nothing.
    const other = await person();
    const forOther = await call(
      'POST',
      '/admin/roles/editor/members',
      { token: second.session.token },
      {
        principalId: other.id,
      },
    );
    expect(forOther.status).toBe(200);
    expect((await jsonOf(forOther)).session).toBeUndefined();
    expect((await me(second.session.token)).status).toBe(200);
  });

  it('documents the session scheme and routes in the OpenAPI document', async () => {
    const document = await jsonOf(await call('GET', '/docs-json'));
    expect(document.components.securitySchemes.Session).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/login',
        '/logout',
        '/sessions',
        '/sessions/{id}',
        '/admin/sessions/{id}',
        '/me/password',
      ]),
    );
  });

  describe('failed-login backoff per (username, IP)', () => {
    it('refuses further attempts with 429 and a Retry-After that doubles up to its cap, then lets the owner in', async () => {
      const user = await person();
      const fail = () => login(user.username, 'wrong horse battery staple');
      const expectWait = async (response: Response, seconds: number) => {
        expect(response.status).toBe(429);
        expect(response.headers.get('retry-after')).toBe(String(seconds));
        expect((await jsonOf(response)).retry_after).toBe(seconds);
      };

      expect((await fail()).status).toBe(401);
      expect((await fail()).status).toBe(401);
      // Right password, but the pair backs off: refused without being checked.
      const refused = await login(user.username);
      await expectWait(refused, 1);
      expect(await eventOf(server, 'LOGIN_FAILED', requestIdOf(refused))).toMatchObject({
        outcome: 'denied',
        details: { reason: 'backoff', retryAfterSeconds: 1 },
      });
      now += 1_000;
      expect((await fail()).status).toBe(401);
      await expectWait(await fail(), 2);
      now += 2_000;
      expect((await fail()).status).toBe(401);
      await expectWait(await fail(), 4);
      now += 4_000;
      expect((await fail()).status).toBe(401);
      // Capped: 8 s would be next, the cap is 4 s.
      await expectWait(await login(user.username), 4);
      now += 3_999;
      await expectWait(await login(user.username), 1);
      now += 1;
      expect((await login(user.username)).status).toBe(200);
      // The success reset the count: two failures again before any wait.
      expect((await fail()).status).toBe(401);
      expect((await fail()).status).toBe(401);
      await expectWait(await fail(), 1);
    });

    it('does not let failures from another address lock the owner out', async () => {
      const victim = await person();
      const attack = () => login(victim.username, 'guessing from elsewhere', ATTACKER_IP);
      expect((await attack()).status).toBe(401);
      expect((await attack()).status).toBe(401);
      expect((await attack()).status).toBe(429);
      // The attacker is held back, even with the right password; the owner, from their own address, is not.
      expect((await login(victim.username, PASSWORD, ATTACKER_IP)).status).toBe(429);
      const owner = await login(victim.username);
      expect(owner.status).toBe(200);
      expect((await jsonOf(owner)).principalId).toBe(victim.id);
      expect((await login(victim.username, PASSWORD, '203.0.113.20')).status).toBe(200);
      // Another account from the attacker's address is not affected either.
      const bystander = await person();
      expect((await login(bystander.username, PASSWORD, ATTACKER_IP)).status).toBe(200);
    });
  });
});
