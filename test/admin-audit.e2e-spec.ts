import { SecurityEvents } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { createIdentity, type Identity } from './support/identities.js';

// Bodies are checked field by field, so `any` is the honest type here.
const jsonOf = async (response: Response): Promise<any> => response.json();

describe.each(ADAPTERS)('GET /admin/audit on %s', (adapter) => {
  let server: RunningDemo;
  let auditor: Identity;
  let viewer: Identity;

  beforeAll(async () => {
    server = await startDemo(adapter);
    auditor = await createIdentity(server.demo.app, ['admin']);
    viewer = await createIdentity(server.demo.app, ['viewer']);
    for (let i = 0; i < 5; i++)
      await fetch(`${server.baseUrl}/me`, { headers: { 'x-request-id': `audit-q-${adapter}-${i}` } });
    await server.demo.app.get(SecurityEvents).flush?.();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  const get = (query: string, key = auditor.key) =>
    fetch(`${server.baseUrl}/admin/audit${query}`, { headers: { 'x-api-key': key } });

  it('needs audit:read', async () => {
    expect((await get('', viewer.key)).status).toBe(403);
    expect((await get('')).status).toBe(200);
  });

  it('filters by type and outcome and pages newest first with a cursor', async () => {
    await expect
      .poll(async () => (await jsonOf(await get('?type=AUTH_FAILED&limit=100'))).items.length)
      .toBeGreaterThanOrEqual(5);
    const first = await jsonOf(await get('?type=AUTH_FAILED&outcome=denied&limit=2'));
    expect(first.items).toHaveLength(2);
    for (const item of first.items) expect(item).toMatchObject({ type: 'AUTH_FAILED', outcome: 'denied' });
    expect(BigInt(first.items[0].seq)).toBeGreaterThan(BigInt(first.items[1].seq));
    expect(first.nextCursor).toBe(first.items[1].seq);
    const second = await jsonOf(await get(`?type=AUTH_FAILED&limit=2&cursor=${first.nextCursor}`));
    expect(BigInt(second.items[0].seq)).toBeLessThan(BigInt(first.items[1].seq));
  });

  it('filters by principal and time', async () => {
    const mine = await jsonOf(await get(`?principal=${auditor.id}&limit=100`));
    for (const item of mine.items) expect(item.principalId).toBe(auditor.id);
    const future = await jsonOf(await get(`?since=${new Date(Date.now() + 3_600_000).toISOString()}`));
    expect(future.items).toEqual([]);
  });

  it('refuses bad filters with a 400 problem', async () => {
    for (const query of [
      '?type=NOT_A_TYPE',
      '?principal=1',
      '?since=yesterday',
      '?cursor=-1',
      '?limit=100000',
      "?outcome=x'--",
    ]) {
      const response = await get(query);
      expect(response.status, query).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/problem\+json/);
    }
  });
});
