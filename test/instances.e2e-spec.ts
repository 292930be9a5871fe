import { buildDemo, runCliProcess } from './support/processes.js';
import { startDemo, type RunningDemo } from './support/demo-app.js';
import { createIdentity } from './support/identities.js';
import { REDIS_AVAILABLE, testDatabase, type TestDatabase } from './support/services.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Two instances on one database: a change made on one (or by the CLI) is refused by the other within
 * a second, over Redis pub/sub and over PostgreSQL (LISTEN/NOTIFY, or polling on the embedded one).
 */
const transports: Array<[string, NodeJS.ProcessEnv]> = [
  ['PostgreSQL', {}],
  ...(REDIS_AVAILABLE || process.env.REQUIRE_SERVICES === '1'
    ? [['Redis', { REDIS_URL }] as [string, NodeJS.ProcessEnv]]
    : []),
];
if (!REDIS_AVAILABLE)
  console.warn(`[tests] Redis at ${REDIS_URL} is not answering: the Redis case of instances.e2e-spec is left out`);

describe.each(transports)('changes reach the other instance within 1 s over %s', (_name, env) => {
  let database: TestDatabase;
  let a: RunningDemo;
  let b: RunningDemo;

  beforeAll(async () => {
    await buildDemo();
    database = await testDatabase();
    a = await startDemo('fastify', env, { database });
    b = await startDemo('express', env, { database });
  }, 120_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await database?.drop();
  });

  const status = (server: RunningDemo, key: string) =>
    fetch(`${server.baseUrl}/me`, { headers: { 'x-api-key': key } }).then((r) => r.status);
  // Correctness bound, not a speed target: the other instance must refuse within a second.
  const refusedWithinOneSecond = (server: RunningDemo, key: string) =>
    expect.poll(() => status(server, key), { timeout: 1_000, interval: 50 }).toBe(401);

  it('a revocation on one instance', async () => {
    const owner = await createIdentity(a.demo.app, ['viewer']);
    const admin = await createIdentity(a.demo.app, ['admin']);
    // Both instances have verified (and cached) the key.
    expect(await status(a, owner.key)).toBe(200);
    expect(await status(b, owner.key)).toBe(200);
    const revoked = await fetch(`${a.baseUrl}/admin/keys/${owner.keyId}/revoke`, {
      method: 'POST',
      headers: { 'x-api-key': admin.key },
    });
    expect(revoked.status).toBe(200);
    expect(await status(a, owner.key)).toBe(401);
    await refusedWithinOneSecond(b, owner.key);
  });

  it('a rotation with no grace, and a principal disabled, on one instance', async () => {
    const owner = await createIdentity(a.demo.app, ['viewer']);
    const other = await createIdentity(a.demo.app, ['viewer']);
    const admin = await createIdentity(a.demo.app, ['admin']);
    for (const key of [owner.key, other.key]) expect(await status(b, key)).toBe(200);
    const rotated = await fetch(`${a.baseUrl}/admin/keys/${owner.keyId}/rotate`, {
      method: 'POST',
      headers: { 'x-api-key': admin.key, 'content-type': 'application/json' },
      body: JSON.stringify({ grace: '0' }),
    });
    expect(rotated.status).toBe(201);
    await refusedWithinOneSecond(b, owner.key);
    expect(await status(b, ((await rotated.json()) as { key: string }).key)).toBe(200);

    expect(
      (await fetch(`${a.baseUrl}/users/${other.id}`, { method: 'DELETE', headers: { 'x-api-key': admin.key } })).status,
    ).toBe(200);
    await refusedWithinOneSecond(b, other.key);
  });

  it('a role assignment and a grant made on one instance', async () => {
    const admin = await createIdentity(a.demo.app, ['admin']);
    const person = await createIdentity(a.demo.app, ['viewer'], { department: 'nowhere' });
    const owner = await createIdentity(a.demo.app, ['editor']);
    const post = (server: RunningDemo, path: string, key: string, body: unknown) =>
      fetch(`${server.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const document = { title: 't', body: 'b', confidential: true };
    expect((await post(b, '/documents', person.key, document)).status).toBe(403);
    expect((await post(a, '/admin/roles/editor/members', admin.key, { principalId: person.id })).status).toBe(200);
    await expect
      .poll(async () => (await post(b, '/documents', person.key, document)).status, { timeout: 1_000, interval: 50 })
      .toBe(201);

    const secret = (await (await post(a, '/documents', owner.key, document)).json()) as { id: string };
    const read = () =>
      fetch(`${b.baseUrl}/documents/${secret.id}`, { headers: { 'x-api-key': person.key } }).then((r) => r.status);
    expect(await read()).toBe(404);
    expect(
      (await post(a, `/documents/${secret.id}/grants`, owner.key, { principalId: person.id, action: 'read' })).status,
    ).toBe(201);
    await expect.poll(read, { timeout: 1_000, interval: 50 }).toBe(200);
  });

  it('a revocation made by the CLI', async () => {
    const owner = await createIdentity(a.demo.app, ['viewer']);
    expect(await status(a, owner.key)).toBe(200);
    expect(await status(b, owner.key)).toBe(200);
    const result = await runCliProcess(['keys', 'revoke', owner.keyId, '--json'], {
      DATABASE_URL: database.url,
      REDIS_URL: env.REDIS_URL ?? '',
      ...(database.embedded ? { CHANGES_TRANSPORT: 'polling' } : {}),
    });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, id: owner.keyId });
    await refusedWithinOneSecond(a, owner.key);
    await refusedWithinOneSecond(b, owner.key);
  }, 60_000);
});
