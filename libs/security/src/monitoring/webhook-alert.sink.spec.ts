import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SecurityEventType } from '../audit/security-event-types.js';
import { ManualClock } from '../core/clock.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import type { WebhookAlertOptions } from '../options/security-options.js';
import { FakeSecurityEvents } from './fake-security-events.test-helpers.js';
import { WebhookAlertSink, webhookSignature, type WebhookAlertTuning } from './webhook-alert.sink.js';

const SECRET = 'whsec-0123456789abcdef';

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A webhook receiver on 127.0.0.1 whose answers the test decides, one request at a time. */
async function startReceiver(answer: (index: number, response: ServerResponse) => void) {
  const received: Received[] = [];
  const held: ServerResponse[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(received.length - 1, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/security`,
    received,
    held,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const ok = (_: number, response: ServerResponse) => response.writeHead(204).end();

let receiver: Receiver | undefined;
let sink: WebhookAlertSink | undefined;
afterEach(async () => {
  await sink?.onApplicationShutdown();
  await receiver?.close();
  sink = undefined;
  receiver = undefined;
});

async function setup(
  answer: (index: number, response: ServerResponse) => void,
  webhook: Partial<WebhookAlertOptions> = {},
  tuning: WebhookAlertTuning = {},
) {
  receiver = await startReceiver(answer);
  const clock = new ManualClock();
  const events = new FakeSecurityEvents(clock);
  const warnings: string[] = [];
  sink = new WebhookAlertSink(
    resolveSecurityOptions({ alerts: { webhook: { url: receiver.url, secret: SECRET, ...webhook } } }),
    events.asService(),
    { retryDelaysMs: [1, 1], logger: { warn: (message) => warnings.push(message) }, ...tuning },
  );
  const emit = (type: SecurityEventType = 'SUSPICIOUS_PATTERN', details: Record<string, unknown> = {}) =>
    events.record({ type, outcome: 'denied', request: { ip: '203.0.113.7' }, details });
  return { receiver, sink, events, warnings, emit };
}

describe('WebhookAlertSink', () => {
  it('POSTs each chosen event as {"event": record}, signed over the raw body', async () => {
    const { receiver, emit } = await setup(ok);
    const record = await emit('SUSPICIOUS_PATTERN', { detector: 'failed-auth-by-ip' });
    await emit('PERMISSION_DENIED');
    await expect.poll(() => receiver.received.length).toBe(1);

    const [{ headers, body }] = receiver.received as [Received];
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-event-type']).toBe('SUSPICIOUS_PATTERN');
    expect(headers['x-event-id']).toBe(record.id);
    const expected = createHmac('sha256', SECRET).update(body).digest('hex');
    const signature = String(headers['x-signature-256']);
    expect(signature.startsWith('sha256=')).toBe(true);
    expect(timingSafeEqual(Buffer.from(signature.slice(7), 'hex'), Buffer.from(expected, 'hex'))).toBe(true);
    expect(webhookSignature(SECRET, body)).toBe(signature);
    expect(JSON.parse(body)).toEqual({ event: JSON.parse(JSON.stringify(record)) });
  });

  it('sends the configured event types only, and no signature without a secret', async () => {
    const { receiver, emit } = await setup(ok, { events: ['PERMISSION_DENIED', 'KEY_REVOKED'], secret: undefined });
    await emit('SUSPICIOUS_PATTERN');
    await emit('PERMISSION_DENIED');
    await emit('KEY_REVOKED');
    await expect
      .poll(() => receiver.received.map((r) => r.headers['x-event-type']))
      .toEqual(['PERMISSION_DENIED', 'KEY_REVOKED']);
    expect(receiver.received[0]!.headers['x-signature-256']).toBeUndefined();
  });

  it('retries a 500 with backoff and delivers on the third attempt', async () => {
    const { receiver, emit, warnings } = await setup((index, response) =>
      response.writeHead(index < 2 ? 500 : 200).end(),
    );
    const record = await emit();
    await expect.poll(() => receiver.received.length).toBe(3);
    expect(new Set(receiver.received.map((r) => r.headers['x-event-id']))).toEqual(new Set([record.id]));
    await expect.poll(() => sink!.pending).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('gives up after three attempts and says so', async () => {
    const { receiver, emit, warnings } = await setup((_, response) => response.writeHead(503).end());
    await emit();
    await expect.poll(() => warnings.length).toBe(1);
    expect(receiver.received).toHaveLength(3);
    expect(warnings[0]).toMatch(/not delivered after 3 attempt\(s\): HTTP 503/);
  });

  it('does not retry an answer that retrying cannot change (4xx)', async () => {
    const { receiver, emit, warnings } = await setup((_, response) => response.writeHead(401).end());
    await emit();
    await expect.poll(() => warnings.length).toBe(1);
    expect(receiver.received).toHaveLength(1);
    expect(warnings[0]).toMatch(/HTTP 401/);
  });

  it('abandons an attempt that outlives the timeout and retries it', async () => {
    const { receiver, emit, warnings } = await setup(
      (index, response) => (index === 0 ? receiver!.held.push(response) : response.writeHead(200).end()),
      { timeout: '50ms' },
    );
    await emit();
    await expect.poll(() => receiver.received.length).toBe(2);
    await expect.poll(() => sink!.pending).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('never makes the recording wait, and drops alerts with a warning when the queue is full', async () => {
    const { receiver, emit, warnings } = await setup(
      (_, response) => receiver!.held.push(response),
      {},
      {
        maxQueue: 2,
      },
    );
    // The first is taken out for delivery (held by the receiver), two wait, two are dropped.
    for (let i = 0; i < 5; i += 1) await emit('SUSPICIOUS_PATTERN', { n: i });
    await expect.poll(() => receiver.held.length).toBe(1);
    expect(sink!.pending).toBe(3);
    expect(warnings).toEqual([expect.stringMatching(/queue full \(2\), dropping alerts/)]);

    for (let i = 0; i < 3; i += 1) {
      await expect.poll(() => receiver.held.length).toBe(i + 1);
      receiver.held[i]!.writeHead(200).end();
    }
    await expect.poll(() => sink!.pending).toBe(0);
    expect(receiver.received.map((r) => JSON.parse(r.body).event.details.n)).toEqual([0, 1, 2]);
    await emit('SUSPICIOUS_PATTERN', { n: 5 });
    expect(warnings[1]).toMatch(/2 alert\(s\) dropped/);
    await expect.poll(() => receiver.held.length).toBe(4);
    receiver.held[3]!.writeHead(200).end();
  });

  it('drains the queue at shutdown, then takes no more alerts', async () => {
    const { receiver, emit, events } = await setup(ok);
    for (let i = 0; i < 5; i += 1) await emit();
    await sink!.onApplicationShutdown();
    expect(receiver.received).toHaveLength(5);
    expect(events.listenerCount).toBe(0);
  });

  it('waits at most flushTimeoutMs at shutdown when the receiver hangs', async () => {
    const { receiver, emit, warnings } = await setup(
      (_, response) => receiver!.held.push(response),
      {},
      {
        flushTimeoutMs: 50,
      },
    );
    await emit();
    await emit();
    await expect.poll(() => receiver.held.length).toBe(1);
    await sink!.onApplicationShutdown();
    expect(warnings[0]).toMatch(/2 alert\(s\) not delivered before shutdown/);
    await expect.poll(() => sink!.pending).toBe(0);
    expect(receiver.received).toHaveLength(1);
  });

  it('does not subscribe without a webhook', () => {
    const events = new FakeSecurityEvents(new ManualClock());
    new WebhookAlertSink(resolveSecurityOptions({}), events.asService());
    new WebhookAlertSink(resolveSecurityOptions({ alerts: {} }), events.asService());
    expect(events.listenerCount).toBe(0);
  });
});
