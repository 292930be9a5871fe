import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import type { SecurityModuleOptions } from '../options/security-options.js';
import { MemoryAuditEventStore } from './adapters/memory-audit-event.store.js';
import type { AuditEventStore, StoredAuditEvent } from './audit-event.store.js';
import { AuditWriter } from './audit-writer.js';
import { verifyAuditChain } from './core/verify-chain.js';
import type { SecurityEventInput, SecurityEventRecord } from './security-event-types.js';
import { SecurityEvents } from './security-events.service.js';
import { createSecurityLogger } from './security-logger.js';

const NOW = new Date('2026-03-04T05:06:07.089Z');

const REQUEST = {
  requestId: 'req-123',
  method: 'POST',
  path: '/login',
  ip: '203.0.113.7',
  userAgent: 'curl/8.5.0',
} as const;

/** A pino destination that keeps everything written to it. */
class CapturedOutput extends Writable {
  private text = '';

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }

  /** Everything written so far, after pending writes have been delivered. */
  async raw(): Promise<string> {
    await new Promise((resolve) => setImmediate(resolve));
    return this.text;
  }

  async lines(): Promise<Array<Record<string, any>>> {
    const raw = await this.raw();
    return raw
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line));
  }
}

/** A store that fails until `healthy` is set. */
class FlakyStore extends MemoryAuditEventStore {
  healthy = false;
  attempts = 0;

  override async appendBatch(records: readonly SecurityEventRecord[]): Promise<StoredAuditEvent[]> {
    this.attempts += 1;
    if (!this.healthy) throw new Error('connection terminated');
    return super.appendBatch(records);
  }
}

function setup(options: SecurityModuleOptions = {}, store: AuditEventStore = new MemoryAuditEventStore()) {
  const output = new CapturedOutput();
  const clock = new ManualClock(NOW.getTime());
  const resolved = resolveSecurityOptions(options);
  const logger = createSecurityLogger(output);
  // Retries without waiting: the backoff itself is the writer's spec.
  const writer = new AuditWriter(resolved, logger, store, clock, { sleep: () => new Promise((r) => setImmediate(r)) });
  const events = new SecurityEvents(resolved, logger, store, clock, writer);
  return { output, clock, store, events };
}

const LOGIN_FAILED: SecurityEventInput = {
  type: 'LOGIN_FAILED',
  outcome: 'failure',
  principalId: '11111111-1111-4111-8111-111111111111',
  status: 401,
  request: REQUEST,
  details: { username: 'alice' },
};

