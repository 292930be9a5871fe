import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADAPTERS } from './support/demo-app.js';
import { buildDemo, runCliProcess, startDemoProcess, type DemoProcess } from './support/processes.js';
import { testDatabase, withClient, type TestDatabase } from './support/services.js';

// SIGTERM under load, on the demo run as its own process (as `npm start` runs it): requests in flight
// finish within SHUTDOWN_TIMEOUT, longer ones are cut at it, the process exits 0, and every batched write
// (audit events, deprecated-call counts, key usage) of an answered request is in the database afterwards.

const SHUTDOWN_TIMEOUT_MS = 3_000;
// A correctness bound on the exit, not a speed target: drain bound + Nest close + flushes on a busy machine.
const EXIT_BOUND_MS = SHUTDOWN_TIMEOUT_MS + 10_000;
const WORKERS = 12;
const LOAD_BEFORE_SIGTERM = 300;
const PHASE_TIMEOUT_MS = 90_000;

describe.each(ADAPTERS)('SIGTERM under load, the demo as a process on %s', (adapter) => {
  let database: TestDatabase;
  let dataDir: string;
  let demo: DemoProcess | undefined;
  const env = () => ({
    DATABASE_URL: database.url,
    REDIS_URL: '',
    NODE_ENV: 'test',
    HTTP_ADAPTER: adapter,
    DATA_DIR: dataDir,
    SECURITY_LOG: 'off',
    SHUTDOWN_TIMEOUT: `${SHUTDOWN_TIMEOUT_MS}ms`,
    // Every 401 must stay one AUTH_FAILED event: neither a limit nor the anomaly detector may block.
    RATE_LIMIT_IP: '1000000/60s',
    ANOMALY_BLOCK_FOR: 'off',
    // v1 deprecated (in the past) and sunset far ahead: each call is counted in deprecated_calls.
    V1_DEPRECATED_AT: '2020-01-01T00:00:00Z',
    V1_SUNSET_AT: '2099-01-01T00:00:00Z',
  });
  const cli = async (...args: string[]): Promise<any> => {
    const result = await runCliProcess([...args, '--json'], env());
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    await buildDemo();
    database = await testDatabase();
    dataDir = await mkdtemp(join(tmpdir(), `nas-shutdown-${adapter}-`));
  }, 120_000);
  afterAll(async () => {
    await demo?.stop();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it(
    'finishes in-flight requests, cuts the ones past the bound, exits 0 and loses no batched write',
    async () => {
      // Migrated and the key made by the CLI before the demo starts.
      await cli('migrate', 'up');
      const owner = await cli('users', 'create', '--username', `shutdown-${adapter}`, '--role', 'viewer');
      const key = await cli('keys', 'create', '--owner', owner.id, '--name', 'load');
      const process = await startDemoProcess(env());
      demo = process;
      const get = (path: string, headers: Record<string, string> = {}) =>
        fetch(`${process.baseUrl}${path}`, { headers });

      // Load: deprecated v1 calls with a valid key (counted, key usage recorded) and unauthenticated
      // calls (one AUTH_FAILED audit event each), until the server stops accepting.
      const deprecatedAnswered: number[] = [];
      const refused: string[] = [];
      let lastUseStartedAt = 0;
      let stopping = false;
      const worker = async (id: number) => {
        for (let index = 0; !stopping; index++) {
          try {
            if (index % 2 === 0) {
              const startedAt = Date.now();
              const response = await get('/v1/items', { 'x-api-key': key.key });
              await response.arrayBuffer();
              expect(response.status).toBe(200);
              expect(response.headers.get('deprecation')).toMatch(/^@\d+$/);
              deprecatedAnswered.push(startedAt);
              lastUseStartedAt = Math.max(lastUseStartedAt, startedAt);
            } else {
              const requestId = `shutdown-${adapter}-${id}-${index}`;
              const response = await get('/me', { 'x-request-id': requestId });
              await response.arrayBuffer();
              expect(response.status).toBe(401);
              refused.push(requestId);
            }
          } catch (error) {
            if (error instanceof TypeError) return; // fetch failed: the server no longer accepts
            throw error;
          }
        }
      };
      const load = Promise.all(Array.from({ length: WORKERS }, (_, id) => worker(id)));
      await expect
        .poll(() => deprecatedAnswered.length + refused.length, { timeout: 30_000, interval: 20 })
        .toBeGreaterThanOrEqual(LOAD_BEFORE_SIGTERM);

      // In flight at SIGTERM: requests that finish inside the bound, and one that would outlast it.
      const settle = (response: Promise<Response>) =>
        response.then(
          async (answer) => ({ status: answer.status, body: await answer.text() }),
          (error: unknown) => ({ status: 0, body: String(error) }),
        );
      const short = Array.from({ length: 4 }, () => settle(get('/__test/slow?ms=1500')));
      const long = settle(get('/__test/slow?ms=5000'));
      // Let them reach the handler before the signal.
      await new Promise((resolve) => setTimeout(resolve, 300));

      const signalledAt = Date.now();
      const exitCode = await process.stop();
      const exitedAfterMs = Date.now() - signalledAt;
      stopping = true;
      await load;
      demo = undefined;

      expect(exitCode, process.output()).toBe(0);
      expect(exitedAfterMs).toBeLessThan(EXIT_BOUND_MS);
      // Answered in full, not cut: they were in flight and finished inside the bound.
      for (const answer of await Promise.all(short)) expect(answer).toEqual({ status: 200, body: '{"waitedMs":1500}' });
      // Past the bound: its connection was closed without an answer.
      expect((await long).status).toBe(0);

      // Every batched write of an answered request was flushed before the process exited.
      await withClient(database.url, async (client) => {
        const audit = await client.query<{ request_id: string }>(
          `SELECT request_id FROM audit_events WHERE type = 'AUTH_FAILED' AND request_id LIKE $1`,
          [`shutdown-${adapter}-%`],
        );
        const stored = new Set(audit.rows.map((row) => row.request_id));
        expect(stored.size).toBe(audit.rows.length);
        expect(refused.filter((id) => !stored.has(id))).toEqual([]);

        const counted = await client.query<{ n: number }>(
          `SELECT coalesce(sum(count), 0)::int AS n FROM deprecated_calls WHERE principal_id = $1`,
          [owner.id],
        );
        expect(counted.rows[0]!.n).toBe(deprecatedAnswered.length);

        const used = await client.query<{ last_used_at: Date | null }>(
          `SELECT last_used_at FROM api_keys WHERE id = $1`,
          [key.id],
        );
        // Written in batches once a second and at shutdown: the newest use is there.
        expect(used.rows[0]!.last_used_at!.getTime()).toBeGreaterThanOrEqual(lastUseStartedAt);
      });
    },
    PHASE_TIMEOUT_MS,
  );
});
