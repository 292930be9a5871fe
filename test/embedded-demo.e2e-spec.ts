import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { buildDemo, runCliProcess, startDemoProcess, type DemoProcess } from './support/processes.js';

// The demo as `npm start` runs it: its own process, no DATABASE_URL, so the embedded PostgreSQL.
describe('the demo on its embedded database, with the CLI beside it', () => {
  let dataDir: string;
  let demo: DemoProcess | undefined;
  const env = () => ({ DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', NODE_ENV: 'test', HTTP_ADAPTER: 'fastify' });

  beforeAll(async () => {
    await buildDemo();
    dataDir = await mkdtemp(join(tmpdir(), 'nas-embedded-'));
    await rm(dataDir, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await demo?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('starts with no database configured and serves /health within 30 s', async () => {
    demo = await startDemoProcess(env());
    const response = await fetch(`${demo.baseUrl}/health`);
    expect(await response.json()).toEqual({ status: 'ok', database: 'up', redis: 'memory' });
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect(demo.output()).toMatch(/embedded PostgreSQL.*local development only/i);
  }, 60_000);

  it('answers `cli health --json` with exactly one JSON line while the demo runs', async () => {
    const result = await runCliProcess(['health', '--json'], env());
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ ok: true, status: 'ok', database: 'up', redis: 'memory' });
    // The CLI went through the demo's server: it did not open the data directory a second time.
    expect(result.stderr).toMatch(/served by process \d+/);
  }, 60_000);

  it('reports the applied migrations from the CLI', async () => {
    const result = await runCliProcess(['migrate', 'status', '--json'], env());
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: true,
      executed: [
        'SecurityInitial1764200000000',
        'SecurityChanges1764300000000',
        'ApiKeysAndRoles1764400000000',
        'ResourceGrants1764500000000',
        'DemoDocuments1764600000000',
        'DemoPayments1764600100000',
        // TypeORM runs migrations in timestamp order, the library's and the demo's mixed.
        'AuditAppendOnly1764700000000',
        'SigningKeys1764800000000',
        'DeprecatedCalls1764900000000',
        'Sessions1765000000000',
        'MfaFactors1765100000000',
      ],
      pending: [],
    });
  }, 60_000);

  it('administers users and keys from the CLI, and the running demo sees each change within 1 s', async () => {
    const cli = async (...args: string[]) => {
      const result = await runCliProcess([...args, '--json'], env());
      const lines = result.stdout.split('\n').filter(Boolean);
      expect(lines, result.stderr).toHaveLength(1);
      return { code: result.code, body: JSON.parse(lines[0]!) };
    };
    const user = await cli(
      'users',
      'create',
      '--username',
      `cli-${Date.now()}`,
      '--role',
      'viewer',
      '--department',
      'sales',
    );
    expect(user.code).toBe(0);
    expect(user.body).toMatchObject({ ok: true, id: expect.any(String), roles: ['viewer'] });

    const created = await cli(
      'keys',
      'create',
      '--owner',
      user.body.id,
      '--name',
      'from the cli',
      '--expires-in',
      '30d',
    );
    expect(created.code).toBe(0);
    expect(created.body).toMatchObject({ ok: true, id: expect.any(String), key: expect.stringMatching(/^sk_live_/) });
    const me = await fetch(`${demo!.baseUrl}/me`, { headers: { 'x-api-key': created.body.key } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ principalId: user.body.id, roles: ['viewer'], authMethod: 'api-key' });

    const listed = await cli('keys', 'list', '--owner', user.body.id);
    expect(listed.body.keys).toEqual([expect.objectContaining({ id: created.body.id, status: 'active' })]);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key);

    const rotated = await cli('keys', 'rotate', created.body.id, '--grace', '0');
    expect(rotated.body).toMatchObject({
      ok: true,
      rotatedFrom: created.body.id,
      key: expect.stringMatching(/^sk_live_/),
    });
    const status = (key: string) =>
      fetch(`${demo!.baseUrl}/me`, { headers: { 'x-api-key': key } }).then((r) => r.status);
    await expect.poll(() => status(created.body.key), { timeout: 1_000, interval: 50 }).toBe(401);
    expect(await status(rotated.body.key)).toBe(200);

    const revoked = await cli('keys', 'revoke', rotated.body.id);
    expect(revoked.body).toMatchObject({ ok: true, id: rotated.body.id, revokedAt: expect.any(String) });
    await expect.poll(() => status(rotated.body.key), { timeout: 1_000, interval: 50 }).toBe(401);

    const refused = await cli('keys', 'revoke', 'AAAAAAAAAAAA');
    expect(refused.code).toBe(1);
    expect(refused.body).toMatchObject({ ok: false, code: 'ERR_SECURITY_UNKNOWN_KEY' });

    const roles = await cli('roles', 'list');
    expect(roles.body.roles).toEqual(
      expect.arrayContaining([{ name: 'admin', permissions: ['*:*'] }, expect.objectContaining({ name: 'viewer' })]),
    );
    expect((await cli('roles', 'assign', '--principal', user.body.id, '--role', 'editor')).body).toMatchObject({
      ok: true,
      assigned: true,
    });
    expect((await cli('roles', 'revoke', '--principal', user.body.id, '--role', 'editor')).body).toMatchObject({
      ok: true,
      revoked: true,
    });
    expect((await cli('roles', 'assign', '--principal', user.body.id, '--role', 'no-such-role')).code).toBe(1);
    const grant = ['--principal', user.body.id, '--type', 'document', '--id', 'doc-1', '--action', 'read'];
    expect((await cli('grants', 'add', ...grant)).body).toMatchObject({ ok: true, added: true });
    expect((await cli('grants', 'add', ...grant)).body).toMatchObject({ ok: true, added: false });
    expect((await cli('grants', 'remove', ...grant)).body).toMatchObject({ ok: true, removed: true });
    expect(
      (await cli('grants', 'add', '--principal', user.body.id, '--type', 'Bad Type', '--id', 'x', '--action', 'read'))
        .code,
    ).toBe(1);

    const disabled = await cli('users', 'disable', user.body.id);
    expect(disabled.body).toMatchObject({ ok: true, id: user.body.id, disabledAt: expect.any(String) });
  }, 120_000);

  it('exits 2 with one JSON object for a command it does not know', async () => {
    const result = await runCliProcess(['nonsense', '--json'], env());
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false });
  }, 60_000);

  it('lets an in-flight request finish on SIGTERM, then exits 0', async () => {
    const slow = fetch(`${demo!.baseUrl}/__test/slow?ms=700`);
    await new Promise((r) => setTimeout(r, 200));
    const exit = demo!.stop();
    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ waitedMs: 700 });
    expect(await exit).toBe(0);
    await expect(stat(join(dataDir, 'pg.lock'))).rejects.toThrow();
  }, 60_000);

  it('keeps its data across a restart', async () => {
    demo = await startDemoProcess(env());
    const marker = `restart-${Date.now()}`;
    expect((await fetch(`${demo.baseUrl}/me`, { headers: { 'x-request-id': marker } })).status).toBe(401);
    await expect.poll(() => auditRows(marker), { timeout: 5_000 }).toBe(1);
    expect(await demo.stop()).toBe(0);

    demo = await startDemoProcess(env());
    expect(await auditRows(marker)).toBe(1);
  }, 90_000);

  async function auditRows(requestId: string): Promise<number> {
    const lock = JSON.parse(await readFile(join(dataDir, 'pg.lock'), 'utf8')) as { url: string };
    const client = new pg.Client({ connectionString: lock.url });
    await client.connect();
    try {
      const result = await client.query('SELECT count(*)::int AS n FROM audit_events WHERE request_id = $1', [
        requestId,
      ]);
      return result.rows[0].n as number;
    } finally {
      await client.end();
    }
  }
});
