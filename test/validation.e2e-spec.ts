import { randomBytes } from 'node:crypto';
import { apiCall } from './support/api.js';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { createIdentity, type Identity } from './support/identities.js';

const PROBLEM_JSON = /^application\/problem\+json/;
// Bodies are checked field by field, so `any` is the honest type here.
const jsonOf = async (response: Response): Promise<any> => response.json();
const unique = () => randomBytes(4).toString('hex');

describe.each(ADAPTERS)('input validation of the demo on %s', (adapter) => {
  let server: RunningDemo;
  let admin: Identity;
  let editor: Identity;

  const call = (method: string, path: string, key?: string, body?: unknown) =>
    apiCall(server.baseUrl, method, path, key, body);

  /** A 400 problem whose `invalid_params` names `field`. */
  const expectInvalid = async (response: Response, field: string, label = field) => {
    expect(response.status, label).toBe(400);
    expect(response.headers.get('content-type'), label).toMatch(PROBLEM_JSON);
    const problem = await jsonOf(response);
    expect(problem.status, label).toBe(400);
    expect(
      problem.invalid_params.map((p: { name: string }) => p.name),
      label,
    ).toContain(field);
    return problem;
  };

  beforeAll(async () => {
    server = await startDemo(adapter);
    admin = await createIdentity(server.demo.app, ['admin']);
    editor = await createIdentity(server.demo.app, ['editor'], { department: 'sales' });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  describe('POST /users', () => {
    const valid = () => ({
      username: `user_${unique()}`,
      email: `Someone.${unique()}@Example.COM`,
      age: 30,
      department: 'sales',
      password: 'correct horse battery staple',
    });

    it('creates a user from a valid body (201), email lower-cased, age and department in attributes', async () => {
      const body = valid();
      const created = await call('POST', '/users', admin.key, body);
      expect(created.status).toBe(201);
      const user = await jsonOf(created);
      expect(user.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(user).not.toHaveProperty('password');
      expect(user).not.toHaveProperty('passwordHash');

      const fetched = await call('GET', `/users/${user.id}`, admin.key);
      expect(fetched.status).toBe(200);
      expect(await jsonOf(fetched)).toMatchObject({
        username: body.username.toLowerCase(),
        email: body.email.toLowerCase(),
        attributes: { age: 30, department: 'sales' },
      });
    });

    it('takes the optional fields as optional, and the edge values of each range', async () => {
      expect((await call('POST', '/users', admin.key, { username: `x${unique().slice(0, 2)}` })).status).toBe(201);
      expect((await call('POST', '/users', admin.key, { username: `only_${unique()}` })).status).toBe(201);
      expect((await call('POST', '/users', admin.key, { ...valid(), age: 0 })).status).toBe(201);
      expect((await call('POST', '/users', admin.key, { ...valid(), age: 150 })).status).toBe(201);
      expect(
        (await call('POST', '/users', admin.key, { ...valid(), username: `a${unique()}`.padEnd(50, '_') })).status,
      ).toBe(201);
    });

    const broken: [label: string, field: string, patch: Record<string, unknown>][] = [
      // An otherwise well-formed address of 259 characters.
      [
        'email over 255 characters',
        'email',
        { email: `${'a'.repeat(64)}@${`${'b'.repeat(60)}.`.repeat(3)}example.com` },
      ],
      ['email not an address', 'email', { email: 'not-an-email' }],
      ['email not a string', 'email', { email: 42 }],
      ['username too short', 'username', { username: 'ab' }],
      ['username too long', 'username', { username: 'a'.repeat(51) }],
      ['username with a hyphen', 'username', { username: 'bad-name' }],
      ['username with a space', 'username', { username: 'bad name' }],
      ['username with a dot', 'username', { username: 'bad.name' }],
      ['username missing', 'username', { username: undefined }],
      ['age below 0', 'age', { age: -1 }],
      ['age above 150', 'age', { age: 151 }],
      ['age not an integer', 'age', { age: 30.5 }],
      ['age as a numeric string', 'age', { age: '30' }],
      ['department too long', 'department', { department: 'd'.repeat(65) }],
      ['department empty', 'department', { department: '' }],
      ['password too short', 'password', { password: 'short-pass' }],
      ['password common', 'password', { password: 'qwerty123456' }],
    ];
    it.each(broken)('refuses %s with a 400 naming the field', async (label, field, patch) => {
      const response = await call('POST', '/users', admin.key, { ...valid(), ...patch });
      const problem = await expectInvalid(response, field, label);
      for (const param of problem.invalid_params) expect(typeof param.reason).toBe('string');
    });

    it('refuses an unknown field with a 400 naming it', async () => {
      const problem = await expectInvalid(
        await call('POST', '/users', admin.key, { ...valid(), isAdmin: true }),
        'isAdmin',
      );
      expect(problem.invalid_params).toEqual([{ name: 'isAdmin', reason: expect.any(String) }]);
    });

    it('refuses NoSQL operators and arrays where a scalar is expected', async () => {
      const payloads: [string, Record<string, unknown>][] = [
        ['username', { username: { $gt: '' } }],
        ['username', { username: { $ne: null } }],
        ['username', { username: ['admin'] }],
        ['email', { email: { $regex: '.*' } }],
        ['password', { password: { $ne: null } }],
        ['age', { age: { $gt: 0 } }],
        ['age', { age: [30] }],
        ['department', { department: ['sales'] }],
      ];
      for (const [field, patch] of payloads) {
        await expectInvalid(
          await call('POST', '/users', admin.key, { ...valid(), ...patch }),
          field,
          JSON.stringify(patch),
        );
      }
    });

    it('never echoes a value sent, anywhere in the answer', async () => {
      const marker = `ZQX${unique()}MARK`;
      const long = marker.repeat(30);
      const cases: Record<string, unknown>[] = [
        { ...valid(), username: `${long}!` },
        { ...valid(), email: `${long}@example.com` },
        // Over the 256 characters a password may have.
        { ...valid(), password: long.repeat(2) },
        { ...valid(), department: long },
        { ...valid(), age: long },
        { ...valid(), username: { $gt: long } },
      ];
      for (const body of cases) {
        const response = await call('POST', '/users', admin.key, body);
        expect(response.status).toBe(400);
        const text = await response.text();
        expect(text).not.toContain(marker);
      }
    });

    it('refuses a caller without users:write before looking at the body (403)', async () => {
      const viewer = await createIdentity(server.demo.app, ['viewer']);
      expect((await call('POST', '/users', viewer.key, valid())).status).toBe(403);
    });
  });

  describe('POST /login', () => {
    it('refuses NoSQL operators and arrays in the credentials with a 400', async () => {
      const payloads: [string, Record<string, unknown>][] = [
        ['username', { username: { $gt: '' }, password: 'whatever-password' }],
        ['username', { username: { $ne: null }, password: 'whatever-password' }],
        ['username', { username: ['admin'], password: 'whatever-password' }],
        ['password', { username: 'admin', password: { $ne: null } }],
        ['password', { username: 'admin', password: { $gt: '' } }],
        ['password', { username: 'admin', password: ['x'] }],
      ];
      for (const [field, body] of payloads) {
        await expectInvalid(await call('POST', '/login', undefined, body), field, JSON.stringify(body));
      }
    });

    it('still answers a well-formed login', async () => {
      const person = await createIdentity(server.demo.app, ['viewer'], { password: 'correct horse battery staple' });
      const ok = await call('POST', '/login', undefined, {
        username: person.username,
        password: 'correct horse battery staple',
      });
      expect(ok.status).toBe(200);
      const wrong = await call('POST', '/login', undefined, {
        username: person.username,
        password: 'not the password',
      });
      expect(wrong.status).toBe(401);
    });
  });

  describe('GET /documents cursors', () => {
    it('pages by title through the longest titles (200 characters outside the BMP, combining marks)', async () => {
      // Without a department, this editor sees only its own documents.
      const owner = await createIdentity(server.demo.app, ['editor']);
      const titles = ['\u{1F600}'.repeat(200), 'e\u0301'.repeat(100), `${'\u{1F600}'.repeat(199)}a`];
      for (const title of titles) {
        expect((await call('POST', '/documents', owner.key, { title, body: 'b' })).status).toBe(201);
      }
      for (const sort of ['title', '-title', 'createdAt']) {
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const query = new URLSearchParams({ sort, limit: '1', ...(cursor ? { cursor } : {}) });
          const response = await call('GET', `/documents?${query.toString()}`, owner.key);
          expect(response.status, sort).toBe(200);
          const page: any = await jsonOf(response);
          seen.push(...page.items.map((d: { title: string }) => d.title));
          cursor = page.nextCursor;
        } while (cursor);
        expect([...seen].sort(), sort).toEqual([...titles].sort());
      }
    });
  });

  describe('rich text in documents', () => {
    const dirty =
      '<p>Hello <b>bold</b> <i>it</i><script>alert(1)</script>' +
      '<img src=x onerror="alert(2)"><a href="javascript:alert(3)">bad</a>' +
      '<a href="https://example.com/" onclick="alert(4)">good</a></p>';

    const expectClean = (body: string) => {
      expect(body).toContain('<b>bold</b>');
      expect(body).toContain('<i>it</i>');
      expect(body).toContain('<p>');
      expect(body).not.toMatch(/<script/i);
      expect(body).not.toContain('alert(1)');
      expect(body).not.toMatch(/onerror|onclick|javascript:/i);
      expect(body).not.toMatch(/<img/i);
      expect(body).toMatch(/<a [^>]*href="https:\/\/example\.com\/"[^>]*>good<\/a>/);
    };

    it('sanitises the body on POST and PUT, and stores the sanitised text', async () => {
      const created = await call('POST', '/documents', editor.key, { title: 'rich', body: dirty, department: 'sales' });
      expect(created.status).toBe(201);
      const document = await jsonOf(created);
      expectClean(document.body);
      expectClean((await jsonOf(await call('GET', `/documents/${document.id}`, editor.key))).body);

      const replaced = await call('PUT', `/documents/${document.id}`, editor.key, {
        title: 'rich again',
        body: `<blockquote>${dirty}</blockquote><style>body{}</style>`,
        department: 'sales',
        confidential: false,
      });
      expect(replaced.status).toBe(200);
      const after = await jsonOf(replaced);
      expectClean(after.body);
      expect(after.body).toContain('<blockquote>');
      expect(after.body).not.toMatch(/<style/i);
      expectClean((await jsonOf(await call('GET', `/documents/${document.id}`, editor.key))).body);
    });

    it('accepts a 100,000-character body (over the default body limit) and refuses a longer one', async () => {
      const body = 'x'.repeat(100_000);
      const created = await call('POST', '/documents', editor.key, { title: 'long', body });
      expect(created.status).toBe(201);
      expect((await jsonOf(created)).body).toHaveLength(100_000);
      await expectInvalid(await call('POST', '/documents', editor.key, { title: 'longer', body: `${body}x` }), 'body');
    });

    it('refuses a body that is not a string', async () => {
      await expectInvalid(await call('POST', '/documents', editor.key, { title: 't', body: { $gt: '' } }), 'body');
      await expectInvalid(await call('POST', '/documents', editor.key, { title: 't', body: ['<b>x</b>'] }), 'body');
    });
  });
});
