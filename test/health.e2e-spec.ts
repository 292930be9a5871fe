import { generateApiKey } from '@app/security';
import { createIdentity, type Identity } from './support/identities.js';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { describeWithRedisServer, startRedisServer, type TestRedisServer } from './support/redis-server.js';
import { testDatabase, type TestDatabase } from './support/services.js';
import { postgresTarget, startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

// Outages are simulated with a loopback proxy (cut / restore) or a test-owned redis-server, never by
// stopping the shared services. Recovery deadlines are polls with a bound, not timings.

const PROBLEM_JSON = /^application\/problem\+json/;
const RECOVERY_MS = 10_000;
const POLL = { timeout: RECOVERY_MS, interval: 100 };
const PHASE_TIMEOUT_MS = 30_000;
// Bodies are checked field by field below, so `any` is the honest type here.
const jsonOf = async (response: Response): Promise<any> => response.json();

/** Waits, within the recovery bound, for `server`'s /health to answer `expected`. */
async function expectHealthSoon(server: RunningDemo, expected: Record<string, string>): Promise<void> {
  await expect.poll(async () => jsonOf(await fetch(`${server.baseUrl}/health`)), POLL).toEqual(expected);
}

describe.each(ADAPTERS)('health and readiness on %s', (adapter) => {
  describe('while the database goes away and comes back', () => {
    let database: TestDatabase;
    let proxy: TcpProxy;
    let server: RunningDemo;

    beforeAll(async () => {
      database = await testDatabase();
      proxy = await startTcpProxy(postgresTarget(database.url));
      server = await startDemo(adapter, { DATABASE_URL: proxy.url(database.url) });
    }, PHASE_TIMEOUT_MS);
    afterAll(async () => {
      proxy?.restore();
      await server?.close();
      await proxy?.close();
      await database?.drop();
    }, PHASE_TIMEOUT_MS);

    const get = (path: string, init?: RequestInit) => fetch(`${server.baseUrl}${path}`, init);
    let cached: Identity;

    /** Health answers at once, degraded: the outage shows without the request waiting for the database. */
    async function expectDatabaseDownNow(): Promise<void> {
      const health = await get('/health');
      expect(health.status).toBe(200);
      expect(await jsonOf(health)).toEqual({ status: 'degraded', database: 'down', redis: 'memory' });
    }

    async function expectRecovered(): Promise<void> {
      await expectHealthSoon(server, { status: 'ok', database: 'up', redis: 'memory' });
      await expect.poll(async () => (await get('/health/ready')).status, POLL).toBe(200);
    }

    it('boots through the proxy and reports the database up', async () => {
      const response = await get('/health');
      expect(response.status).toBe(200);
      expect(await jsonOf(response)).toEqual({ status: 'ok', database: 'up', redis: 'memory' });
      expect((await get('/health/ready')).status).toBe(200);
      expect(proxy.openConnections).toBeGreaterThan(0);
      cached = await createIdentity(server.demo.app, ['viewer']);
      expect((await get('/me', { headers: { 'x-api-key': cached.key } })).status).toBe(200);
    });

    it(
      'answers degraded health, a 503 readiness problem and still 401s while the database is cut',
      async () => {
        proxy.cut();

        await expectDatabaseDownNow();

        const ready = await get('/health/ready');
        expect(ready.status).toBe(503);
        expect(ready.headers.get('content-type')).toMatch(PROBLEM_JSON);
        const problem = await jsonOf(ready);
        expect(problem).toMatchObject({
          status: 503,
          instance: '/health/ready',
          type: 'urn:problem-type:service-unavailable',
          title: 'Service Unavailable',
          retry_after: 5,
        });
        expect(ready.headers.get('retry-after')).toBe('5');
        expect(problem.request_id).toBe(ready.headers.get('x-request-id'));

        // Authentication needs no database yet; the failed audit write is logged, not thrown.
        for (const init of [undefined, { headers: { 'x-api-key': 'sk_live_not-a-real-key' } }]) {
          const me = await get('/me', init);
          expect(me.status).toBe(401);
          expect(me.headers.get('content-type')).toMatch(PROBLEM_JSON);
        }
        // A key verified before the cut is served from the cache; one that needs the database is refused
        // with a 503 (retry later), never accepted and never a 500.
        expect((await get('/me', { headers: { 'x-api-key': cached.key } })).status).toBe(200);
        const unverifiable = await get('/me', { headers: { 'x-api-key': generateApiKey().key } });
        expect(unverifiable.status).toBe(503);
        expect(await jsonOf(unverifiable)).toMatchObject({
          type: 'urn:problem-type:service-unavailable',
          retry_after: 2,
        });
        expect(unverifiable.headers.get('retry-after')).toBe('2');
        expect((await get('/no/such/route')).status).toBe(404);
        // Still degraded, not crashed, after those requests tried to write audit rows.
        expect(await jsonOf(await get('/health'))).toMatchObject({ status: 'degraded', database: 'down' });
      },
      PHASE_TIMEOUT_MS,
    );

    it(
      'reports ok and ready again once the database is reachable',
      async () => {
        proxy.restore();
        await expectRecovered();
        // Audit writes work again: the 401 below lands in the database.
        const requestId = `health-recovered-${adapter}`;
        expect((await get('/me', { headers: { 'x-request-id': requestId } })).status).toBe(401);
        const { DataSource } = await import('typeorm');
        const dataSource = server.demo.app.get(DataSource);
        await expect
          .poll(
            async () =>
              dataSource.query('SELECT type FROM audit_events WHERE request_id = $1', [requestId]) as Promise<unknown>,
            POLL,
          )
          .toEqual([{ type: 'AUTH_FAILED' }]);
      },
      PHASE_TIMEOUT_MS,
    );

    it(
      'answers within its own check timeout while the database is silent (a partition), then recovers',
      async () => {
        proxy.stall();
        // The queries hang; each dependency check gives up after its timeout, so the answers still come.
        await expectDatabaseDownNow();
        expect((await get('/health/ready')).status).toBe(503);
        expect((await get('/me')).status).toBe(401);

        proxy.restore();
        await expectRecovered();
      },
      PHASE_TIMEOUT_MS,
    );
  });

  describeWithRedisServer('while Redis goes away and comes back', () => {
    let redis: TestRedisServer;
    let proxy: TcpProxy;
    let server: RunningDemo;

    beforeAll(async () => {
      redis = await startRedisServer();
      proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port });
      server = await startDemo(adapter, { REDIS_URL: proxy.url(redis.url) });
    }, PHASE_TIMEOUT_MS);
    afterAll(async () => {
      // Restore first: with the link stalled, the app's shutdown would wait for Redis to answer QUIT.
      proxy?.restore();
      await server?.close();
      await proxy?.close();
      await redis?.stop();
    }, PHASE_TIMEOUT_MS);

    const get = (path: string, init?: RequestInit) => fetch(`${server.baseUrl}${path}`, init);

    /** Neither a health check nor an ordinary request answers a 5xx while Redis is away. */
    async function expectNoServerError(): Promise<void> {
      for (const [path, expected] of [
        ['/health', 200],
        ['/health/ready', 200],
        ['/me', 401],
        ['/no/such/route', 404],
      ] as const) {
        expect({ path, status: (await get(path)).status }).toEqual({ path, status: expected });
      }
    }

    const expectRedis = (state: 'up' | 'down') =>
      expectHealthSoon(server, { status: state === 'up' ? 'ok' : 'degraded', database: 'up', redis: state });

    it('reports Redis up once connected', async () => {
      await expectRedis('up');
    });

    // Each outage: Redis reported down, no 5xx anywhere meanwhile, and up again once it is over.
    it.each<[title: string, goAway: () => unknown, comeBack: () => unknown]>([
      [
        'reports Redis down and stays ready while the link is cut, then recovers',
        () => proxy.cut(),
        () => proxy.restore(),
      ],
      [
        'reports Redis down while the link is silent (a partition), then recovers',
        () => proxy.stall(),
        () => proxy.restore(),
      ],
      [
        'reports Redis down while its server is stopped, and up once it is started again',
        () => redis.stop(),
        () => redis.start(),
      ],
    ])(
      '%s',
      async (_title, goAway, comeBack) => {
        await goAway();
        await expectRedis('down');
        await expectNoServerError();

        await comeBack();
        await expectRedis('up');
      },
      PHASE_TIMEOUT_MS,
    );
  });
});
