import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredAuditEvent } from '@app/security';
import { buildDemo, runCliProcess, startDemoProcess, type DemoProcess } from './support/processes.js';
import { describeWithRedisServer, startRedisServer, type TestRedisServer } from './support/redis-server.js';
import { testDatabase, type TestDatabase } from './support/services.js';
import { raceCopies, send, sharedSignedPost, signed, SIGNING_MASTER_KEYS, type Signer } from './support/signing.js';

const BURST = 1_000;
const LIMIT = 100;
/** All requests are sent at once; each process gets them over this many connections. */
const SOCKETS_PER_PROCESS = 100;

/** A key as `keys create --json` prints it (the fields used here). */
interface IssuedKey {
  readonly id: string;
  readonly key: string;
}

/** A principal with one API key, made with the CLI or an instance's admin API. */
interface Identity {
  readonly id: string;
  readonly keyId: string;
  readonly key: string;
}

/**
 * Many instances as separate processes: two demos (`node dist/apps/demo/main.js`, one on Fastify, one on
 * Express) on one PostgreSQL database and one test-owned redis-server, administered by the CLI (a third
 * kind of process). The in-process suites (instances, rate-limit-instances, signing-instances) cover the
 * PostgreSQL change transport and both adapters per case; this one shows that nothing relies on sharing a
 * process: the rate limit is exact across both, changes reach the other process within a second, a nonce
 * is spent for both, and both append to one intact audit chain.
 */
