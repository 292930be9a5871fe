import pg from 'pg';
import { Clock, SecurityEvents } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { createIdentity, type Identity } from './support/identities.js';
import { testDatabase, type TestDatabase } from './support/services.js';

// Bodies are checked field by field, so `any` is the honest type here.
const jsonOf = async (response: Response): Promise<any> => response.json();

/** `"ip";r=9;t=0, "principal";r=2;t=0` → { ip: { r: 9, t: 0 }, principal: { r: 2, t: 0 } }. */
function parseList(header: string | null, first: string, second: string): Record<string, Record<string, number>> {
  expect(header).toBeTruthy();
  const items: Record<string, Record<string, number>> = {};
  for (const item of header!.split(', ')) {
    const match = new RegExp(`^"([a-z0-9_-]+)";${first}=(\\d+);${second}=(\\d+)$`).exec(item);
    expect(match, `${item} in ${header}`).not.toBeNull();
    items[match![1]!] = { [first]: Number(match![2]), [second]: Number(match![3]) };
  }
  return items;
}
const stateOf = (response: Response) => parseList(response.headers.get('ratelimit'), 'r', 't');
const policiesOf = (response: Response) => parseList(response.headers.get('ratelimit-policy'), 'q', 'w');

/** X-RateLimit-* as numbers. */
function legacyOf(response: Response): { limit: number; remaining: number; reset: number } {
  return {
    limit: Number(response.headers.get('x-ratelimit-limit')),
    remaining: Number(response.headers.get('x-ratelimit-remaining')),
    reset: Number(response.headers.get('x-ratelimit-reset')),
  };
}

/** A 429 problem whose `retry_after` is a whole number of seconds ≥ 1, equal to `Retry-After`. */
async function expectRefusal(response: Response): Promise<number> {
  expect(response.status).toBe(429);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = await jsonOf(response);
  expect(body.status).toBe(429);
  expect(Number.isInteger(body.retry_after)).toBe(true);
  expect(body.retry_after).toBeGreaterThanOrEqual(1);
  expect(response.headers.get('retry-after')).toBe(String(body.retry_after));
  return body.retry_after as number;
}

/**
 * Boots a demo whose Clock is pinned 1 s into a fresh hour (so 60 s and 300 s windows all start
 * together and no window boundary falls inside a test); `fresh()` moves it on by an hour, which empties
 * every counter without waiting.
 */
async function startPinned(
  adapter: (typeof ADAPTERS)[number],
  env: NodeJS.ProcessEnv,
  options: { database?: TestDatabase } = {},
) {
  const server = await startDemo(adapter, env, options);
  const clock = { now: Math.floor(Date.now() / 3_600_000) * 3_600_000 + 1_000 };
  vi.spyOn(server.demo.app.get(Clock), 'now').mockImplementation(() => clock.now);
  return {
    server,
    clock,
    fresh: () => {
      clock.now += 3_600_000;
    },
  };
}

const LOGIN_PASSWORD = 'correct horse battery staple 42';

