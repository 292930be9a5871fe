import { DataSource } from 'typeorm';
import { Clock, DeprecationUsage } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { eventOf } from './support/events.js';
import { createIdentity, type Identity } from './support/identities.js';
import { buildDemo, runCliProcess } from './support/processes.js';

// Bodies are checked field by field, so `any` is the honest type here.
const jsonOf = async (response: Response): Promise<any> => response.json();

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// The lifecycle of v1, whole hours around the time the suite runs. The demo's Clock is pinned to one
// instant per phase; principals are created now, so after closedToNewClientsAt: "new clients".
const T0 = Math.floor(Date.now() / HOUR) * HOUR;
const DEPRECATED_AT = T0 - 10 * DAY;
const WARNING_FROM = T0 - 8 * DAY;
const CLOSED_AT = T0 - 6 * DAY;
const BROWNOUT_START = T0 - 4 * DAY;
const BROWNOUT_END = BROWNOUT_START + HOUR;
const SUNSET_AT = T0 - 2 * DAY;
const LINK = 'https://docs.example.com/migrate-to-v2';
const iso = (ms: number) => new Date(ms).toISOString();

/** One instant inside each phase, in lifecycle order. */
const PHASES = {
  announced: DEPRECATED_AT - DAY,
  deprecated: DEPRECATED_AT + HOUR,
  warning: WARNING_FROM + HOUR,
  closed: CLOSED_AT + HOUR,
  brownout: BROWNOUT_START + 10 * 60_000,
  gone: SUNSET_AT + HOUR,
} as const;
type Phase = keyof typeof PHASES;

// Written out by hand (not with the library's formatters), so a formatting bug cannot hide here.
const SUNSET_IMF = new Date(SUNSET_AT).toUTCString();
const EXPECTED_LIFECYCLE_HEADERS = {
  deprecation: `@${DEPRECATED_AT / 1000}`,
  sunset: SUNSET_IMF,
  link:
    `<${LINK}>; rel="deprecation"; type="text/html", <${LINK}>; rel="sunset"; type="text/html", ` +
    `</v2/items>; rel="successor-version"`,
};
const WARNING_BEFORE_SUNSET = `299 - "This API is deprecated and will be removed on ${SUNSET_IMF}; use /v2/items; see ${LINK}"`;
const WARNING_AFTER_SUNSET = `299 - "This API was removed on ${SUNSET_IMF}; use /v2/items; see ${LINK}"`;

const V1_ENV = {
  V1_DEPRECATED_AT: iso(DEPRECATED_AT),
  V1_WARNING_FROM: iso(WARNING_FROM),
  V1_CLOSED_TO_NEW_CLIENTS_AT: iso(CLOSED_AT),
  V1_BROWNOUTS: `${iso(BROWNOUT_START)}/${iso(BROWNOUT_END)}`,
  V1_SUNSET_AT: iso(SUNSET_AT),
  V1_DEPRECATION_LINK: LINK,
};

function lifecycleHeadersOf(response: Response) {
  return {
    deprecation: response.headers.get('deprecation'),
    sunset: response.headers.get('sunset'),
    link: response.headers.get('link'),
  };
}

async function expectProblem(response: Response, status: number, slug: string): Promise<any> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = await jsonOf(response);
  expect(body).toMatchObject({ status, type: expect.stringMatching(new RegExp(`[:/]${slug}$`)) });
  return body;
}

