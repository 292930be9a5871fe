import pg from 'pg';
import { ADAPTERS } from './support/demo-app.js';
import { buildDemo, runCliProcess, startDemoProcess, type DemoProcess } from './support/processes.js';
import { testDatabase, type TestDatabase } from './support/services.js';

/**
 * The demo as a process, so that its security log (stdout) can be read: every event the features
 * produce is written once, as one log line and one audit row, with the right fields and no secret.
 */
describe.each(ADAPTERS)('security events of the demo on %s', (adapter) => {
  let database: TestDatabase;
  let demo: DemoProcess;
  let adminKey: string;
  let viewerKey: string;
  let viewerId: string;
  const password = 'tr0ub4dor&3-horse-staple';
  const username = `events-${adapter}-${Date.now()}`;
  const env = () => ({ DATABASE_URL: database.url, REDIS_URL: '', NODE_ENV: 'test', HTTP_ADAPTER: adapter });

  beforeAll(async () => {
    await buildDemo();
    database = await testDatabase();
    demo = await startDemoProcess(env());
    const cli = async (...args: string[]) => {
      const result = await runCliProcess([...args, '--json'], env());
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as Record<string, any>;
    };
    const admin = await cli('users', 'create', '--username', `admin-${username}`, '--role', 'admin');
    adminKey = (await cli('keys', 'create', '--owner', admin.id, '--name', 'admin')).key;
    const viewer = await cli('users', 'create', '--username', username, '--role', 'viewer', '--password', password);
    viewerId = viewer.id;
    viewerKey = (await cli('keys', 'create', '--owner', viewer.id, '--name', 'viewer')).key;
  }, 120_000);
  afterAll(async () => {
    await demo?.stop();
    await database?.drop();
  });

  const call = (path: string, requestId: string, init: { method?: string; key?: string; body?: unknown } = {}) =>
    fetch(`${demo.baseUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        'x-request-id': requestId,
        ...(init.key ? { 'x-api-key': init.key } : {}),
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
      body: init.body ? JSON.stringify(init.body) : undefined,
    });

  async function rows(requestId: string): Promise<any[]> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query('SELECT * FROM audit_events WHERE request_id = $1 ORDER BY seq', [requestId])).rows;
    } finally {
      await client.end();
    }
  }
  const logLines = (requestId: string) =>
    demo
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{') && line.includes(`"requestId":"${requestId}"`))
      .map((line) => JSON.parse(line) as { event: Record<string, any> });

  it('writes each event once, as one log line and one row, with the right fields and no secret', async () => {
    const id = (name: string) => `${adapter}-${name}-${Date.now()}`;
    const cases: Array<[string, () => Promise<Response>, number, Record<string, unknown>, Record<string, unknown>]> =
      [];
    const missing = id('missing');
    cases.push([
      missing,
      () => call('/me', missing),
      401,
      { type: 'AUTH_FAILED', outcome: 'denied', status: 401, path: '/me' },
      { reason: 'missing' },
    ]);
    const refused = id('refused');
    const madeUp = `sk_live_${'A'.repeat(40)}`;
    cases.push([
      refused,
      () => call('/me', refused, { key: madeUp }),
      401,
      { type: 'AUTH_FAILED', outcome: 'denied' },
      { reason: 'checksum' },
    ]);
    const denied = id('denied');
    cases.push([
      denied,
      () => call('/admin/keys', denied, { key: viewerKey }),
      403,
      { type: 'PERMISSION_DENIED', principal_id: viewerId, status: 403 },
      { required: ['keys:admin'] },
    ]);
    const login = id('login');
    cases.push([
      login,
      () => call('/login', login, { method: 'POST', body: { username, password } }),
      200,
      { type: 'LOGIN_SUCCEEDED', principal_id: viewerId },
      {},
    ]);
    const badLogin = id('bad-login');
    cases.push([
      badLogin,
      () => call('/login', badLogin, { method: 'POST', body: { username, password: `${password}x` } }),
      401,
      { type: 'LOGIN_FAILED', outcome: 'failure' },
      { reason: 'wrong_password' },
    ]);
    const created = id('key-created');
    let issued: { id: string; key: string } | undefined;
    cases.push([
      created,
      async () => {
        const response = await call('/admin/keys', created, {
          method: 'POST',
          key: adminKey,
          body: { owner: viewerId, name: 'events' },
        });
        issued = (await response.clone().json()) as { id: string; key: string };
        return response;
      },
      201,
      { type: 'KEY_CREATED', outcome: 'success' },
      { ownerId: viewerId },
    ]);
    const changed = id('data-changed');
    cases.push([
      changed,
      () =>
        call('/users', changed, {
          method: 'POST',
          key: adminKey,
          body: { username: `made_${changed}`.replace(/-/g, '_').slice(0, 50) },
        }),
      201,
      { type: 'DATA_CHANGED', outcome: 'success' },
      { entity: 'user', action: 'create' },
    ]);

    for (const [requestId, send, status, fields, details] of cases) {
      expect((await send()).status, requestId).toBe(status);
      // Exactly one row of the expected type (a @Sensitive() route adds its SENSITIVE_ACCESS row beside it).
      const ofType = async () => (await rows(requestId)).filter((r) => r.type === fields.type);
      await expect.poll(async () => (await ofType()).length, { timeout: 5_000 }).toBe(1);
      const [row] = await ofType();
      expect(row, requestId).toMatchObject(fields);
      expect(row.details, requestId).toMatchObject(details);
      await expect.poll(() => logLines(requestId).filter((l) => l.event.type === row.type).length).toBe(1);
      expect(logLines(requestId).find((l) => l.event.type === row.type)!.event.id).toBe(row.id);
    }

    const revoked = id('key-revoked');
    expect((await call(`/admin/keys/${issued!.id}/revoke`, revoked, { method: 'POST', key: adminKey })).status).toBe(
      200,
    );
    await expect
      .poll(async () =>
        (await rows(revoked)).filter((r) => r.type === 'KEY_REVOKED').map((r) => [r.key_id, r.details.actor]),
      )
      .toEqual([[issued!.id, expect.any(String)]]);

    // No secret of this test anywhere: not the keys, not the password.
    const table = JSON.stringify(await dumpAll());
    for (const secret of [adminKey, viewerKey, issued!.key, password, madeUp]) {
      const part = secret.startsWith('sk_') ? secret.slice(20, 42) : secret;
      expect(demo.output()).not.toContain(part);
      expect(table).not.toContain(part);
    }
  }, 120_000);

  async function dumpAll(): Promise<unknown[]> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query('SELECT * FROM audit_events')).rows;
    } finally {
      await client.end();
    }
  }
});
