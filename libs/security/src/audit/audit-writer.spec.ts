import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import type { AuditOptions } from '../options/security-options.js';
import { MemoryAuditEventStore } from './adapters/memory-audit-event.store.js';
import type { StoredAuditEvent } from './audit-event.store.js';
import { AUDIT_SPILL_FILE, AuditWriter, type AuditWriterTuning } from './audit-writer.js';
import { verifyAuditChain } from './core/verify-chain.js';
import type { SecurityEventRecord } from './security-event-types.js';
import { createSecurityLogger } from './security-logger.js';

/** A memory store that fails while `failing` is set, and can hold appends until `release()`. */
class ControlledStore extends MemoryAuditEventStore {
  failing = false;
  attempts = 0;
  /** Sizes of the batches that were stored. */
  readonly batches: number[] = [];
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.gate = null;
    this.open?.();
  }

  override async appendBatch(records: readonly SecurityEventRecord[]): Promise<StoredAuditEvent[]> {
    this.attempts += 1;
    if (this.gate) await this.gate;
    if (this.failing) throw new Error('connection refused');
    const stored = await super.appendBatch(records);
    this.batches.push(stored.length);
    return stored;
  }

  async all(): Promise<StoredAuditEvent[]> {
    return this.range('0', 1_000_000);
  }
}

class CapturedLog extends Writable {
  readonly lines: Array<Record<string, any>> = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) this.lines.push(JSON.parse(line));
    done();
  }
  messages(): string[] {
    return this.lines.map((line) => line.msg);
  }
}

let counter = 0;
function event(): SecurityEventRecord {
  counter += 1;
  return {
    id: randomUUID(),
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, counter)),
    type: 'AUTH_FAILED',
    outcome: 'denied',
    principalId: null,
    keyId: null,
    ip: '198.51.100.1',
    userAgent: 'test',
    method: 'GET',
    path: '/me',
    status: 401,
    requestId: `req-${counter}`,
    details: { n: counter, reason: 'missing' },
  };
}

const events = (count: number) => Array.from({ length: count }, event);
const ids = (rows: readonly { id: string }[]) => rows.map((row) => row.id);