describe.each(ADAPTERS)('API version lifecycle over HTTP on %s', (adapter) => {
  let server: RunningDemo;
  const clock = { now: PHASES.announced };
  /** Created before the closing date (backdated): an existing client. */
  let existing: Identity;
  /** Created after it: a new client. */
  let newcomer: Identity;
  /** Authenticated, without `items:read`. */
  let outsider: Identity;

  const get = (path: string, key?: string) =>
    fetch(`${server.baseUrl}${path}`, { headers: key ? { 'x-api-key': key } : {} });
  const at = (phase: Phase) => {
    clock.now = PHASES[phase];
  };

  beforeAll(async () => {
    server = await startDemo(adapter, V1_ENV);
    vi.spyOn(server.demo.app.get(Clock), 'now').mockImplementation(() => clock.now);
    existing = await createIdentity(server.demo.app, ['viewer']);
    newcomer = await createIdentity(server.demo.app, ['viewer']);
    outsider = await createIdentity(server.demo.app, []);
    // Before any request, so no cache holds the old creation time.
    await server.demo.app
      .get(DataSource)
      .query(`UPDATE principals SET created_at = $1 WHERE id = $2`, [iso(CLOSED_AT - 30 * DAY), existing.id]);
  }, 60_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await server?.close();
  });

  describe('each phase, with the exact headers and statuses', () => {
    it('announced: 200 with Deprecation (a date ahead), Sunset and Link, no Warning, nothing counted', async () => {
      at('announced');
      const response = await get('/v1/items', existing.key);

      expect(response.status).toBe(200);
      expect(lifecycleHeadersOf(response)).toEqual(EXPECTED_LIFECYCLE_HEADERS);
      expect(response.headers.get('warning')).toBeNull();
      const report = await server.demo.app.get(DeprecationUsage).report();
      expect(report.routes).toEqual([]);
    });

    it('deprecated: 200 with the same headers and no Warning', async () => {
      at('deprecated');
      const response = await get('/v1/items', newcomer.key);

      expect(response.status).toBe(200);
      expect(lifecycleHeadersOf(response)).toEqual(EXPECTED_LIFECYCLE_HEADERS);
      expect(response.headers.get('warning')).toBeNull();
      expect((await jsonOf(response)).items[0]).toEqual({ id: 1, name: 'widget' });
    });

    it('warning: 200 with Warning: 299 naming the sunset date, the successor and the guide', async () => {
      at('warning');
      const response = await get('/v1/items', newcomer.key);

      expect(response.status).toBe(200);
      expect(lifecycleHeadersOf(response)).toEqual(EXPECTED_LIFECYCLE_HEADERS);
      expect(response.headers.get('warning')).toBe(WARNING_BEFORE_SUNSET);
    });

    it('closed to new clients: an existing client gets 200, a new one a 403 problem pointing to v2', async () => {
      at('closed');
      const old = await get('/v1/items', existing.key);
      const fresh = await get('/v1/items', newcomer.key);

      expect(old.status).toBe(200);
      expect(old.headers.get('warning')).toBe(WARNING_BEFORE_SUNSET);
      const body = await expectProblem(fresh, 403, 'deprecated-closed');
      expect(body.successor).toBe('/v2/items');
      expect(lifecycleHeadersOf(fresh)).toEqual(EXPECTED_LIFECYCLE_HEADERS);
      expect(fresh.headers.get('warning')).toBe(WARNING_BEFORE_SUNSET);
    });

    it('brownout: 410 for every client, with Retry-After until the window ends', async () => {
      at('brownout');
      const expectedRetry = String((BROWNOUT_END - PHASES.brownout) / 1000);

      for (const client of [existing, newcomer]) {
        const response = await get('/v1/items', client.key);
        const body = await expectProblem(response, 410, 'gone');
        expect(body.successor).toBe('/v2/items');
        expect(response.headers.get('retry-after')).toBe(expectedRetry);
        expect(body.retry_after).toBe(Number(expectedRetry));
        expect(lifecycleHeadersOf(response)).toEqual(EXPECTED_LIFECYCLE_HEADERS);
      }
      // The brownout ends at its end instant: the closed phase again.
      clock.now = BROWNOUT_END;
      expect((await get('/v1/items', existing.key)).status).toBe(200);
    });

    it('after the sunset: 410 Gone without Retry-After, for existing clients too', async () => {
      at('gone');
      const response = await get('/v1/items', existing.key);

      const body = await expectProblem(response, 410, 'gone');
      expect(body.successor).toBe('/v2/items');
      expect(body.retry_after).toBeUndefined();
      expect(response.headers.get('retry-after')).toBeNull();
      expect(lifecycleHeadersOf(response)).toEqual(EXPECTED_LIFECYCLE_HEADERS);
      expect(response.headers.get('warning')).toBe(WARNING_AFTER_SUNSET);
    });

    it('v2 and unversioned routes carry no lifecycle headers in any phase', async () => {
      for (const phase of Object.keys(PHASES) as Phase[]) {
        at(phase);
        for (const path of ['/v2/items', '/me']) {
          const response = await get(path, newcomer.key);
          expect(response.status, `${path} in ${phase}`).toBe(200);
          expect(response.headers.get('deprecation'), `${path} in ${phase}`).toBeNull();
          expect(response.headers.get('sunset')).toBeNull();
          expect(response.headers.get('warning')).toBeNull();
        }
      }
    });
  });

  describe('authentication still comes first', () => {
    it.each(['closed', 'brownout', 'gone'] as const)('%s: no credentials → 401, a bad key → 401', async (phase) => {
      at(phase);
      const anonymous = await get('/v1/items');
      const badKey = await get('/v1/items', 'sk_live_not-a-key');

      await expectProblem(anonymous, 401, 'unauthenticated');
      await expectProblem(badKey, 401, 'unauthenticated');
      expect(anonymous.headers.get('deprecation')).toBeNull();
    });
  });

  describe('every version protected alike', () => {
    beforeAll(() => at('warning'));

    it.each(['/v1/items', '/v2/items'])('%s: 401 without a key, 403 without items:read', async (path) => {
      await expectProblem(await get(path), 401, 'unauthenticated');
      await expectProblem(await get(path, outsider.key), 403, 'forbidden');
    });

    it.each(['/v1/items', '/v2/items'])('%s: rate-limit and security headers on answers', async (path) => {
      const response = await get(path, existing.key);

      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit')).toMatch(/"principal";r=\d+;t=\d+/);
      expect(response.headers.get('ratelimit-policy')).toMatch(/"ip";q=\d+;w=\d+/);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('x-request-id')).toBeTruthy();
    });

    it.each(['/v1/items', '/v2/items'])('%s: the same query validation', async (path) => {
      const two = await get(`${path}?limit=2`, existing.key);
      expect(two.status).toBe(200);
      expect((await jsonOf(two)).items).toHaveLength(2);

      for (const query of ['limit=0', 'limit=101', 'limit=1e1', 'limit=abc']) {
        const body = await expectProblem(await get(`${path}?${query}`, existing.key), 400, 'invalid-request');
        expect(body.invalid_params.map((param: { name: string }) => param.name)).toContain('limit');
      }
      const unknown = await expectProblem(await get(`${path}?sort=name`, existing.key), 400, 'invalid-request');
      expect(unknown.invalid_params).toEqual([{ name: 'sort', reason: 'is not an accepted field' }]);
    });

    it('v1 and v2 answer different shapes', async () => {
      const v1 = await jsonOf(await get('/v1/items', existing.key));
      const v2 = await jsonOf(await get('/v2/items', existing.key));

      expect(v1).toEqual({
        items: [
          { id: 1, name: 'widget' },
          { id: 2, name: 'gadget' },
          { id: 3, name: 'gizmo' },
        ],
        nextCursor: null,
      });
      expect(v2.items[0]).toEqual({ id: 1, name: 'widget', priceCents: 1250, updatedAt: '2026-01-15T09:30:00.000Z' });
      expect(v2.nextCursor).toBeNull();
    });

    it('an unknown version or an unversioned path is a 404 problem', async () => {
      for (const path of ['/v3/items', '/items', '/v0/items']) {
        await expectProblem(await get(path, existing.key), 404, 'not-found');
      }
    });
  });

  describe('who still calls', () => {
    it('writes DEPRECATED_CALL events: success for answered calls, denied for refusals', async () => {
      // A phase not seen before by this principal and key, so the throttle lets the event through.
      at('deprecated');
      clock.now += 2 * HOUR;
      const outsiderCall = await get('/v1/items', outsider.key);
      at('closed');
      clock.now += 2 * HOUR;
      const refused = await get('/v1/items', outsider.key);

      const answered = await eventOf(server, 'DEPRECATED_CALL', outsiderCall.headers.get('x-request-id')!);
      expect(answered).toMatchObject({
        outcome: 'success',
        principalId: outsider.id,
        keyId: outsider.keyId,
        details: { version: '1', method: 'GET', route: '/v1/items', phase: 'deprecated', successor: '/v2/items' },
      });
      // The outsider was created after the closing date: refused before the permission check.
      expect(refused.status).toBe(403);
      const denied = await eventOf(server, 'DEPRECATED_CALL', refused.headers.get('x-request-id')!);
      expect(denied).toMatchObject({
        outcome: 'denied',
        status: 403,
        principalId: outsider.id,
        details: { phase: 'closed', sunsetAt: iso(SUNSET_AT) },
      });
    });

    it('the report lists every calling principal and key with counts, refusals and phases', async () => {
      const usage = server.demo.app.get(DeprecationUsage);
      const before = await usage.report();
      const countOf = (report: typeof before, id: string) =>
        report.routes.find((route) => route.path === '/v1/items')?.callers.find((caller) => caller.principalId === id);
      const start = { existing: countOf(before, existing.id), newcomer: countOf(before, newcomer.id) };

      at('warning');
      for (let i = 0; i < 3; i++) expect((await get('/v1/items', existing.key)).status).toBe(200);
      at('gone');
      expect((await get('/v1/items', existing.key)).status).toBe(410);
      // Closed again after the brownout, later than any earlier call of this client: its latest phase.
      clock.now = BROWNOUT_END + HOUR;
      expect((await get('/v1/items', newcomer.key)).status).toBe(403);
      const report = await usage.report();

      expect(report.routes.map(({ version, method, path }) => ({ version, method, path }))).toEqual([
        { version: '1', method: 'GET', path: '/v1/items' },
      ]);
      const callers = report.routes[0]!.callers;
      expect(callers.map((caller) => caller.principalId)).toEqual(expect.arrayContaining([existing.id, newcomer.id]));
      expect(new Set(callers.map((caller) => caller.principalId)).size).toBe(callers.length);
      expect(countOf(report, existing.id)).toMatchObject({
        keyId: existing.keyId,
        count: (start.existing?.count ?? 0) + 4,
        refused: (start.existing?.refused ?? 0) + 1,
        // The phase of its latest call by the clock (the gone one), not of the last request sent.
        lastPhase: 'gone',
      });
      expect(countOf(report, newcomer.id)).toMatchObject({
        keyId: newcomer.keyId,
        count: (start.newcomer?.count ?? 0) + 1,
        refused: (start.newcomer?.refused ?? 0) + 1,
        lastPhase: 'closed',
      });
      // Highest count first.
      const counts = callers.map((caller) => caller.count);
      expect(counts).toEqual([...counts].sort((a, b) => b - a));
      // Aggregated: one row per route, principal and key, however many calls.
      const [{ rows }] = await server.demo.app
        .get(DataSource)
        .query(`SELECT count(*)::int AS rows FROM deprecated_calls WHERE principal_id = $1`, [existing.id]);
      expect(rows).toBe(1);
    });
  });
});