describe('SecurityEvents', () => {
  it('writes one JSON line per event with the type, the clock time and the request fields', async () => {
    const { output, store, events } = setup();

    const record = await events.record(LOGIN_FAILED);
    await events.flush();
    const raw = await output.raw();
    const lines = await output.lines();

    expect(raw.endsWith('\n')).toBe(true);
    expect(raw.split('\n')).toHaveLength(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      name: 'security',
      msg: 'security event LOGIN_FAILED',
      event: {
        id: record.id,
        type: 'LOGIN_FAILED',
        outcome: 'failure',
        at: NOW.toISOString(),
        principalId: '11111111-1111-4111-8111-111111111111',
        keyId: null,
        status: 401,
        requestId: 'req-123',
        method: 'POST',
        path: '/login',
        ip: '203.0.113.7',
        userAgent: 'curl/8.5.0',
        details: { username: 'alice' },
      },
    });
    expect(record.at).toEqual(NOW);
    expect(await store.recent(10)).toEqual([expect.objectContaining({ ...record, seq: '1' })]);
  });

  it('takes each event time from the clock', async () => {
    const { output, clock, events } = setup();

    await events.record(LOGIN_FAILED);
    clock.advance(90_000);
    await events.record({ type: 'LOGIN_SUCCEEDED', outcome: 'success' });
    const lines = await output.lines();

    expect(lines.map((line) => [line.level, line.event.at])).toEqual([
      ['warn', NOW.toISOString()],
      ['info', new Date(NOW.getTime() + 90_000).toISOString()],
    ]);
  });

  it('redacts secret-looking keys at any depth in both the log line and the stored row', async () => {
    const { output, store, events } = setup();
    const secrets = ['hunter2-password', 'sk_live_ABCDEFGHIJKL', 'Bearer eyJhbGciOi', 'tok-998877', 'nested-s3cret'];

    await events.record({
      type: 'LOGIN_FAILED',
      outcome: 'failure',
      request: REQUEST,
      details: {
        username: 'alice',
        password: secrets[0],
        apiKey: secrets[1],
        authorization: secrets[2],
        token: secrets[3],
        user: { name: 'alice', secret: secrets[4] },
      },
    });
    await events.flush();
    const [line] = await output.lines();
    const [row] = await store.recent(1);

    const redacted = {
      username: 'alice',
      password: '[REDACTED]',
      apiKey: '[REDACTED]',
      authorization: '[REDACTED]',
      token: '[REDACTED]',
      user: { name: 'alice', secret: '[REDACTED]' },
    };
    expect(line!.event.details).toEqual(redacted);
    expect(row!.details).toEqual(redacted);
    const everything = (await output.raw()) + JSON.stringify(row);
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });

  it('keeps a value with newlines and quotes inside one JSON line', async () => {
    const { output, store, events } = setup();
    const forged = 'alice"}\n{"level":"info","msg":"security event LOGIN_SUCCEEDED"}\r\n\u2028"';

    await events.record({ ...LOGIN_FAILED, details: { username: forged } });
    await events.flush();
    const raw = await output.raw();
    const lines = await output.lines();

    expect(raw.split('\n')).toHaveLength(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.event.details.username).toBe(forged);
    expect((await store.recent(1))[0]!.details.username).toBe(forged);
  });

  it('records the actor of an event without a request in the details', async () => {
    const { output, store, events } = setup();

    await events.record({ type: 'KEY_REVOKED', outcome: 'success', actor: 'cli:alice', details: { keyId: 'k1' } });
    await events.flush();
    const [line] = await output.lines();

    expect(line!.level).toBe('info');
    expect(line!.event).toMatchObject({ requestId: null, method: null, path: null, ip: null, userAgent: null });
    expect(line!.event.details).toEqual({ keyId: 'k1', actor: 'cli:alice' });
    expect((await store.recent(1))[0]!.details).toEqual({ keyId: 'k1', actor: 'cli:alice' });
  });

  it('writes neither a line nor a row with audit: false', async () => {
    const { output, store, events } = setup({ audit: false });

    const record = await events.record(LOGIN_FAILED);
    await events.flush();

    expect(record.type).toBe('LOGIN_FAILED');
    expect(await output.raw()).toBe('');
    expect(await store.recent(10)).toEqual([]);
  });

  it('writes the row but no line with audit: { log: false }', async () => {
    const { output, store, events } = setup({ audit: { log: false } });

    const record = await events.record(LOGIN_FAILED);
    await events.flush();

    expect(await output.raw()).toBe('');
    expect(await store.recent(10)).toEqual([expect.objectContaining({ id: record.id, type: 'LOGIN_FAILED' })]);
  });

  it('writes the line but no row with audit: { database: false }', async () => {
    const { output, store, events } = setup({ audit: { database: false } });

    await events.record(LOGIN_FAILED);
    await events.flush();

    expect(await output.lines()).toHaveLength(1);
    expect(await store.recent(10)).toEqual([]);
  });

  it('resolves before the row is written, retries while the store fails, and logs the outage once', async () => {
    const store = new FlakyStore();
    const { output, events } = setup({}, store);

    const record = await events.record(LOGIN_FAILED);
    await expect.poll(() => store.attempts).toBeGreaterThanOrEqual(3);
    const during = await output.lines();
    store.healthy = true;

    expect(await events.flush()).toBe(true);
    expect(record.type).toBe('LOGIN_FAILED');
    expect(during.map((line) => line.level)).toEqual(['warn', 'warn']);
    expect(during[1]).toMatchObject({
      msg: 'audit store unavailable: retrying',
      err: { message: 'connection terminated' },
    });
    expect(await store.recent(10)).toEqual([expect.objectContaining({ id: record.id, seq: '1' })]);
  });

  it('stores details as JSON gives them back, so the hash still verifies after a round trip', async () => {
    const { store, events } = setup();

    await events.record({ ...LOGIN_FAILED, details: { ratio: Number.NaN, missing: undefined, when: NOW } });
    await events.flush();
    const [row] = await store.recent(1);

    expect(row!.details).toEqual({ ratio: null, when: NOW.toISOString() });
    expect(await verifyAuditChain(await store.range('0', 10))).toMatchObject({ ok: true, checked: 1 });
  });
});