describe('AuditWriter', () => {
  let dir: string;
  const writers: AuditWriter[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nas-audit-writer-'));
  });
  afterEach(async () => {
    for (const writer of writers.splice(0)) await writer.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Retries after a turn of the event loop instead of the real backoff; the delays are recorded. */
  function setup(audit: AuditOptions = {}, tuning: Partial<AuditWriterTuning> = {}, store = new ControlledStore()) {
    const log = new CapturedLog();
    const delays: number[] = [];
    const writer = new AuditWriter(
      resolveSecurityOptions({ audit }),
      createSecurityLogger(log),
      store,
      new ManualClock(Date.UTC(2026, 2, 1)),
      {
        sleep: async (ms) => {
          delays.push(ms);
          await new Promise((resolve) => setImmediate(resolve));
        },
        shutdownTimeoutMs: 200,
        ...tuning,
      },
    );
    writers.push(writer);
    return { writer, store, log, delays };
  }

  const spillFile = () => join(dir, AUDIT_SPILL_FILE);
  const spilledLines = async () =>
    (await readFile(spillFile(), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { id: string });

  it('stores events in order, in batches of at most batchSize, off the caller', async () => {
    const { writer, store } = setup({}, { batchSize: 500 });
    store.failing = true;
    const recorded = events(1_200);

    for (const record of recorded) writer.enqueue(record);
    expect(await store.all()).toEqual([]);
    store.failing = false;

    expect(await writer.flush(5_000)).toBe(true);
    expect(store.batches).toEqual([500, 500, 200]);
    const rows = await store.all();
    expect(ids(rows)).toEqual(ids(recorded));
    expect(await verifyAuditChain(rows)).toMatchObject({ ok: true, checked: 1_200 });
    expect(writer.stats()).toEqual({ queued: 0, spilled: 0, dropped: 0, written: 1_200 });
  });

  it('retries with a backoff doubling from 100 ms to 5 s, and starts over after a success', async () => {
    const { writer, store, delays, log } = setup();
    store.failing = true;

    writer.enqueue(event());
    await expect.poll(() => delays.length).toBeGreaterThanOrEqual(9);
    store.failing = false;
    await writer.flush(5_000);
    const before = delays.length;
    store.failing = true;
    writer.enqueue(event());
    await expect.poll(() => delays.length).toBeGreaterThanOrEqual(before + 2);
    store.failing = false;
    await writer.flush(5_000);

    expect(delays.slice(0, 9)).toEqual([100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000]);
    expect(delays.slice(before, before + 2)).toEqual([100, 200]);
    // One warning per outage, and one line when it ends, not one per retry.
    expect(log.messages().filter((m) => m === 'audit store unavailable: retrying')).toHaveLength(2);
    expect(log.messages().filter((m) => m === 'audit store available again')).toHaveLength(2);
    expect((await store.all()).length).toBe(2);
  });

  it('spills the queue and every later event to a 0600 file when the queue is full, then replays it in order', async () => {
    const { writer, store, log } = setup({ spillDir: dir, queueCapacity: 10 });
    store.failing = true;
    const recorded = events(25);

    for (const record of recorded) writer.enqueue(record);
    await expect.poll(() => writer.stats().spilled).toBe(25);

    expect(ids(await spilledLines())).toEqual(ids(recorded));
    expect((await stat(spillFile())).mode & 0o777).toBe(0o600);
    expect(writer.stats()).toMatchObject({ queued: 0, spilled: 25, written: 0 });
    expect(log.messages()).toContain('audit queue full: spilling events to disk');

    const more = events(5);
    store.failing = false;
    for (const record of more) writer.enqueue(record);
    expect(await writer.flush(5_000)).toBe(true);

    const rows = await store.all();
    expect(ids(rows)).toEqual(ids([...recorded, ...more]));
    // Dates come back as dates, so the hashes are those of the recorded events.
    expect(rows[0]!.at).toEqual(recorded[0]!.at);
    expect(await verifyAuditChain(rows)).toMatchObject({ ok: true, checked: 30 });
    await expect
      .poll(() =>
        stat(spillFile()).then(
          () => 'present',
          () => 'gone',
        ),
      )
      .toBe('gone');
    expect(writer.stats()).toEqual({ queued: 0, spilled: 0, dropped: 0, written: 30 });
    expect(log.messages()).toContain('audit spill file replayed');
  });

  it('keeps the order while events keep arriving during the replay, and goes back to memory after', async () => {
    const { writer, store } = setup({ spillDir: dir, queueCapacity: 20 }, { batchSize: 7 });
    store.failing = true;
    const recorded = events(100);
    for (const record of recorded.slice(0, 60)) writer.enqueue(record);
    await expect.poll(() => writer.stats().spilled).toBe(60);

    store.failing = false;
    for (const record of recorded.slice(60)) {
      writer.enqueue(record);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await writer.flush(5_000)).toBe(true);
    const late = events(3);
    for (const record of late) writer.enqueue(record);
    expect(await writer.flush(5_000)).toBe(true);

    expect(ids(await store.all())).toEqual(ids([...recorded, ...late]));
    expect(writer.stats()).toMatchObject({ queued: 0, spilled: 0, written: 103 });
  });

  it('does not store twice a batch that was in flight when it moved to the spill file', async () => {
    const { writer, store } = setup({ spillDir: dir, queueCapacity: 5 });
    store.hold();
    const recorded = events(12);

    writer.enqueue(recorded[0]!); // taken by the loop, which now waits on the store
    for (const record of recorded.slice(1)) writer.enqueue(record);
    await expect.poll(() => writer.stats().spilled).toBe(12);
    store.release();

    expect(await writer.flush(5_000)).toBe(true);
    expect(ids(await store.all())).toEqual(ids(recorded));
    expect(writer.stats()).toMatchObject({ written: 12, dropped: 0 });
  });

  it('flush resolves false after its timeout and spills what was still in memory', async () => {
    const { writer, store } = setup({ spillDir: dir });
    store.failing = true;
    const recorded = events(3);
    for (const record of recorded) writer.enqueue(record);

    expect(await writer.flush(20)).toBe(false);

    expect(ids(await spilledLines())).toEqual(ids(recorded));
    expect(writer.stats()).toMatchObject({ queued: 0, spilled: 3 });
  });

  it('on shutdown with the store down, spills the rest; the next start replays that file first', async () => {
    const first = setup({ spillDir: dir });
    first.store.failing = true;
    const before = events(5);
    for (const record of before) first.writer.enqueue(record);

    await first.writer.close();
    expect(ids(await spilledLines())).toEqual(ids(before));

    const second = setup({ spillDir: dir });
    const after = events(2);
    for (const record of after) second.writer.enqueue(record);
    second.writer.start();
    expect(await second.writer.flush(5_000)).toBe(true);

    expect(ids(await second.store.all())).toEqual(ids([...before, ...after]));
    expect(second.log.messages()).toContain('audit spill file from an earlier run: replaying it');
  });

  it('appends an event recorded after shutdown straight to the spill file', async () => {
    const { writer } = setup({ spillDir: dir });
    await writer.close();
    const late = event();

    writer.enqueue(late);

    expect(ids(await spilledLines())).toEqual([late.id]);
  });

  it('skips unreadable and torn lines left by an earlier run, logging each as dropped', async () => {
    const [good, other] = events(2);
    await writeFile(spillFile(), `${JSON.stringify(good)}\nnot json\n${JSON.stringify(other)}\n{"id":"torn`);
    const { writer, store, log } = setup({ spillDir: dir });

    writer.start();
    expect(await writer.flush(5_000)).toBe(true);

    expect(ids(await store.all())).toEqual([good!.id, other!.id]);
    expect(writer.stats().dropped).toBe(2);
    expect(log.messages().filter((m) => m === 'audit event dropped: unreadable spill line')).toHaveLength(2);
  });

  describe('when events can be neither stored nor spilled', () => {
    it('without a spill directory, holds them in memory up to the hard cap, then drops and logs each', async () => {
      const { writer, store, log } = setup({ queueCapacity: 5 }, { hardCapacity: 8 });
      store.failing = true;
      const recorded = events(10);

      for (const record of recorded) writer.enqueue(record);

      expect(writer.stats()).toMatchObject({ queued: 8, dropped: 2, spilled: 0 });
      const drops = log.lines.filter((line) => line.msg === 'audit event dropped: not stored in the audit trail');
      expect(drops.map((line) => [line.level, line.eventId, line.reason])).toEqual([
        ['error', recorded[8]!.id, 'memory full'],
        ['error', recorded[9]!.id, 'memory full'],
      ]);
      expect(log.messages()).toContain('audit queue full and no spill directory: holding events in memory');

      store.failing = false;
      expect(await writer.flush(5_000)).toBe(true);
      expect(ids(await store.all())).toEqual(ids(recorded.slice(0, 8)));
    });

    it('when the spill file cannot be written, holds them in memory in order and stores them once the store is back', async () => {
      const blocked = join(dir, 'not-a-directory');
      await writeFile(blocked, '');
      const { writer, store, log } = setup({ spillDir: join(blocked, 'audit'), queueCapacity: 3 }, { hardCapacity: 6 });
      store.failing = true;
      const recorded = events(8);

      for (const record of recorded) writer.enqueue(record);
      await expect
        .poll(() => log.messages())
        .toContain('audit spill file could not be written: holding events in memory');

      expect(writer.stats()).toMatchObject({ queued: 6, dropped: 2, spilled: 0 });
      store.failing = false;
      expect(await writer.flush(5_000)).toBe(true);
      expect(ids(await store.all())).toEqual(ids(recorded.slice(0, 6)));
    });

    it('when the spill directory is not writable, shutdown logs what it had to drop', async () => {
      const readOnly = join(dir, 'read-only');
      await mkdir(readOnly);
      await chmod(readOnly, 0o500);
      const { writer, store, log } = setup({ spillDir: readOnly });
      store.failing = true;
      const recorded = events(2);
      for (const record of recorded) writer.enqueue(record);

      await writer.close();

      // root ignores file modes: there the spill works, and nothing is dropped.
      const dropped = log.lines.filter((line) => line.reason === 'shutdown').map((line) => line.eventId);
      const spilled = await readFile(join(readOnly, AUDIT_SPILL_FILE), 'utf8').then(
        (text) => text.split('\n').filter(Boolean).length,
        () => 0,
      );
      expect(dropped.length + spilled).toBe(2);
      expect(writer.stats().dropped).toBe(dropped.length);
      await chmod(readOnly, 0o700);
    });
  });

  it('logs the chain head at each interval when it moved, and once more after the shutdown flush', async () => {
    const { writer, log } = setup({ headInterval: '20ms' });
    writer.start();
    writer.enqueue(event());
    await writer.flush(5_000);
    await expect.poll(() => log.lines.filter((line) => line.msg === 'audit chain head').length).toBe(1);
    writer.enqueue(event());
    await writer.close();

    const heads = log.lines.filter((line) => line.msg === 'audit chain head').map((line) => line.auditHead);
    expect(heads).toEqual([
      { seq: '1', hash: expect.stringMatching(/^[0-9a-f]{64}$/), at: '2026-03-01T00:00:00.000Z' },
      { seq: '2', hash: expect.stringMatching(/^[0-9a-f]{64}$/), at: '2026-03-01T00:00:00.000Z' },
    ]);
  });

  it('logs no chain head when the security log is off', async () => {
    const { writer, log } = setup({ log: false, headInterval: '10ms' });
    writer.start();
    writer.enqueue(event());

    await writer.close();

    expect(log.lines.filter((line) => line.msg === 'audit chain head')).toEqual([]);
  });
});