describe('deprecations report from the CLI', () => {
  let server: RunningDemo;
  let caller: Identity;
  const clock = { now: PHASES.warning };

  beforeAll(async () => {
    await buildDemo();
    server = await startDemo('fastify', V1_ENV);
    vi.spyOn(server.demo.app.get(Clock), 'now').mockImplementation(() => clock.now);
    caller = await createIdentity(server.demo.app, ['viewer']);
  }, 120_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await server?.close();
  });

  it('prints the callers the running demo counted, as one JSON object', async () => {
    for (let i = 0; i < 2; i++) {
      const response = await fetch(`${server.baseUrl}/v1/items`, { headers: { 'x-api-key': caller.key } });
      expect(response.status).toBe(200);
    }
    // What the running instance counted reaches the table on its next flush (or at shutdown).
    await server.demo.app.get(DeprecationUsage).flush();

    const result = await runCliProcess(['deprecations', 'report', '--json'], {
      DATABASE_URL: server.database.url,
      REDIS_URL: '',
      NODE_ENV: 'test',
      ...(server.database.embedded ? { CHANGES_TRANSPORT: 'polling' } : {}),
    });

    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      ok: true,
      routes: [
        {
          version: '1',
          method: 'GET',
          path: '/v1/items',
          callers: [
            {
              principalId: caller.id,
              keyId: caller.keyId,
              count: 2,
              refused: 0,
              firstSeenAt: iso(PHASES.warning),
              lastSeenAt: iso(PHASES.warning),
              lastPhase: 'warning',
            },
          ],
        },
      ],
    });
  });
});