describeWithRedisServer('many instances as separate processes', () => {
  let database: TestDatabase;
  let redis: TestRedisServer;
  let a: DemoProcess;
  let b: DemoProcess;
  let dataDirs: string[] = [];
  let env: NodeJS.ProcessEnv;
  let admin: Identity;
  let limited: Identity;
  let revoked: Identity;
  let rotated: Identity;
  let demoted: Identity;
  let disabled: Identity;
  let signers: Signer[];

  /** One request with an API key (and a JSON body, if any), as it is answered. */
  const once = (server: DemoProcess, path: string, key: string, init: RequestInit = {}) =>
    fetch(`${server.baseUrl}${path}`, {
      ...init,
      headers: { 'x-api-key': key, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    });
  /** `once`, sent again after a 503 (the rate-limit store undecided: nothing ran) for up to 5 s. */
  async function call(server: DemoProcess, path: string, key: string, init: RequestInit = {}): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      const response = await once(server, path, key, init);
      if (response.status !== 503 || attempt === 5) return response;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
  const status = (server: DemoProcess, path: string, key: string) => call(server, path, key).then((r) => r.status);
  // A correctness bound, not a speed target: the process must answer `expected` within a second.
  const withinOneSecond = (server: DemoProcess, path: string, key: string, expected: number) =>
    expect.poll(() => once(server, path, key).then((r) => r.status), { timeout: 1_000, interval: 50 }).toBe(expected);

  /** The audit rows of one type, newest first, read through an instance's admin API (the shared table). */
  async function auditEvents(server: DemoProcess, type: string): Promise<StoredAuditEvent[]> {
    const response = await call(server, `/admin/audit?type=${type}&limit=500`, admin.key);
    expect(response.status).toBe(200);
    return ((await response.json()) as { items: StoredAuditEvent[] }).items;
  }

  /** Runs a CLI command with `--json` against the shared database and Redis; the parsed result of a success. */
  async function cli(args: readonly string[]): Promise<Record<string, unknown>> {
    const result = await runCliProcess([...args, '--json'], env);
    expect(result.code, `${args.join(' ')}\n${result.stdout}${result.stderr}`).toBe(0);
    return JSON.parse(result.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  }

  async function createPrincipal(role: string, ...options: string[]): Promise<string> {
    const username = `mi_${randomBytes(6).toString('hex')}`;
    return (await cli(['users', 'create', '--username', username, '--role', role, ...options])).id as string;
  }

  async function createKey(owner: string): Promise<IssuedKey> {
    return (await cli(['keys', 'create', '--owner', owner, '--name', 'multi-instance'])) as unknown as IssuedKey;
  }

  /** A viewer with one key, made through an instance's admin API (`POST /users`, `POST /admin/keys`). */
  async function viewerOverHttp(server: DemoProcess): Promise<Identity> {
    const user = await call(server, '/users', admin.key, {
      method: 'POST',
      body: JSON.stringify({ username: `mi_${randomBytes(6).toString('hex')}`, roles: ['viewer'] }),
    });
    expect(user.status).toBe(201);
    const { id } = (await user.json()) as { id: string };
    const key = await call(server, '/admin/keys', admin.key, {
      method: 'POST',
      body: JSON.stringify({ owner: id, name: 'multi-instance' }),
    });
    expect(key.status).toBe(201);
    const issued = (await key.json()) as IssuedKey;
    return { id, keyId: issued.id, key: issued.key };
  }

  beforeAll(async () => {
    // Both processes run dist/, built from the working tree (incremental).
    await buildDemo();
    [database, redis, ...dataDirs] = await Promise.all([
      testDatabase(),
      startRedisServer(),
      mkdtemp(join(tmpdir(), 'nas-mi-a-')),
      mkdtemp(join(tmpdir(), 'nas-mi-b-')),
      mkdtemp(join(tmpdir(), 'nas-mi-cli-')),
    ]);
    env = {
      NODE_ENV: 'test',
      DATABASE_URL: database.url,
      // Its own redis-server: the demo has no Redis key prefix setting, so the keys of this suite must not
      // share a server with other suites (rate-limit counters, nonces and the change channel all live there).
      REDIS_URL: redis.url,
      // Explicit, so that a missing REDIS_URL would fail the boot instead of quietly using another transport.
      CHANGES_TRANSPORT: 'redis',
      // The CLI hashes the keys it creates with this pepper, and opens signing secrets with these master keys:
      // every process must be given the same values.
      API_KEY_PEPPER: 'multi-instance-test-pepper-0123456789abcdef',
      SIGNING_MASTER_KEYS,
      SECURITY_LOG: 'off',
      // Every request comes from 127.0.0.1: blocking it would make the cases depend on each other.
      ANOMALY_BLOCK_FOR: 'off',
      // Only the principal policy is under test; without the IP policy, requests without a valid credential
      // never ask Redis at all.
      RATE_LIMIT_IP: 'off',
      // RATE_LIMIT_ON_STORE_ERROR stays the default (`local`): a process that wrongly gave up on Redis (a
      // starved event loop once made an answered command look timed out) would count on its own and let
      // more than the limit through, which the exact count below catches.
      DATA_DIR: dataDirs[2],
    };
    // Both at once on the empty database: each boot migrates under an advisory lock, so one applies the
    // migrations and the other waits and finds none pending (without the lock one of them fails to boot).
    [a, b] = await Promise.all([
      startDemoProcess({ ...env, HTTP_ADAPTER: 'fastify', DATA_DIR: dataDirs[0] }),
      startDemoProcess({ ...env, HTTP_ADAPTER: 'express', DATA_DIR: dataDirs[1] }),
    ]);

    // Through the CLI (one process per command, the commands of a wave at once: each is a Nest boot).
    const [adminId, limitedId] = await Promise.all([
      createPrincipal('admin'),
      // Its own limit (its `rateLimit` attribute), counted per principal in Redis.
      createPrincipal('viewer', '--rate-limit', `${LIMIT}/1h`),
    ]);
    const [adminKey, limitedKey, signing] = await Promise.all([
      createKey(adminId!),
      createKey(limitedId!),
      cli(['signing-keys', 'create', '--owner', adminId!, '--name', 'multi-instance']),
    ]);
    admin = { id: adminId!, keyId: adminKey.id, key: adminKey.key };
    limited = { id: limitedId!, keyId: limitedKey.id, key: limitedKey.key };
    const hmac = { accessKeyId: signing.accessKeyId as string, secret: signing.secret as string };
    signers = [
      { label: 'seed hmac', scheme: 'hmac-sha256', credentials: hmac },
      { label: 'SigV4', scheme: 'aws4-hmac-sha256', credentials: hmac },
      { label: 'RFC 9421', scheme: 'rfc9421', credentials: hmac },
    ];
    // The rest through a's admin API, which is much quicker than a CLI process each.
    [revoked, rotated, demoted, disabled] = await Promise.all([1, 2, 3, 4].map(() => viewerOverHttp(a)));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([redis?.stop(), database?.drop()]);
    await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }, 30_000);

  it(`lets exactly ${LIMIT} of ${BURST} concurrent requests through, ${BURST / 2} sent to each process`, async () => {
    // The window cannot split the burst: the sliding window weighs the previous window by how much of it
    // still overlaps, so right after a boundary the previous window's count refuses as it did before it.
    // Of a 1 h window, the burst would have to last 36 s past an hour boundary for one extra request to fit.
    const agents = [a, b].map(() => new Agent({ keepAlive: true, maxSockets: SOCKETS_PER_PROCESS }));
    const counts: Record<number, number> = {};
    try {
      // Warm both processes up on the same path with another principal (a warm-up with `limited` would count).
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => httpStatus(agents[i % 2]!, [a, b][i % 2]!.baseUrl, admin.key)),
      );
      const statuses = await Promise.all(
        Array.from({ length: BURST }, (_, i) => httpStatus(agents[i % 2]!, [a, b][i % 2]!.baseUrl, limited.key)),
      );
      for (const code of statuses) counts[code] = (counts[code] ?? 0) + 1;
    } finally {
      for (const agent of agents) agent.destroy();
    }
    expect(counts).toEqual({ 200: LIMIT, 429: BURST - LIMIT });
    // Both processes now refuse the principal, whichever answered the last allowed request.
    for (const server of [a, b]) expect(await status(server, '/me', limited.key)).toBe(429);
  }, 60_000);

  it('a key revoked by the CLI is refused by both processes within 1 s', async () => {
    // Both processes have verified (and cached, for 30 s) the key.
    for (const server of [a, b]) expect(await status(server, '/me', revoked.key)).toBe(200);
    expect(await cli(['keys', 'revoke', revoked.keyId])).toMatchObject({ ok: true, id: revoked.keyId });
    await withinOneSecond(a, '/me', revoked.key, 401);
    await withinOneSecond(b, '/me', revoked.key, 401);
  }, 30_000);

  it("a rotation with no grace on one process's admin API is refused by the other within 1 s", async () => {
    for (const server of [a, b]) expect(await status(server, '/me', rotated.key)).toBe(200);
    const response = await call(a, `/admin/keys/${rotated.keyId}/rotate`, admin.key, {
      method: 'POST',
      body: JSON.stringify({ grace: '0' }),
    });
    expect(response.status).toBe(201);
    const successor = ((await response.json()) as { key: string }).key;
    await withinOneSecond(b, '/me', rotated.key, 401);
    await withinOneSecond(a, '/me', rotated.key, 401);
    for (const server of [a, b]) expect(await status(server, '/me', successor)).toBe(200);
  }, 30_000);

  it("a role revoked on one process's admin API: the permission is gone on both within 1 s", async () => {
    // GET /v1/items needs items:read, which only the viewer role gives this principal.
    for (const server of [a, b]) expect(await status(server, '/v1/items', demoted.key)).toBe(200);
    const response = await call(b, `/admin/roles/viewer/members/${demoted.id}`, admin.key, { method: 'DELETE' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ revoked: true });
    await withinOneSecond(a, '/v1/items', demoted.key, 403);
    await withinOneSecond(b, '/v1/items', demoted.key, 403);
    // Still authenticated: only the permission went.
    for (const server of [a, b]) expect(await status(server, '/me', demoted.key)).toBe(200);
  }, 30_000);

  it('a principal disabled by the CLI is refused by both processes within 1 s', async () => {
    for (const server of [a, b]) expect(await status(server, '/me', disabled.key)).toBe(200);
    expect(await cli(['users', 'disable', disabled.id])).toMatchObject({ ok: true, id: disabled.id });
    await withinOneSecond(a, '/me', disabled.key, 401);
    await withinOneSecond(b, '/me', disabled.key, 401);
  }, 30_000);

  it.each([0, 1, 2])(
    'a signed request accepted by one process is a replay to the other (signer %i)',
    async (index) => {
      const signer = signers[index]!;
      const wire = sharedSignedPost(a.baseUrl, signer);
      const first = await send(a.baseUrl, wire);
      expect(first.status, `${signer.label}: ${first.body.toString()}`).toBe(200);
      // The same bytes (Host included: it is signed) to the other process, then back to the first.
      const replay = await send(b.baseUrl, wire);
      expect(replay.status).toBe(401);
      expect((await send(a.baseUrl, wire)).status).toBe(401);
      // The refusal on b (Express) is in the shared trail, read through a (Fastify).
      await expect
        .poll(
          async () =>
            (await auditEvents(a, 'SIGNATURE_REJECTED')).find((event) => event.requestId === replay.requestId)?.details
              .reason,
          { timeout: 5_000, interval: 100 },
        )
        .toBe('replayed');
    },
    30_000,
  );

  it('of 10 concurrent copies of a signed request sent to both processes, exactly one is accepted', async () => {
    const wire = signed(a.baseUrl, signers[0]!, { method: 'GET', target: '/signed/echo/race' });
    const statuses = await raceCopies([a.baseUrl, b.baseUrl], wire);
    expect(statuses.filter((code) => code === 200)).toHaveLength(1);
    expect(statuses.filter((code) => code === 401)).toHaveLength(9);
  }, 30_000);

  it('both processes append to one audit chain, which the CLI verifies intact', async () => {
    // Failures written at the same moment by both processes (each an AUTH_FAILED row).
    const bogus = `sk_live_${randomBytes(24).toString('hex')}`;
    const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => once(i % 2 === 0 ? a : b, '/me', bogus)));
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 40 }, () => 401));
    const sent = { a: [] as string[], b: [] as string[] };
    responses.forEach((r, i) => sent[i % 2 === 0 ? 'a' : 'b'].push(r.headers.get('x-request-id')!));

    // Written off the request path: export until every row is there (normally the first time).
    let rows: StoredAuditEvent[] = [];
    const missing = () => [...sent.a, ...sent.b].filter((id) => !rows.some((row) => row.requestId === id));
    for (let attempt = 0; attempt < 5 && (rows.length === 0 || missing().length > 0); attempt++) {
      const exported = await runCliProcess(['audit', 'export'], env);
      expect(exported.code, exported.stderr).toBe(0);
      rows = exported.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as StoredAuditEvent);
    }
    expect(missing()).toEqual([]);
    // One chain: seq 1, 2, 3... with no gap, each row linked to the one before, whoever wrote it.
    expect(rows.map((row) => Number(row.seq))).toEqual(rows.map((_, i) => i + 1));
    rows.slice(1).forEach((row, i) => expect(row.prevHash).toBe(rows[i]!.hash));

    const verified = await cli(['audit', 'verify']);
    expect(verified).toMatchObject({ ok: true, firstBad: null });
    // Rows may have been added since the export (the processes keep running), never fewer.
    expect(verified.checked).toBeGreaterThanOrEqual(rows.length);
  }, 60_000);

  it('both processes exit 0 on SIGTERM', async () => {
    const codes = await Promise.all([a.stop(), b.stop()]);
    expect(codes, `${a.output()}\n${b.output()}`).toEqual([0, 0]);
  }, 30_000);
});

/** GET /me with an API key through `agent`; resolves to the status code. */
function httpStatus(agent: Agent, baseUrl: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}/me`, { agent, headers: { 'x-api-key': key } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
