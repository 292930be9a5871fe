import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditEventStore, SecurityEvents, verifyAuditChain, type StoredAuditEvent } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { buildDemo, runCliProcess, startDemoProcess, type DemoProcess } from './support/processes.js';
import { auditRows } from './support/events.js';
import { testDatabase, withClient, type TestDatabase } from './support/services.js';
import { postgresTarget, startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

// Outages go through a loopback proxy the test cuts and restores, never by stopping the shared Postgres.
const PHASE_TIMEOUT_MS = 60_000;
const REQUESTS = 1_000;
const CONCURRENCY = 25;
// Neither a rate limit nor the failed-authentication detector may turn the load of 401s into blocks:
// every request must stay one AUTH_FAILED event.
const HIGH_LIMITS = { RATE_LIMIT_IP: '100000/60s', ANOMALY_FAILED_AUTH_PER_IP: 'off' };

/** Runs `sql` as a superuser with the append-only triggers disabled: the tampering `audit verify` must catch. */
async function tamper(url: string, sql: string, params: unknown[] = []): Promise<void> {
  await withClient(url, async (client) => {
    await client.query('BEGIN');
    await client.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
    await client.query(sql, params);
    await client.query('ALTER TABLE audit_events ENABLE TRIGGER USER');
    await client.query('COMMIT');
  });
}

describe.each(ADAPTERS)('audit trail of the demo on %s while its database connection is cut', (adapter) => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let server: RunningDemo;
  let dataDir: string;

  beforeAll(async () => {
    database = await testDatabase();
    proxy = await startTcpProxy(postgresTarget(database.url));
    dataDir = await mkdtemp(join(tmpdir(), 'nas-audit-e2e-'));
    server = await startDemo(
      adapter,
      { DATABASE_URL: proxy.url(database.url), DATA_DIR: dataDir, ...HIGH_LIMITS },
      { database },
    );
  }, PHASE_TIMEOUT_MS);
  afterAll(async () => {
    proxy?.restore();
    await server?.close();
    await proxy?.close();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, PHASE_TIMEOUT_MS);

  it(
    'stores every one of 1,000 AUTH_FAILED events, in one intact chain',
    async () => {
      const prefix = `trail-${adapter}-`;
      let next = 0;
      const statuses: number[] = [];
      const worker = async () => {
        for (let index = next++; index < REQUESTS; index = next++) {
          if (index === 400) proxy.cut();
          if (index === 700) proxy.restore();
          const response = await fetch(`${server.baseUrl}/me`, { headers: { 'x-request-id': `${prefix}${index}` } });
          statuses.push(response.status);
          await response.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      expect(statuses.filter((status) => status === 401)).toHaveLength(REQUESTS);

      // Waits for the writer (its retries included), within a bound; no timing is asserted.
      expect(await server.demo.app.get(SecurityEvents).flush(30_000)).toBe(true);

      const rows = await withClient(database.url, async (client) =>
        client.query<{ request_id: string; type: string }>(
          `SELECT request_id, type FROM audit_events WHERE request_id LIKE $1`,
          [`${prefix}%`],
        ),
      );
      expect(rows.rows).toHaveLength(REQUESTS);
      expect(new Set(rows.rows.map((row) => row.request_id)).size).toBe(REQUESTS);
      expect(new Set(rows.rows.map((row) => row.type))).toEqual(new Set(['AUTH_FAILED']));
      const store = server.demo.app.get(AuditEventStore);
      const verified = await verifyAuditChain(auditRows(store), { head: (await store.head())! });
      expect(verified).toMatchObject({ ok: true, firstBad: null });
      expect(verified.checked).toBeGreaterThanOrEqual(REQUESTS);
    },
    PHASE_TIMEOUT_MS,
  );
});

describe('the demo as a process: SIGTERM under load, then `audit verify` and `audit export`', () => {
  let database: TestDatabase;
  let dataDir: string;
  let demo: DemoProcess | undefined;
  let loggedHead: { seq: string; hash: string } | undefined;
  const env = () => ({
    DATABASE_URL: database.url,
    REDIS_URL: '',
    NODE_ENV: 'test',
    HTTP_ADAPTER: 'fastify',
    DATA_DIR: dataDir,
    ...HIGH_LIMITS,
  });
  const cli = async (...args: string[]) => {
    const result = await runCliProcess(args, env());
    const lines = result.stdout.split('\n').filter(Boolean);
    return { code: result.code, lines, stderr: result.stderr, body: lines.length === 1 ? JSON.parse(lines[0]!) : null };
  };
  const count = () =>
    withClient(database.url, async (client) => {
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events');
      return rows[0]!.n;
    });

  beforeAll(async () => {
    await buildDemo();
    database = await testDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'nas-audit-process-'));
  }, 120_000);
  afterAll(async () => {
    await demo?.stop();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it(
    'loses no event of an answered request when SIGTERM arrives during load, and logs the chain head on the way out',
    async () => {
      const first = await startDemoProcess(env());
      demo = first;
      const answered: string[] = [];
      let stopping = false;
      const worker = async (id: number) => {
        for (let index = 0; !stopping; index++) {
          const requestId = `term-${id}-${index}`;
          try {
            const response = await fetch(`${first.baseUrl}/me`, { headers: { 'x-request-id': requestId } });
            await response.arrayBuffer();
            if (response.status === 401) answered.push(requestId);
          } catch {
            return; // the server has stopped accepting
          }
        }
      };
      const load = Promise.all(Array.from({ length: 16 }, (_, id) => worker(id)));
      await expect.poll(() => answered.length, { timeout: 20_000, interval: 20 }).toBeGreaterThanOrEqual(500);

      const exitCode = await first.stop();
      stopping = true;
      await load;
      expect(exitCode).toBe(0);

      const heads = first
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{') && line.includes('"audit chain head"'))
        .map((line) => JSON.parse(line) as { auditHead: { seq: string; hash: string; at: string } });
      expect(heads.length).toBeGreaterThan(0);
      loggedHead = heads[heads.length - 1]!.auditHead;

      demo = await startDemoProcess(env());
      const stored = await withClient(database.url, async (client) =>
        client.query<{ request_id: string }>(`SELECT request_id FROM audit_events WHERE request_id LIKE 'term-%'`),
      );
      const storedIds = stored.rows.map((row) => row.request_id);
      expect(new Set(storedIds).size).toBe(storedIds.length);
      const missing = answered.filter((id) => !storedIds.includes(id));
      expect(missing).toEqual([]);
      await demo.stop();
      demo = undefined;
      // The head logged at shutdown is the newest row the first process wrote.
      const [row] = await withClient(
        database.url,
        async (client) => (await client.query(`SELECT hash FROM audit_events WHERE seq = $1`, [loggedHead!.seq])).rows,
      );
      expect(row?.hash).toBe(loggedHead.hash);
    },
    PHASE_TIMEOUT_MS,
  );

  it(
    '`audit verify` exits 0 on the intact trail and 1 naming an altered row, a deleted row and removed newest rows',
    async () => {
      const total = await count();
      expect(total).toBeGreaterThan(20);

      const intact = await cli('audit', 'verify', '--json');
      expect(intact.code, intact.stderr).toBe(0);
      expect(intact.body).toEqual({ ok: true, checked: total, firstBad: null });

      // A row edited in place, then put back as it was.
      await tamper(database.url, `UPDATE audit_events SET details = details || '{"tampered": true}' WHERE seq = 5`);
      const altered = await cli('audit', 'verify', '--json');
      expect(altered.code).toBe(1);
      expect(altered.body).toMatchObject({ ok: false, checked: 4, firstBad: { seq: '5', reason: 'altered' } });
      await tamper(database.url, `UPDATE audit_events SET details = details - 'tampered' WHERE seq = 5`);

      // A row deleted from the middle.
      const saved = await withClient(
        database.url,
        async (client) =>
          (await client.query(`SELECT row_to_json(a) AS row FROM audit_events a WHERE seq = 7`)).rows[0].row,
      );
      await tamper(database.url, `DELETE FROM audit_events WHERE seq = 7`);
      const deleted = await cli('audit', 'verify', '--json');
      expect(deleted.code).toBe(1);
      expect(deleted.body).toMatchObject({ ok: false, checked: 6, firstBad: { seq: '7', reason: 'missing' } });
      await withClient(database.url, (client) =>
        client.query(`INSERT INTO audit_events SELECT * FROM json_populate_record(NULL::audit_events, $1::json)`, [
          JSON.stringify(saved),
        ]),
      );

      // The newest rows removed: a shorter chain still verifies on its own; the logged head catches it.
      const kept = Number(loggedHead!.seq) - 3;
      await tamper(database.url, `DELETE FROM audit_events WHERE seq > $1`, [kept]);
      const shorter = await cli('audit', 'verify', '--json');
      expect(shorter.body).toEqual({ ok: true, checked: kept, firstBad: null });
      const truncated = await cli('audit', 'verify', '--head', `${loggedHead!.seq}:${loggedHead!.hash}`, '--json');
      expect(truncated.code).toBe(1);
      expect(truncated.body).toMatchObject({
        ok: false,
        checked: kept,
        firstBad: { seq: loggedHead!.seq, reason: 'truncated' },
      });

      const unusable = await cli('audit', 'verify', '--head', 'not-a-head', '--json');
      expect(unusable.code).toBe(2);
      expect(unusable.body).toMatchObject({ ok: false, error: expect.stringContaining('--head') });
    },
    PHASE_TIMEOUT_MS,
  );

  it(
    '`audit export` writes one JSON line per event in seq order, from --since on',
    async () => {
      const everything = await cli('audit', 'export');
      expect(everything.code, everything.stderr).toBe(0);
      const events = everything.lines.map((line) => JSON.parse(line) as StoredAuditEvent & { at: string });
      expect(events).toHaveLength(await count());
      expect(events.map((event) => Number(event.seq))).toEqual(events.map((_, index) => index + 1));
      expect(events[0]).toMatchObject({ type: expect.any(String), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });

      const since = events[Math.floor(events.length / 2)]!.at;
      const recent = await cli('audit', 'export', '--since', since);
      expect(recent.code).toBe(0);
      const expected = events.filter((event) => event.at >= since).map((event) => event.id);
      expect(recent.lines.map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(expected);

      const refused = await cli('audit', 'export', '--since', 'yesterday');
      expect(refused.code).toBe(2);
      expect(refused.lines).toEqual([]);
      expect(refused.stderr).toMatch(/--since must be an ISO 8601 instant/);
    },
    PHASE_TIMEOUT_MS,
  );
});
