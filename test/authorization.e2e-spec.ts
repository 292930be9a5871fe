import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { AuditEventStore, Grants } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { createIdentity, type Identity } from './support/identities.js';

// Bodies are checked field by field, so `any` is the honest type here.
const jsonOf = async (response: Response): Promise<any> => response.json();

describe.each(ADAPTERS)('authorization over HTTP on %s', (adapter) => {
  let server: RunningDemo;
  let viewer: Identity;
  let editor: Identity;
  let admin: Identity;

  const call = (method: string, path: string, key?: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.baseUrl}${path}`, {
      method,
      headers: {
        ...(key ? { 'x-api-key': key } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const createDocument = async (owner: Identity, fields: Record<string, unknown> = {}) => {
    const response = await call('POST', '/documents', owner.key, {
      title: 't',
      body: 'b',
      department: 'sales',
      ...fields,
    });
    expect(response.status).toBe(201);
    return (await jsonOf(response)) as { id: string };
  };

  beforeAll(async () => {
    server = await startDemo(adapter);
    viewer = await createIdentity(server.demo.app, ['viewer'], { department: 'sales' });
    editor = await createIdentity(server.demo.app, ['editor'], { department: 'sales' });
    admin = await createIdentity(server.demo.app, ['admin'], { department: 'it' });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  describe('the role matrix: 401 without credentials, 403 when not allowed, 2xx when allowed', () => {
    type Role = 'viewer' | 'editor' | 'admin';
    type Case = { route: string; request: () => Promise<[string, string, unknown?]>; expect: Record<Role, number> };
    const fresh = async () => (await createIdentity(server.demo.app, ['viewer'])).id;
    const cases: Case[] = [
      { route: 'GET /me', request: async () => ['GET', '/me'], expect: { viewer: 200, editor: 200, admin: 200 } },
      {
        route: 'POST /users',
        request: async () => ['POST', '/users', { username: `made_${randomUUID().slice(0, 8)}` }],
        expect: { viewer: 403, editor: 201, admin: 201 },
      },
      {
        route: 'GET /users/:id',
        request: async () => ['GET', `/users/${viewer.id}`],
        expect: { viewer: 200, editor: 200, admin: 200 },
      },
      {
        route: 'DELETE /users/:id',
        request: async () => ['DELETE', `/users/${await fresh()}`],
        expect: { viewer: 403, editor: 403, admin: 200 },
      },
      {
        route: 'POST /documents',
        request: async () => ['POST', '/documents', { title: 'x', body: 'y' }],
        expect: { viewer: 403, editor: 201, admin: 201 },
      },
      {
        route: 'GET /documents',
        request: async () => ['GET', '/documents'],
        expect: { viewer: 200, editor: 200, admin: 200 },
      },
      {
        route: 'GET /documents/:id',
        request: async () => ['GET', `/documents/${(await createDocument(editor)).id}`],
        expect: { viewer: 200, editor: 200, admin: 200 },
      },
      {
        route: 'PUT /documents/:id',
        request: async () => [
          'PUT',
          `/documents/${(await createDocument(editor)).id}`,
          { title: 'n', body: 'n', department: 'sales', confidential: false },
        ],
        expect: { viewer: 403, editor: 200, admin: 200 },
      },
      {
        route: 'POST /documents/:id/grants',
        request: async () => [
          'POST',
          `/documents/${(await createDocument(editor)).id}/grants`,
          { principalId: viewer.id, action: 'read' },
        ],
        expect: { viewer: 403, editor: 201, admin: 201 },
      },
      {
        route: 'GET /v1/items',
        request: async () => ['GET', '/v1/items'],
        expect: { viewer: 200, editor: 200, admin: 200 },
      },
      {
        route: 'GET /v2/items',
        request: async () => ['GET', '/v2/items'],
        expect: { viewer: 200, editor: 200, admin: 200 },
      },
      {
        route: 'GET /admin/keys',
        request: async () => ['GET', '/admin/keys'],
        expect: { viewer: 403, editor: 403, admin: 200 },
      },
      {
        route: 'GET /admin/roles',
        request: async () => ['GET', '/admin/roles'],
        expect: { viewer: 403, editor: 403, admin: 200 },
      },
    ];

    it.each(cases)('$route', async ({ request, expect: expected }) => {
      const [method, path, body] = await request();
      expect((await call(method, path, undefined, body)).status, 'without credentials').toBe(401);
      for (const role of ['viewer', 'editor', 'admin'] as const) {
        const identity = { viewer, editor, admin }[role];
        const [m, p, b] = await request();
        const response = await call(m, p, identity.key, b);
        expect(response.status, `${role} on ${m} ${p}`).toBe(expected[role]);
      }
    });
  });

  describe('the document policy', () => {
    let owner: Identity;
    let colleague: Identity;
    let colleagueEditor: Identity;
    let outsider: Identity;
    let outsiderEditor: Identity;
    let readGrantee: Identity;
    let writeGrantee: Identity;
    let bystander: Identity;
    let open: { id: string };
    let secret: { id: string };

    beforeAll(async () => {
      owner = await createIdentity(server.demo.app, ['editor'], { department: 'sales' });
      colleague = await createIdentity(server.demo.app, ['viewer'], { department: 'sales' });
      colleagueEditor = await createIdentity(server.demo.app, ['editor'], { department: 'sales' });
      outsider = await createIdentity(server.demo.app, ['viewer'], { department: 'hr' });
      outsiderEditor = await createIdentity(server.demo.app, ['editor'], { department: 'hr' });
      readGrantee = await createIdentity(server.demo.app, ['viewer'], { department: 'hr' });
      writeGrantee = await createIdentity(server.demo.app, ['editor'], { department: 'hr' });
      // Whom the matrix's share attempts grant to: nobody whose access the matrix checks.
      bystander = await createIdentity(server.demo.app, ['viewer'], { department: 'ops' });
      open = await createDocument(owner, { confidential: false });
      secret = await createDocument(owner, { confidential: true });
      for (const [grantee, action] of [
        [readGrantee, 'read'],
        [writeGrantee, 'write'],
      ] as const) {
        expect(
          (await call('POST', `/documents/${secret.id}/grants`, owner.key, { principalId: grantee.id, action })).status,
        ).toBe(201);
      }
    });

    const put = { title: 'changed', body: 'changed', department: 'sales', confidential: false };
    // [who, document, read, write, share]; 404 = may not even know it exists, 403 = visible but refused.
    const matrix: Array<[string, () => Identity, () => { id: string }, number, number, number]> = [
      ['the owner, open', () => owner, () => open, 200, 200, 201],
      ['the owner, confidential', () => owner, () => secret, 200, 200, 201],
      ['an admin, confidential', () => admin, () => secret, 200, 200, 201],
      ['a colleague (viewer), open', () => colleague, () => open, 200, 403, 403],
      ['a colleague (viewer), confidential', () => colleague, () => secret, 404, 403, 403],
      ['a colleague (editor), open', () => colleagueEditor, () => open, 200, 403, 403],
      ['a colleague (editor), confidential', () => colleagueEditor, () => secret, 404, 404, 404],
      ['another department (viewer), open', () => outsider, () => open, 404, 403, 403],
      ['another department (editor), open', () => outsiderEditor, () => open, 404, 404, 404],
      ['a read grantee, confidential', () => readGrantee, () => secret, 200, 403, 403],
      ['a write grantee, confidential', () => writeGrantee, () => secret, 404, 200, 404],
    ];

    it.each(matrix)('%s: read %i, write %i, share %i', async (_name, who, document, read, write, share) => {
      const identity = who();
      const id = document().id;
      expect((await call('GET', `/documents/${id}`, identity.key)).status, 'read').toBe(read);
      expect(
        (await call('PUT', `/documents/${id}`, identity.key, { ...put, confidential: id === secret.id })).status,
        'write',
      ).toBe(write);
      expect(
        (await call('POST', `/documents/${id}/grants`, identity.key, { principalId: bystander.id, action: 'read' }))
          .status,
        'share',
      ).toBe(share);
    });

    it('lists exactly the documents each principal may read', async () => {
      const ids = async (identity: Identity) => {
        const all: string[] = [];
        let cursor: string | null = null;
        do {
          const page: any = await jsonOf(
            await call('GET', `/documents?limit=2${cursor ? `&cursor=${cursor}` : ''}`, identity.key),
          );
          all.push(...page.items.map((d: { id: string }) => d.id));
          cursor = page.nextCursor;
        } while (cursor);
        return all;
      };
      expect(await ids(owner)).toEqual(expect.arrayContaining([open.id, secret.id]));
      expect(await ids(colleague)).toContain(open.id);
      expect(await ids(colleague)).not.toContain(secret.id);
      expect(await ids(outsider)).toEqual([]);
      expect(await ids(readGrantee)).toEqual([secret.id]);
      // A write grant is not a read grant.
      expect(await ids(writeGrantee)).toEqual([]);
      expect(await ids(admin)).toEqual(expect.arrayContaining([open.id, secret.id]));
    });
  });

  describe('object-level checks', () => {
    it("does not let A read, change or list B's documents, and ids reveal nothing", async () => {
      const a = await createIdentity(server.demo.app, ['editor'], { department: 'a-team' });
      const b = await createIdentity(server.demo.app, ['editor'], { department: 'b-team' });
      const mine = await createDocument(a, { department: 'a-team' });
      const theirs = [
        await createDocument(b, { department: 'b-team' }),
        await createDocument(b, { department: 'b-team', confidential: true }),
      ];
      const listed: any = await jsonOf(await call('GET', '/documents?limit=100', a.key));
      expect(listed.items.map((d: { id: string }) => d.id)).toEqual([mine.id]);

      const missing = await call('GET', `/documents/${randomUUID()}`, a.key);
      const missingBody = await jsonOf(missing);
      for (const doc of theirs) {
        const read = await call('GET', `/documents/${doc.id}`, a.key);
        expect(read.status).toBe(404);
        const body = await jsonOf(read);
        // Identical to a document that does not exist, but for the path and the request id.
        expect({ ...body, instance: 0, request_id: 0 }).toEqual({ ...missingBody, instance: 0, request_id: 0 });
        expect(
          (
            await call('PUT', `/documents/${doc.id}`, a.key, {
              title: 'x',
              body: 'x',
              department: 'a-team',
              confidential: false,
            })
          ).status,
        ).toBe(404);
      }
      expect((await call('GET', '/documents/1', a.key)).status).toBe(404);
      expect((await call('GET', `/documents/${mine.id}`, a.key)).status).toBe(200);
    });

    it('records each denial with the required permission, the roles and the resource', async () => {
      const outsider = await createIdentity(server.demo.app, ['editor'], { department: 'elsewhere' });
      const doc = await createDocument(editor);
      const requestId = `denied-${adapter}-${randomUUID().slice(0, 8)}`;
      expect(
        (
          await call(
            'PUT',
            `/documents/${doc.id}`,
            outsider.key,
            { title: 'x', body: 'x', department: 'x', confidential: false },
            { 'x-request-id': requestId },
          )
        ).status,
      ).toBe(404);
      const forbidden = `forbidden-${adapter}-${randomUUID().slice(0, 8)}`;
      expect((await call('GET', '/admin/keys', viewer.key, undefined, { 'x-request-id': forbidden })).status).toBe(403);
      const events = server.demo.app.get(AuditEventStore);
      await expect
        .poll(async () => (await events.recent(200)).find((e) => e.requestId === requestId))
        .toMatchObject({
          type: 'PERMISSION_DENIED',
          outcome: 'denied',
          principalId: outsider.id,
          details: expect.objectContaining({
            principalId: outsider.id,
            roles: ['editor'],
            required: 'document:write',
            resource: { type: 'document', id: doc.id },
            hidden: true,
          }),
        });
      await expect
        .poll(async () => (await events.recent(200)).find((e) => e.requestId === forbidden)?.details)
        .toMatchObject({ required: ['keys:admin'], roles: ['viewer'] });
    });

    it('records SENSITIVE_ACCESS on a sensitive route even when it is allowed, and grants with their actor', async () => {
      const requestId = `sensitive-${adapter}-${randomUUID().slice(0, 8)}`;
      expect(
        (await call('GET', `/users/${editor.id}`, admin.key, undefined, { 'x-request-id': requestId })).status,
      ).toBe(200);
      const events = server.demo.app.get(AuditEventStore);
      await expect
        .poll(async () => (await events.recent(200)).find((e) => e.requestId === requestId))
        .toMatchObject({ type: 'SENSITIVE_ACCESS', principalId: admin.id, keyId: admin.keyId });
      const doc = await createDocument(editor);
      await call('POST', `/documents/${doc.id}/grants`, editor.key, { principalId: viewer.id, action: 'write' });
      await expect
        .poll(
          async () =>
            (await events.recent(200)).find((e) => e.type === 'GRANT_ADDED' && e.details.resourceId === doc.id)
              ?.details,
        )
        .toMatchObject({ actor: editor.id, principalId: viewer.id, action: 'write' });
    });
  });

  describe('bypass attempts never give more access', () => {
    it.each([
      ['a trailing slash', 'GET', '/admin/keys/'],
      ['another case', 'GET', '/ADMIN/KEYS'],
      ['a double slash', 'GET', '//admin/keys'],
      ['an encoded slash', 'GET', '/admin%2Fkeys'],
      ['a dot segment', 'GET', '/me/../admin/keys'],
    ])('%s', async (_name, method, path) => {
      const response = await call(method, path, viewer.key);
      expect([401, 403, 404]).toContain(response.status);
    });

    it('ignores X-HTTP-Method-Override', async () => {
      const target = await createIdentity(server.demo.app, ['viewer']);
      for (const header of ['x-http-method-override', 'x-http-method', 'x-method-override']) {
        const response = await call('POST', `/users/${target.id}`, editor.key, {}, { [header]: 'DELETE' });
        expect(response.status).toBe(404);
      }
      const fetched = await jsonOf(await call('GET', `/users/${target.id}`, admin.key));
      expect(fetched.disabledAt).toBeNull();
    });

    it('refuses two credentials at once, even when one alone would be allowed', async () => {
      const { hostname, port } = new URL(server.baseUrl);
      const status = await new Promise<number>((resolve, reject) => {
        const socket = connect(Number(port), hostname, () => {
          socket.write(
            [
              `GET /admin/keys HTTP/1.1`,
              `Host: ${hostname}`,
              'Connection: close',
              `X-API-Key: ${viewer.key}`,
              `X-API-Key: ${admin.key}`,
              '',
              '',
            ].join('\r\n'),
          );
        });
        let text = '';
        socket.on('data', (chunk) => (text += chunk));
        socket.on('end', () => resolve(Number(text.slice(9, 12))));
        socket.on('error', reject);
      });
      expect(status).toBe(401);
    });
  });

  it('uses grants made through the service API at once', async () => {
    const doc = await createDocument(editor, { confidential: true });
    const reader = await createIdentity(server.demo.app, ['viewer'], { department: 'elsewhere' });
    expect((await call('GET', `/documents/${doc.id}`, reader.key)).status).toBe(404);
    const grant = { principalId: reader.id, resourceType: 'document', resourceId: doc.id, action: 'read' };
    await server.demo.app.get(Grants).add(grant, { label: 'test' });
    expect((await call('GET', `/documents/${doc.id}`, reader.key)).status).toBe(200);
    await server.demo.app.get(Grants).remove(grant, { label: 'test' });
    expect((await call('GET', `/documents/${doc.id}`, reader.key)).status).toBe(404);
  });
});
