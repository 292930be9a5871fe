import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { apiCall } from './support/api.js';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { createIdentity, type Identity } from './support/identities.js';

const PROBLEM_JSON = /^application\/problem\+json/;
// Bodies are checked field by field, so `any` is the honest type here.
const jsonOf = async (response: Response): Promise<any> => response.json();
const namesOf = (problem: any): string[] => problem.invalid_params.map((p: { name: string }) => p.name);

const SQL_PAYLOADS = [
  "' OR 1=1 --",
  "' OR '1'='1",
  "'; DROP TABLE documents; --",
  "'; DROP TABLE principals; --",
  "' UNION SELECT id, username, password_hash, null, null, null, null, null FROM principals --",
  "'; SELECT pg_sleep(5); --",
  "1' AND (SELECT pg_sleep(5)) IS NULL --",
  "\\'; DELETE FROM documents; --",
  '$$; DROP TABLE documents; $$',
];

describe.each(ADAPTERS)('injection defences of the demo on %s', (adapter) => {
  let server: RunningDemo;
  let admin: Identity;
  let editor: Identity;
  let viewer: Identity;

  const call = (method: string, path: string, key?: string, body?: unknown) =>
    apiCall(server.baseUrl, method, path, key, body);
  const list = (query: Record<string, string>, key = editor.key) =>
    call('GET', `/documents?${new URLSearchParams(query).toString()}`, key);
  const titlesOf = async (response: Response): Promise<string[]> => {
    expect(response.status).toBe(200);
    return (await jsonOf(response)).items.map((d: { title: string }) => d.title);
  };

  beforeAll(async () => {
    server = await startDemo(adapter);
    admin = await createIdentity(server.demo.app, ['admin']);
    editor = await createIdentity(server.demo.app, ['editor'], { department: 'sales' });
    viewer = await createIdentity(server.demo.app, ['viewer'], { department: 'sales' });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  describe('SQL in GET /documents, path parameters and cursors', () => {
    const TITLES = [
      'Quarterly report',
      '100% sure',
      'snake_case notes',
      "O'Brien file",
      'back\\slash',
      "literal ' OR 1=1 -- inside",
      'plain text',
    ];
    let counts: { documents: number; principals: number };

    const countRows = async () => {
      const dataSource = server.demo.app.get(DataSource);
      const [{ documents }] = await dataSource.query('SELECT count(*)::int AS documents FROM documents');
      const [{ principals }] = await dataSource.query('SELECT count(*)::int AS principals FROM principals');
      return { documents, principals } as { documents: number; principals: number };
    };

    beforeAll(async () => {
      for (const title of TITLES) {
        const response = await call('POST', '/documents', editor.key, { title, body: `about ${title}` });
        expect(response.status).toBe(201);
      }
      counts = await countRows();
    });

    it('search matches titles case-insensitively, with %, _, \\ and quotes as literal characters', async () => {
      expect(await titlesOf(await list({ search: 'REPORT' }))).toEqual(['Quarterly report']);
      expect(await titlesOf(await list({ search: '%' }))).toEqual(['100% sure']);
      expect(await titlesOf(await list({ search: '_' }))).toEqual(['snake_case notes']);
      expect(await titlesOf(await list({ search: '\\' }))).toEqual(['back\\slash']);
      expect(await titlesOf(await list({ search: "O'B" }))).toEqual(["O'Brien file"]);
      expect(await titlesOf(await list({ search: '%%' }))).toEqual([]);
      expect(await titlesOf(await list({ search: '' }))).toHaveLength(TITLES.length);
    });

    it('SQL payloads in search only match titles that contain them literally', async () => {
      for (const payload of SQL_PAYLOADS) {
        const expected = TITLES.filter((title) => title.toLowerCase().includes(payload.toLowerCase()));
        expect(await titlesOf(await list({ search: payload })), payload).toEqual(expected);
      }
      expect(await titlesOf(await list({ search: "' OR 1=1 --" }))).toEqual(["literal ' OR 1=1 -- inside"]);
    });

    it('a time-based payload takes no longer than a normal request', async () => {
      for (const payload of ["'; SELECT pg_sleep(5); --", "1' AND (SELECT pg_sleep(5)) IS NULL --"]) {
        const started = performance.now();
        const response = await list({ search: payload });
        const elapsedMs = performance.now() - started;
        expect(response.status).toBe(200);
        // A correctness bound, not a speed target: the payload would take 5 s if it ran.
        expect(elapsedMs, payload).toBeLessThan(2_500);
      }
    });

    it('refuses anything but the allow-listed sorts with a 400 naming sort', async () => {
      for (const sort of [
        ...SQL_PAYLOADS,
        'title; DROP TABLE documents',
        '(SELECT 1)',
        'title DESC',
        'title,-title',
        'id',
        'created_at',
        'body',
        '1',
        'pg_sleep(5)',
        '',
        '+title',
        'TITLE',
      ]) {
        const response = await list({ sort });
        expect(response.status, sort).toBe(400);
        expect(response.headers.get('content-type')).toMatch(PROBLEM_JSON);
        expect(namesOf(await jsonOf(response)), sort).toEqual(['sort']);
      }
      const twice = await call('GET', '/documents?sort=title&sort=-title', editor.key);
      expect(twice.status).toBe(400);
    });

    it('refuses a limit that is not a plain integer from 1 to 100', async () => {
      for (const limit of ['1 OR 1=1', '1; DROP TABLE documents', '0x10', '1e1', ' 1', '1.5', '0', '101', '-1', '']) {
        const response = await list({ limit });
        expect(response.status, limit).toBe(400);
        expect(namesOf(await jsonOf(response)), limit).toContain('limit');
      }
    });

    it('refuses unknown query parameters', async () => {
      const response = await list({ search: 'x', where: '1=1' });
      expect(response.status).toBe(400);
      expect(namesOf(await jsonOf(response))).toContain('where');
      // Operators and arrays where one value is expected, however the adapter's query parser reads them.
      for (const query of ['search[$ne]=x', 'search[]=x', 'search=a&search=b', 'limit[$gt]=1']) {
        const refused = await call('GET', `/documents?${query}`, editor.key);
        expect(refused.status, query).toBe(400);
      }
    });

    it('pages through every sort with opaque cursors, in the same order as one page', async () => {
      for (const sort of ['createdAt', '-createdAt', 'title', '-title']) {
        const all = (await jsonOf(await list({ sort, limit: '100' }))).items.map((d: { id: string }) => d.id);
        expect(all, sort).toHaveLength(TITLES.length);
        const paged: string[] = [];
        let cursor: string | null = null;
        do {
          const page: any = await jsonOf(await list({ sort, limit: '2', ...(cursor ? { cursor } : {}) }));
          paged.push(...page.items.map((d: { id: string }) => d.id));
          cursor = page.nextCursor;
          if (cursor) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
        } while (cursor);
        expect(paged, sort).toEqual(all);
      }
      const titles = await titlesOf(await list({ sort: 'title' }));
      expect(await titlesOf(await list({ sort: '-title' }))).toEqual([...titles].reverse());
      const created = await titlesOf(await list({}));
      expect(created).toEqual(TITLES);
      expect(await titlesOf(await list({ sort: '-createdAt' }))).toEqual([...TITLES].reverse());
    });

    it('refuses a cursor that is not one of this list and sort with a 400 naming cursor', async () => {
      const first: any = await jsonOf(await list({ sort: 'title', limit: '2' }));
      expect(first.nextCursor).toEqual(expect.any(String));
      const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      for (const cursor of [
        ...SQL_PAYLOADS,
        randomUUID(),
        'not a cursor',
        `${first.nextCursor}=`,
        `${first.nextCursor}A`,
        encode(['createdAt', "2020-01-01T00:00:00.000000Z' OR '1'='1", randomUUID()]),
        encode(['createdAt', '2020-01-01T00:00:00.000000Z', "' OR 1=1 --"]),
        encode(['title', "' OR 1=1 --", randomUUID()]),
        encode(['createdAt', '2020-13-45T99:99:99.000000Z', randomUUID()]),
        encode({ sort: 'createdAt', key: '2020-01-01T00:00:00.000000Z', id: randomUUID() }),
        encode(['createdAt', { $gt: '' }, randomUUID()]),
      ]) {
        const response = await list({ cursor });
        expect(response.status, cursor).toBe(400);
        expect(namesOf(await jsonOf(response)), cursor).toEqual(['cursor']);
      }
      // A cursor of the title order is not one of the default order.
      const mixed = await list({ cursor: first.nextCursor });
      expect(mixed.status).toBe(400);
    });

    it('SQL payloads in path parameters answer 400 or 404, never 5xx', async () => {
      for (const payload of [...SQL_PAYLOADS, '1 OR 1=1', `${randomUUID()}' OR '1'='1`]) {
        const segment = encodeURIComponent(payload);
        const document = await call('GET', `/documents/${segment}`, editor.key);
        expect([400, 404], `documents ${payload}`).toContain(document.status);
        const replaced = await call('PUT', `/documents/${segment}`, editor.key, {
          title: 't',
          body: 'b',
          department: 'sales',
          confidential: false,
        });
        expect([400, 404], `put documents ${payload}`).toContain(replaced.status);
        const user = await call('GET', `/users/${segment}`, admin.key);
        expect([400, 404], `users ${payload}`).toContain(user.status);
        const removed = await call('DELETE', `/users/${segment}`, admin.key);
        expect([400, 404], `delete users ${payload}`).toContain(removed.status);
      }
    });

    it('leaves the tables intact: same rows, still listable', async () => {
      expect(await countRows()).toEqual(counts);
      expect(await titlesOf(await list({ limit: '100' }))).toEqual(TITLES);
      expect((await jsonOf(await list({ limit: '100' }, admin.key))).items).toHaveLength(counts.documents);
      const user = await call('GET', `/users/${editor.id}`, admin.key);
      expect(user.status).toBe(200);
      expect((await jsonOf(user)).username).toBe(editor.username);
    });
  });

  describe('command injection in POST /tools/ping', () => {
    const ping = (body: unknown, key = admin.key) => call('POST', '/tools/ping', key, body);

    it('pings an allowed host once: 200 {host, reachable, roundTripMs}', async () => {
      const response = await ping({ host: '127.0.0.1' });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const body = await jsonOf(response);
      expect(Object.keys(body).sort()).toEqual(['host', 'reachable', 'roundTripMs']);
      expect(body).toMatchObject({ host: '127.0.0.1', reachable: true });
      expect(body.roundTripMs).toBeGreaterThanOrEqual(0);
    });

    it('compares host names case-insensitively', async () => {
      const response = await ping({ host: 'LocalHost' });
      expect(response.status).toBe(200);
      expect(await jsonOf(response)).toMatchObject({ host: 'localhost', reachable: expect.any(Boolean) });
    });

    it('refuses shell syntax, option-like values and hosts outside the allow-list with a 400 naming host', async () => {
      const hosts = [
        'example.com; rm -rf /',
        '127.0.0.1; id',
        '127.0.0.1 && id',
        '127.0.0.1 | id',
        '127.0.0.1`id`',
        '`id`',
        '$(id)',
        '127.0.0.1$(id)',
        '${IFS}',
        '127.0.0.1\nid',
        '127.0.0.1\n',
        '127.0.0.1\r\nid',
        '-c 1000 127.0.0.1',
        '-c1000',
        '--help',
        '-f',
        '-',
        ' 127.0.0.1',
        '127.0.0.1 ',
        '127.0.0.1\u0000',
        '127.0.0.1 -c 1000',
        'localhost.',
        'fe80::1%eth0',
        '8.8.8.8',
        'example.com',
        '127.0.0.2',
        '',
        'a'.repeat(300),
      ];
      for (const host of hosts) {
        const response = await ping({ host });
        expect(response.status, JSON.stringify(host)).toBe(400);
        expect(response.headers.get('content-type')).toMatch(PROBLEM_JSON);
        expect(namesOf(await jsonOf(response)), JSON.stringify(host)).toEqual(['host']);
      }
    });

    it('refuses a host that is not a string, a missing host and extra fields', async () => {
      for (const body of [
        { host: { $gt: '' } },
        { host: ['127.0.0.1'] },
        { host: ['127.0.0.1', '-c', '1000'] },
        { host: 2130706433 },
        { host: null },
        {},
      ]) {
        const response = await ping(body);
        expect(response.status, JSON.stringify(body)).toBe(400);
        expect(namesOf(await jsonOf(response)), JSON.stringify(body)).toContain('host');
      }
      const extra = await ping({ host: '127.0.0.1', count: 1000 });
      expect(extra.status).toBe(400);
      expect(namesOf(await jsonOf(extra))).toEqual(['count']);
    });

    it('never runs a shell: a command in the host leaves no trace', async () => {
      const canary = join(tmpdir(), `nas-canary-${randomBytes(8).toString('hex')}`);
      for (const host of [
        `127.0.0.1;touch ${canary}`,
        `127.0.0.1 && touch ${canary}`,
        `$(touch ${canary})`,
        `\`touch ${canary}\``,
        `127.0.0.1\ntouch ${canary}`,
      ]) {
        expect((await ping({ host })).status, host).toBe(400);
      }
      expect(existsSync(canary)).toBe(false);
    });

    it('needs tools:execute: 401 without credentials, 403 for a viewer', async () => {
      expect((await call('POST', '/tools/ping', undefined, { host: '127.0.0.1' })).status).toBe(401);
      expect((await ping({ host: '127.0.0.1' }, viewer.key)).status).toBe(403);
      expect((await ping({ host: '127.0.0.1' }, editor.key)).status).toBe(403);
    });

    it('answers a 503 problem when ping is missing, without the command output', async () => {
      const path = process.env.PATH;
      // The child's PATH is read per call; a PATH without ping stands in for a machine without it.
      process.env.PATH = join(tmpdir(), `nas-empty-${randomBytes(4).toString('hex')}`);
      let response: Response;
      try {
        response = await ping({ host: '127.0.0.1' });
      } finally {
        process.env.PATH = path;
      }
      expect(response.status).toBe(503);
      expect(response.headers.get('content-type')).toMatch(PROBLEM_JSON);
      expect(await response.text()).not.toMatch(/ENOENT|spawn/);
      expect((await ping({ host: '127.0.0.1' })).status).toBe(200);
    });
  });
});
