import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuditEventStore, SecurityEvents, apiKeyChecksum, generateApiKey, verifyAuditChain } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { addKey, createIdentity, type Identity } from './support/identities.js';
import { auditRows } from './support/events.js';
import { testDatabase, type TestDatabase } from './support/services.js';
import { postgresTarget, startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

// The app's Postgres connections go through a loopback proxy the test cuts and restores, while a load of
// requests with valid, invalid and unknown keys keeps running. Deadlines are polls with a bound; the
// only waits are "until this instant has passed", against windows seconds wider than the wait.

const CACHE_TTL_MS = 1_000;
const STALE_IF_ERROR_MS = 5_000;
// apiKeys.lookupTimeout's default: how long a key check waits for the database.
const LOOKUP_TIMEOUT_MS = 2_000;
// The expiring key is made just before the cut with this lifetime: its expiry falls well inside the
// stale window of the cached key (which closes more than 5 s after the cut: the load reloads that key
// up to the cut, and its last load is at most one TTL old), and well after the TTL (so it is served
// stale first).
const EXPIRING_KEY_LIFETIME = '3s';
const WORKERS = 6;
// Between two requests of a worker: enough load to be "mid-load", little enough for a shared 2-core box.
const PAUSE_MS = 15;
const PROBLEM_JSON = /^application\/problem\+json/;
const POLL = { timeout: 15_000, interval: 100 };
const PHASE_TIMEOUT_MS = 30_000;

/** What each request of the load was, and what it got. */
type Kind = 'cached' | 'expiring' | 'wrong-secret' | 'garbage' | 'no-key' | 'never-seen';

interface Outcome {
  readonly kind: Kind;
  readonly requestId: string;
  readonly startedAt: number;
  readonly status: number;
  readonly contentType: string | null;
  readonly retryAfter: string | null;
  /** Sent while the proxy was cut. */
  readonly duringCut: boolean;
}

/** The key with another, well-formed secret: same id, checksum recomputed, so only the secret check refuses it. */
function withOtherSecret(key: string): string {
  const other = generateApiKey().key;
  const body = key.slice(0, -28) + other.slice(-28, -6);
  return body + apiKeyChecksum(body);
}

describe.each(ADAPTERS)('API keys while Postgres fails under load, on %s', (adapter) => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let server: RunningDemo;
  let cached: Identity;
  let expiring: { key: string; expiresAt: number } | undefined;
  const outcomes: Outcome[] = [];
  let cutting = false;
  let running = true;
  let load: Promise<void> | undefined;
  let cutAt = 0;

  const get = (path: string, init?: RequestInit) => fetch(`${server.baseUrl}${path}`, init);
  const me = (key?: string, requestId?: string) =>
    get('/me', {
      headers: {
        ...(key === undefined ? {} : { 'x-api-key': key }),
        ...(requestId ? { 'x-request-id': requestId } : {}),
      },
    });

  beforeAll(async () => {
    database = await testDatabase();
    proxy = await startTcpProxy(postgresTarget(database.url));
    server = await startDemo(
      adapter,
      {
        DATABASE_URL: proxy.url(database.url),
        API_KEY_CACHE_TTL: `${CACHE_TTL_MS}ms`,
        API_KEY_STALE_IF_ERROR: `${STALE_IF_ERROR_MS}ms`,
        // Every refused request must stay one AUTH_FAILED event, not turn into a detector's block or alert.
        ANOMALY_FAILED_AUTH_PER_IP: 'off',
      },
      { database },
    );
    cached = await createIdentity(server.demo.app, ['viewer']);
  }, PHASE_TIMEOUT_MS);
  afterAll(async () => {
    running = false;
    await load;
    proxy?.restore();
    await server?.close();
    await proxy?.close();
    await database?.drop();
  }, PHASE_TIMEOUT_MS);

  function startLoad(): void {
    let sequence = 0;
    const keyFor = (kind: Kind): string | undefined => {
      switch (kind) {
        case 'cached':
          return cached.key;
        case 'expiring':
          return expiring!.key;
        case 'wrong-secret':
          return withOtherSecret(cached.key);
        case 'garbage':
          return 'sk_live_not-a-real-key';
        case 'no-key':
          return undefined;
        case 'never-seen':
          // A new id each time: the negative cache never answers for it, only the database could.
          return generateApiKey().key;
      }
    };
    const kinds: readonly Kind[] = ['cached', 'expiring', 'wrong-secret', 'garbage', 'no-key', 'never-seen'];
    const worker = async (id: number) => {
      while (running) {
        const kind = kinds[sequence++ % kinds.length]!;
        // The expiring key is made just before the cut.
        if (kind === 'expiring' && !expiring) continue;
        const requestId = `pgfail-${adapter}-${id}-${sequence}`;
        const duringCut = cutting;
        const startedAt = Date.now();
        // A request that gets no answer at all is recorded as status 0, which the checks refuse.
        const response = await me(keyFor(kind), requestId).catch(() => undefined);
        await response?.arrayBuffer();
        outcomes.push({
          kind,
          requestId,
          startedAt,
          status: response?.status ?? 0,
          contentType: response?.headers.get('content-type') ?? null,
          retryAfter: response?.headers.get('retry-after') ?? null,
          // Only requests sent and answered within the cut count as the outage's.
          duringCut: duringCut && cutting,
        });
        await sleep(PAUSE_MS);
      }
    };
    load = Promise.all(Array.from({ length: WORKERS }, (_, id) => worker(id))).then(() => undefined);
  }

  it('verifies keys through the proxy under load before the cut', async () => {
    const startedAt = Date.now();
    startLoad();
    // Long enough for the cached key to be reloaded through the proxy at least once.
    await expect
      .poll(
        () => outcomes.filter((outcome) => outcome.kind === 'cached' && outcome.startedAt > startedAt + CACHE_TTL_MS),
        POLL,
      )
      .not.toEqual([]);
    expect(outcomes.filter((outcome) => ![200, 401].includes(outcome.status))).toEqual([]);
    expect(new Set(outcomes.filter((outcome) => outcome.kind === 'cached').map((outcome) => outcome.status))).toEqual(
      new Set([200]),
    );
    expect((await get('/health/ready')).status).toBe(200);
  });

  it(
    'serves cached keys for the stale window, never past a key’s expiry, and answers 503 for what needs the database',
    async () => {
      const issued = await addKey(server.demo.app, cached.id, { name: 'expiring', expiresIn: EXPIRING_KEY_LIFETIME });
      const expiringKey = { key: issued.key, expiresAt: Date.parse(issued.expiresAt!) };
      expect((await me(expiringKey.key)).status).toBe(200);
      expiring = expiringKey;
      proxy.cut();
      cutAt = Date.now();
      cutting = true;

      // Health: at once, degraded, and not ready.
      const health = await get('/health');
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'degraded', database: 'down' });
      const ready = await get('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.headers.get('content-type')).toMatch(PROBLEM_JSON);

      // A key never seen needs the database: 503 problem with Retry-After, never 401 or 200.
      const unknown = await me(generateApiKey().key);
      expect(unknown.status).toBe(503);
      expect(unknown.headers.get('content-type')).toMatch(PROBLEM_JSON);
      expect(unknown.headers.get('retry-after')).toBe('2');
      expect(await unknown.json()).toMatchObject({ status: 503, type: 'urn:problem-type:service-unavailable' });

      // Past its 1 s TTL the cached key can only be served from the stale entry.
      await sleep(Math.max(0, cutAt + CACHE_TTL_MS + 100 - Date.now()));
      expect((await me(cached.key)).status).toBe(200);
      expect((await me(expiringKey.key)).status).toBe(200);
      // A wrong secret for a stale entry is still refused by the secret check.
      expect((await me(withOtherSecret(cached.key))).status).toBe(401);

      // The expiring key stops at its expiry, while the other key is still served stale.
      await sleep(Math.max(0, expiringKey.expiresAt - Date.now()));
      const expired = await me(expiringKey.key);
      expect(expired.status).toBe(503);
      expect(expired.headers.get('retry-after')).toBe('2');
      expect((await me(cached.key)).status).toBe(200);

      // Then the stale window closes: fail closed, with a 503 to retry later.
      await expect.poll(async () => (await me(cached.key)).status, POLL).toBe(503);
      expect((await me(cached.key)).status).toBe(503);
      expect(await (await get('/health')).json()).toMatchObject({ status: 'degraded', database: 'down' });
      expect((await get('/health/ready')).status).toBe(503);
    },
    PHASE_TIMEOUT_MS,
  );

  it(
    'recovers once the database is back, and keeps every audit event of the outage in an intact chain',
    async () => {
      cutting = false;
      proxy.restore();
      await expect.poll(async () => (await get('/health/ready')).status, POLL).toBe(200);
      await expect.poll(async () => (await me(cached.key)).status, POLL).toBe(200);
      await expect.poll(async () => (await me(generateApiKey().key)).status, POLL).toBe(401);
      expect((await me(expiring!.key)).status).toBe(401);
      expect(await (await get('/health')).json()).toMatchObject({ status: 'ok', database: 'up' });
      running = false;
      await load;

      // The load: no 5xx but 503, each a problem with Retry-After; 200 only for the two valid keys, and
      // the expiring one never once it had expired; requests that need no database always 401.
      expect(outcomes.length).toBeGreaterThan(100);
      const statuses = new Set(outcomes.map((outcome) => outcome.status));
      expect([...statuses].filter((status) => ![200, 401, 503].includes(status))).toEqual([]);
      for (const outcome of outcomes.filter((each) => each.status === 503)) {
        expect(outcome.contentType).toMatch(PROBLEM_JSON);
        expect(outcome.retryAfter).toMatch(/^\d+$/);
      }
      const of = (kind: Kind) => outcomes.filter((outcome) => outcome.kind === kind);
      for (const kind of ['wrong-secret', 'never-seen', 'garbage', 'no-key'] as const) {
        expect(of(kind).filter((outcome) => outcome.status === 200)).toEqual([]);
      }
      for (const kind of ['garbage', 'no-key'] as const) {
        expect(new Set(of(kind).map((outcome) => outcome.status))).toEqual(new Set([401]));
      }
      expect(
        of('expiring').filter((outcome) => outcome.status === 200 && outcome.startedAt >= expiring!.expiresAt),
      ).toEqual([]);
      // The load saw the outage: stale answers past the TTL, and 503s.
      const outage = outcomes.filter((outcome) => outcome.duringCut);
      expect(
        outage.some(
          (outcome) => outcome.kind === 'cached' && outcome.status === 200 && outcome.startedAt > cutAt + CACHE_TTL_MS,
        ),
      ).toBe(true);
      expect(outage.some((outcome) => outcome.status === 503)).toBe(true);

      // Every AUTH_FAILED of the outage reached the database once it was back: none lost.
      const refused = outage.filter((outcome) => outcome.status === 401).map((outcome) => outcome.requestId);
      expect(refused.length).toBeGreaterThan(50);
      expect(await server.demo.app.get(SecurityEvents).flush(30_000)).toBe(true);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ request_id: string; type: string }>(
          'SELECT request_id, type FROM audit_events WHERE request_id = ANY($1)',
          [refused],
        );
        expect(
          rows
            .filter((row) => row.type === 'AUTH_FAILED')
            .map((row) => row.request_id)
            .sort(),
        ).toEqual([...refused].sort());
      } finally {
        await client.end();
      }
      // And the chain over everything written, before, during and after the cut, verifies.
      const store = server.demo.app.get(AuditEventStore);
      const verified = await verifyAuditChain(auditRows(store), { head: (await store.head())! });
      expect(verified).toMatchObject({ ok: true, firstBad: null });
      expect(verified.checked).toBeGreaterThanOrEqual(refused.length);
    },
    PHASE_TIMEOUT_MS,
  );

  it(
    'gives up on a silent database (a partition) after the lookup timeout, not the driver’s 30 s',
    async () => {
      // The cached key loaded fresh just before the stall; then its TTL runs out, so it needs the database.
      expect((await me(cached.key)).status).toBe(200);
      proxy.stall();
      await sleep(CACHE_TTL_MS + 100);
      const timed = async (key: string) => {
        const startedAt = Date.now();
        const response = await me(key);
        await response.arrayBuffer();
        return { status: response.status, elapsedMs: Date.now() - startedAt };
      };
      // Correctness bounds, not speed targets: apiKeys.lookupTimeout (2 s) plus slack for a busy machine,
      // far below the 30 s query timeout a hanging request would otherwise wait for.
      const stale = await timed(cached.key);
      expect(stale.status).toBe(200);
      expect(stale.elapsedMs).toBeLessThan(LOOKUP_TIMEOUT_MS + 4_000);
      const unseen = await timed(generateApiKey().key);
      expect(unseen.status).toBe(503);
      expect(unseen.elapsedMs).toBeLessThan(LOOKUP_TIMEOUT_MS + 4_000);

      proxy.restore();
      await expect.poll(async () => (await get('/health/ready')).status, POLL).toBe(200);
      await expect.poll(async () => (await me(generateApiKey().key)).status, POLL).toBe(401);
    },
    PHASE_TIMEOUT_MS,
  );
});
