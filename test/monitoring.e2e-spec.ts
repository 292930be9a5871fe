import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuditEventStore, Clock, generateApiKey, type StoredAuditEvent } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { addKey, createIdentity, type Identity } from './support/identities.js';

const WEBHOOK_SECRET = 'whsec-monitoring-e2e-0123456789';
const MINUTE = 60_000;

/** A webhook receiver on 127.0.0.1 that keeps every POST. */
async function startReceiver() {
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Bodies are checked field by field, so `any` is the honest type here.
const jsonOf = async (response: Response): Promise<any> => response.json();

describe.each(ADAPTERS)('anomaly detection, metrics and alerts on %s', (adapter) => {
  let server: RunningDemo;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let admin: Identity;
  let viewer: Identity;
  let now: number;

  beforeAll(async () => {
    receiver = await startReceiver();
    server = await startDemo(adapter, {
      ANOMALY_FAILED_AUTH_PER_IP: '20/60s',
      ANOMALY_BLOCK_FOR: '10m',
      ALERT_WEBHOOK_URL: receiver.url,
      ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET,
    });
    // The start of a detector window, so that "within a minute" does not depend on when the test runs.
    now = Math.ceil(Date.now() / MINUTE) * MINUTE;
    vi.spyOn(server.demo.app.get(Clock), 'now').mockImplementation(() => now);
    admin = await createIdentity(server.demo.app, ['admin']);
    viewer = await createIdentity(server.demo.app, ['viewer']);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  const call = (path: string, key?: string, requestId?: string) =>
    fetch(`${server.baseUrl}${path}`, {
      headers: { ...(key ? { 'x-api-key': key } : {}), ...(requestId ? { 'x-request-id': requestId } : {}) },
    });
  const rows = async (type: string): Promise<StoredAuditEvent[]> =>
    (await server.demo.app.get(AuditEventStore).recent(1_000)).filter((row) => row.type === type);
  const refusalsWritten = async (prefix: string) =>
    (await rows('AUTH_FAILED')).filter((row) => row.requestId?.startsWith(prefix)).length;

  it('never counts requests that present no credential', async () => {
    for (let i = 0; i < 25; i += 1) {
      expect((await call('/me', undefined, `${adapter}-none-${i}`)).status).toBe(401);
      now += 1_000;
    }
    await expect.poll(() => refusalsWritten(`${adapter}-none-`), { timeout: 5_000 }).toBe(25);
    expect(await rows('SUSPICIOUS_PATTERN')).toHaveLength(0);
    expect((await call('/me', viewer.key)).status).toBe(200);
  });

  it('raises SUSPICIOUS_PATTERN on the 20th refused key from one IP in a minute, alerts, and blocks the IP', async () => {
    now = Math.ceil(now / MINUTE) * MINUTE;
    for (let i = 1; i <= 19; i += 1) {
      expect((await call('/me', generateApiKey().key, `${adapter}-bad-${i}`)).status).toBe(401);
      now += 2_000;
    }
    await expect.poll(() => refusalsWritten(`${adapter}-bad-`), { timeout: 5_000 }).toBe(19);
    expect(await rows('SUSPICIOUS_PATTERN')).toHaveLength(0);
    expect((await call('/me', viewer.key)).status).toBe(200);

    // The 20th, 38 s after the first: refused like the others, and reported once.
    expect((await call('/me', generateApiKey().key, `${adapter}-bad-20`)).status).toBe(401);
    await expect.poll(async () => (await rows('SUSPICIOUS_PATTERN')).length, { timeout: 5_000 }).toBe(1);
    const [pattern] = await rows('SUSPICIOUS_PATTERN');
    expect(pattern).toMatchObject({
      outcome: 'denied',
      ip: '127.0.0.1',
      requestId: `${adapter}-bad-20`,
      details: {
        detector: 'failed-auth-by-ip',
        ip: '127.0.0.1',
        count: 20,
        windowSeconds: 60,
        blockedUntil: new Date(now + 10 * MINUTE).toISOString(),
      },
    });

    // The webhook receives it, signed over the raw body.
    await expect.poll(() => receiver.received.length, { timeout: 5_000 }).toBe(1);
    const [alert] = receiver.received;
    expect(alert!.headers['x-signature-256']).toBe(
      `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(alert!.body).digest('hex')}`,
    );
    expect(JSON.parse(alert!.body)).toMatchObject({
      event: { id: pattern!.id, type: 'SUSPICIOUS_PATTERN', details: { detector: 'failed-auth-by-ip', count: 20 } },
    });

    // From now on even a valid key from that IP answers 429, before authentication.
    const blocked = await call('/me', admin.key);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe('600');
    expect(blocked.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await jsonOf(blocked)).toMatchObject({ status: 429, retry_after: 600, instance: '/me' });
    expect((await call('/health')).status).toBe(429);
    for (let i = 0; i < 5; i += 1) expect((await call('/me', generateApiKey().key)).status).toBe(429);

    now += 4 * MINUTE;
    const later = await call('/me', admin.key);
    expect(later.status).toBe(429);
    expect(later.headers.get('retry-after')).toBe('360');
    expect(await rows('SUSPICIOUS_PATTERN')).toHaveLength(1);
    expect(receiver.received).toHaveLength(1);
  });

  it('lifts the block once blockFor has passed', async () => {
    now += 6 * MINUTE;
    expect((await call('/me', admin.key)).status).toBe(200);
    expect((await call('/me', generateApiKey().key)).status).toBe(401);
  });

  it('serves GET /metrics to metrics:read only, in the Prometheus text format', async () => {
    expect((await call('/metrics', viewer.key)).status).toBe(403);
    const response = await call('/metrics', admin.key);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const lines = (await response.text()).split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        // 20 refused keys before the block, one after it.
        'nas_authentication_total{result="failure",reason="unknown"} 21',
        'nas_authentication_total{result="failure",reason="missing"} 25',
        'nas_suspicious_patterns_total{detector="failed-auth-by-ip"} 1',
        'nas_rate_limit_decisions_total{decision="blocked"} 8',
        'nas_permission_denials_total 1',
        expect.stringMatching(/^nas_audit_queue_depth \d+$/),
        expect.stringMatching(/^nas_process_resident_memory_bytes \d+/),
      ]),
    );
  });
});