describe.each(ADAPTERS)('rate limits over HTTP on %s', (adapter) => {
  describe('IP 10/60s, principal 3/10s, login 5/300s, no trusted proxy', () => {
    let server: RunningDemo;
    let fresh: () => void;
    let clock: { now: number };
    let viewer: Identity;

    beforeAll(async () => {
      ({ server, fresh, clock } = await startPinned(adapter, {
        RATE_LIMIT_IP: '10/60s',
        RATE_LIMIT_PRINCIPAL: '3/10s',
        RATE_LIMIT_LOGIN: '5/300s',
        // Five failed logins of one user from one IP in a row: the (username, IP) backoff of sessions would
        // refuse the 3rd on; this suite is about the login rate limit (test/sessions.e2e-spec.ts: the backoff).
        LOGIN_BACKOFF_AFTER: 'off',
      }));
      viewer = await createIdentity(server.demo.app, ['viewer'], { password: LOGIN_PASSWORD });
    }, 60_000);
    afterAll(async () => {
      await server?.close();
    });
    beforeEach(() => fresh());

    const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.baseUrl}${path}`, { headers });
    const login = (username: string, password: string) =>
      fetch(`${server.baseUrl}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });

    it('counts down in RateLimit and X-RateLimit-* alike on a public route, then refuses with a 429 problem', async () => {
      for (let call = 1; call <= 10; call++) {
        const response = await get('/health');
        expect(response.status).toBe(200);
        expect(response.headers.get('ratelimit-policy')).toBe('"ip";q=10;w=60');
        const { ip } = stateOf(response);
        expect(ip!.r).toBe(10 - call);
        expect(legacyOf(response)).toEqual({ limit: 10, remaining: 10 - call, reset: ip!.t });
      }
      const refused = await get('/health');
      const retryAfter = await expectRefusal(refused);
      expect(refused.headers.get('ratelimit-policy')).toBe('"ip";q=10;w=60');
      const { ip } = stateOf(refused);
      expect(ip!.r).toBe(0);
      expect(ip!.t).toBeGreaterThanOrEqual(1);
      expect(legacyOf(refused)).toEqual({ limit: 10, remaining: 0, reset: ip!.t });
      // Nothing has moved on: a refused call does not reset or extend anything.
      expect(await expectRefusal(await get('/health'))).toBe(retryAfter);
    });

    it('lists "ip" and "principal" on an authenticated route; X-RateLimit-* follow the one with least remaining', async () => {
      for (let call = 1; call <= 3; call++) {
        const response = await get('/me', { 'x-api-key': viewer.key });
        expect(response.status).toBe(200);
        expect(policiesOf(response)).toEqual({ ip: { q: 10, w: 60 }, principal: { q: 3, w: 10 } });
        const state = stateOf(response);
        expect(Object.keys(state)).toEqual(['ip', 'principal']);
        expect(state.ip!.r).toBe(10 - call);
        expect(state.principal!.r).toBe(3 - call);
        expect(legacyOf(response)).toEqual({ limit: 3, remaining: 3 - call, reset: state.principal!.t });
      }
      const refused = await get('/me', { 'x-api-key': viewer.key });
      await expectRefusal(refused);
      expect(policiesOf(refused)).toEqual({ ip: { q: 10, w: 60 }, principal: { q: 3, w: 10 } });
      const state = stateOf(refused);
      expect(state.principal!.r).toBe(0);
      expect(state.ip!.r).toBeGreaterThan(0);
      expect(legacyOf(refused)).toEqual({ limit: 3, remaining: 0, reset: state.principal!.t });
    });

    it('gives a Retry-After after which the call passes, even when another policy ran out on the refused call', async () => {
      for (let call = 1; call <= 6; call++) expect((await get('/health')).status).toBe(200);
      for (let call = 1; call <= 3; call++) expect((await get('/me', { 'x-api-key': viewer.key })).status).toBe(200);
      // The principal refuses; the IP policy let this call through, but it was its last.
      const refused = await get('/me', { 'x-api-key': viewer.key });
      const retryAfter = await expectRefusal(refused);
      const state = stateOf(refused);
      expect(state.principal!.r).toBe(0);
      expect(state.ip!.r).toBe(0);
      expect(retryAfter).toBeGreaterThanOrEqual(Math.max(state.ip!.t, state.principal!.t));
      expect(legacyOf(refused)).toEqual({ limit: 10, remaining: 0, reset: state.ip!.t });

      clock.now += retryAfter * 1000;
      const later = await get('/me', { 'x-api-key': viewer.key });
      expect(later.status).toBe(200);
    });

    it('counts a 401 (bad key) against the IP policy and says so in its headers', async () => {
      for (let call = 1; call <= 10; call++) {
        const response = await get('/me', { 'x-api-key': `nas_live_${'x'.repeat(40)}${call}` });
        expect(response.status).toBe(401);
        expect(response.headers.get('ratelimit-policy')).toBe('"ip";q=10;w=60');
        expect(stateOf(response).ip!.r).toBe(10 - call);
        expect(legacyOf(response).remaining).toBe(10 - call);
      }
      // Bad keys used up the budget: the next call is refused before its key is even looked at.
      await expectRefusal(await get('/me', { 'x-api-key': viewer.key }));
    });

    it('refuses the 6th login within 300 s, failed logins included, and names the "login" policy', async () => {
      for (let attempt = 1; attempt <= 5; attempt++) {
        const response = await login(viewer.username, 'wrong password, not this one');
        expect(response.status).toBe(401);
        expect(response.headers.get('ratelimit-policy')).toContain('"login";q=5;w=300');
        expect(stateOf(response).login!.r).toBe(5 - attempt);
      }
      // The right password now: still refused, because the five failures counted.
      const refused = await login(viewer.username, LOGIN_PASSWORD);
      await expectRefusal(refused);
      expect(policiesOf(refused)).toEqual({ ip: { q: 10, w: 60 }, login: { q: 5, w: 300 } });
      expect(stateOf(refused).login!.r).toBe(0);
      expect(stateOf(refused).ip!.r).toBeGreaterThan(0);
      expect(legacyOf(refused)).toMatchObject({ limit: 5, remaining: 0 });

      fresh();
      const later = await login(viewer.username, LOGIN_PASSWORD);
      expect(later.status).toBe(200);
      expect((await jsonOf(later)).principalId).toBe(viewer.id);
    });

    it('does not let a client reset its IP counter with a made-up X-Forwarded-For', async () => {
      for (let call = 1; call <= 10; call++) {
        const response = await get('/health', { 'x-forwarded-for': `203.0.113.${call}` });
        expect(response.status).toBe(200);
        expect(stateOf(response).ip!.r).toBe(10 - call);
      }
      await expectRefusal(await get('/health', { 'x-forwarded-for': '198.51.100.99' }));
      await expectRefusal(await get('/health', { 'x-forwarded-for': '2001:db8::1' }));
    });
  });

  describe('IP 5/60s behind a trusted proxy (TRUST_PROXY=127.0.0.1)', () => {
    let server: RunningDemo;
    let fresh: () => void;

    beforeAll(async () => {
      ({ server, fresh } = await startPinned(adapter, { RATE_LIMIT_IP: '5/60s', TRUST_PROXY: '127.0.0.1' }));
    }, 60_000);
    afterAll(async () => {
      await server?.close();
    });
    beforeEach(() => fresh());

    const health = (forwardedFor?: string) =>
      fetch(`${server.baseUrl}/health`, { headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} });

    it('counts each forwarded client on its own', async () => {
      for (let call = 1; call <= 5; call++) {
        const response = await health('198.51.100.7');
        expect(response.status).toBe(200);
        expect(stateOf(response).ip!.r).toBe(5 - call);
      }
      await expectRefusal(await health('198.51.100.7'));

      const other = await health('198.51.100.8');
      expect(other.status).toBe(200);
      expect(stateOf(other).ip!.r).toBe(4);
      // The proxy's own address is another client again; the exhausted one stays refused.
      const direct = await health();
      expect(direct.status).toBe(200);
      expect(stateOf(direct).ip!.r).toBe(4);
      await expectRefusal(await health('198.51.100.7'));
      // Only the hop the trusted proxy appended counts: what the client put before it is ignored.
      await expectRefusal(await health('203.0.113.50, 198.51.100.7'));
    });

    it('counts IPv6 clients by their /64', async () => {
      for (let call = 1; call <= 5; call++) expect((await health(`2001:db8:1:2::${call}`)).status).toBe(200);
      // Another address of the same /64 (another spelling too): the same client.
      await expectRefusal(await health('2001:DB8:1:2:ffff:0:0:9'));
      const neighbour = await health('2001:db8:1:3::1');
      expect(neighbour.status).toBe(200);
      expect(stateOf(neighbour).ip!.r).toBe(4);
    });
  });

  describe('principal policy off (RATE_LIMIT_PRINCIPAL=off), IP unlimited', () => {
    let server: RunningDemo;
    let fresh: () => void;

    beforeAll(async () => {
      ({ server, fresh } = await startPinned(adapter, { RATE_LIMIT_PRINCIPAL: 'off' }));
    }, 60_000);
    afterAll(async () => {
      await server?.close();
    });
    beforeEach(() => fresh());

    const me = (key: string) => fetch(`${server.baseUrl}/me`, { headers: { 'x-api-key': key } });

    it('still applies a limit stored with a key, and leaves keys without one unlimited', async () => {
      const limited = await createIdentity(server.demo.app, ['viewer'], { rateLimit: '2/60s' });
      const plain = await createIdentity(server.demo.app, ['viewer']);
      for (let call = 1; call <= 2; call++) {
        const response = await me(limited.key);
        expect(response.status).toBe(200);
        expect(policiesOf(response).principal).toEqual({ q: 2, w: 60 });
      }
      await expectRefusal(await me(limited.key));
      for (let call = 1; call <= 5; call++) {
        const response = await me(plain.key);
        expect(response.status).toBe(200);
        expect(policiesOf(response).principal).toBeUndefined();
      }
    });
  });

  describe('principal 3/60s, login 3/60s, IP unlimited', () => {
    let database: TestDatabase;
    let server: RunningDemo;
    let closed = false;
    let fresh: () => void;
    let clock: { now: number };
    let admin: Identity;

    beforeAll(async () => {
      // The database outlives the app, so the last test can read what was written at shutdown.
      database = await testDatabase();
      ({ server, fresh, clock } = await startPinned(
        adapter,
        { RATE_LIMIT_PRINCIPAL: '3/60s', RATE_LIMIT_LOGIN: '3/60s' },
        { database },
      ));
      // The admin's own calls are limited too: its key carries a generous limit of its own.
      admin = await createIdentity(server.demo.app, ['admin'], { rateLimit: '1000/60s' });
    }, 60_000);
    afterAll(async () => {
      if (!closed) await server?.close();
      await database?.drop();
    });
    beforeEach(() => fresh());

    const me = (key: string) => fetch(`${server.baseUrl}/me`, { headers: { 'x-api-key': key } });

    it('limits one principal without limiting another', async () => {
      const a = await createIdentity(server.demo.app, ['viewer']);
      const b = await createIdentity(server.demo.app, ['viewer']);
      for (let call = 1; call <= 3; call++) expect((await me(a.key)).status).toBe(200);
      await expectRefusal(await me(a.key));
      const other = await me(b.key);
      expect(other.status).toBe(200);
      expect(stateOf(other).principal!.r).toBe(2);
      await expectRefusal(await me(a.key));
    });

    it('counts a key created with its own rateLimit on its own, leaving the owner’s other key alone', async () => {
      const owner = await createIdentity(server.demo.app, ['viewer']);
      const created = await fetch(`${server.baseUrl}/admin/keys`, {
        method: 'POST',
        headers: { 'x-api-key': admin.key, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'limited', owner: owner.id, rateLimit: '2/60s' }),
      });
      expect(created.status).toBe(201);
      const limited = await jsonOf(created);
      expect(limited.rateLimit).toBe('2/60s');

      for (let call = 1; call <= 2; call++) {
        const response = await me(limited.key);
        expect(response.status).toBe(200);
        expect(policiesOf(response).principal).toEqual({ q: 2, w: 60 });
        expect(stateOf(response).principal!.r).toBe(2 - call);
      }
      await expectRefusal(await me(limited.key));

      const usual = await me(owner.key);
      expect(usual.status).toBe(200);
      expect(policiesOf(usual).principal).toEqual({ q: 3, w: 60 });
      expect(stateOf(usual).principal!.r).toBe(2);
    });

    const login = (username = 'nobody-here') =>
      fetch(`${server.baseUrl}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: 'not a password at all' }),
      });

    it('writes one RATE_LIMIT_EXCEEDED for many refusals, then one summary when the window is over', async () => {
      const since = new Date(clock.now).toISOString();
      const loginEvents = async (): Promise<any[]> => {
        await server.demo.app.get(SecurityEvents).flush();
        const response = await fetch(
          `${server.baseUrl}/admin/audit?type=RATE_LIMIT_EXCEEDED&since=${encodeURIComponent(since)}&limit=500`,
          { headers: { 'x-api-key': admin.key } },
        );
        expect(response.status).toBe(200);
        const { items } = await jsonOf(response);
        return (items as any[]).filter((event) => event.details.policy === 'login');
      };

      for (let attempt = 1; attempt <= 3; attempt++) expect((await login()).status).toBe(401);
      for (let refusal = 1; refusal <= 4; refusal++) await expectRefusal(await login());

      const first = await loginEvents();
      expect(first).toHaveLength(1);
      expect(first[0]).toMatchObject({ type: 'RATE_LIMIT_EXCEEDED', outcome: 'denied', status: 429 });
      expect(first[0].details).toMatchObject({ policy: 'login', limit: 3, windowSeconds: 60 });
      expect(first[0].details.summary).toBeUndefined();

      // The window passes: the other three refusals come as one summary (written within a second or so).
      clock.now += 60_000;
      let events: any[] = [];
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline) {
        events = await loginEvents();
        if (events.length > 1) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(events).toHaveLength(2);
      const summary = events.find((event) => event.details.summary === true);
      expect(summary?.details).toMatchObject({ policy: 'login', refused: 3, counter: first[0].details.counter });
    });

    // Last: it closes the app.
    it('writes the summary of refusals still pending when the app shuts down', async () => {
      for (let attempt = 1; attempt <= 3; attempt++) expect((await login('shutdown-probe')).status).toBe(401);
      for (let refusal = 1; refusal <= 3; refusal++) await expectRefusal(await login('shutdown-probe'));
      closed = true;
      await server.close();

      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ details: any; at: Date }>(
          `SELECT details, at FROM audit_events WHERE type = 'RATE_LIMIT_EXCEEDED' AND at >= $1 ORDER BY seq`,
          [new Date(clock.now)],
        );
        expect(rows.map((row) => row.details)).toEqual([
          expect.objectContaining({ policy: 'login', limit: 3 }),
          expect.objectContaining({ policy: 'login', summary: true, refused: 2 }),
        ]);
        expect(rows[0]!.details.summary).toBeUndefined();
      } finally {
        await client.end();
      }
    });
  });
});