// Behind a proxy every connection comes from the proxy: the detector, the block, the events and a key's
// IP allow-list must all go by the client that trustProxy resolves from X-Forwarded-For, or one client's
// failures would block the proxy, and with it everyone behind it.
describe.each(ADAPTERS)('anomaly detection behind a trusted proxy on %s', (adapter) => {
  const ATTACKER = '203.0.113.9';
  const NEIGHBOUR = '198.51.100.7';
  let server: RunningDemo;
  let viewer: Identity;
  let now: number;

  beforeAll(async () => {
    server = await startDemo(adapter, {
      TRUST_PROXY: '127.0.0.1',
      ANOMALY_FAILED_AUTH_PER_IP: '20/60s',
      ANOMALY_BLOCK_FOR: '10m',
    });
    now = Math.ceil(Date.now() / MINUTE) * MINUTE;
    vi.spyOn(server.demo.app.get(Clock), 'now').mockImplementation(() => now);
    viewer = await createIdentity(server.demo.app, ['viewer']);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  const call = (from: string, key: string, requestId?: string) =>
    fetch(`${server.baseUrl}/me`, {
      headers: { 'x-forwarded-for': from, 'x-api-key': key, ...(requestId ? { 'x-request-id': requestId } : {}) },
    });
  const rows = async (type: string): Promise<StoredAuditEvent[]> =>
    (await server.demo.app.get(AuditEventStore).recent(1_000)).filter((row) => row.type === type);

  it('counts, records and blocks the forwarded client, not the proxy', async () => {
    for (let i = 1; i <= 20; i += 1) {
      expect((await call(ATTACKER, generateApiKey().key, `${adapter}-proxied-${i}`)).status).toBe(401);
      now += 1_000;
    }
    await expect.poll(async () => (await rows('SUSPICIOUS_PATTERN')).length, { timeout: 5_000 }).toBe(1);
    const [pattern] = await rows('SUSPICIOUS_PATTERN');
    expect(pattern).toMatchObject({ ip: ATTACKER, details: { detector: 'failed-auth-by-ip', ip: ATTACKER } });
    const refused = (await rows('AUTH_FAILED')).filter((row) => row.requestId?.startsWith(`${adapter}-proxied-`));
    expect(new Set(refused.map((row) => row.ip))).toEqual(new Set([ATTACKER]));

    // The attacker is blocked, even with a valid key; a neighbour behind the same proxy is not.
    expect((await call(ATTACKER, viewer.key)).status).toBe(429);
    expect((await call(NEIGHBOUR, viewer.key)).status).toBe(200);
  });

  it("checks a key's IP allow-list against the forwarded client", async () => {
    const limited = await addKey(server.demo.app, viewer.id, { allowedCidrs: ['198.51.100.0/24'] });
    expect((await call(NEIGHBOUR, limited.key)).status).toBe(200);
    // The proxy's own address (127.0.0.1) is not what is checked: a client outside the list is refused.
    expect((await call('192.0.2.44', limited.key)).status).toBe(401);
  });
});
