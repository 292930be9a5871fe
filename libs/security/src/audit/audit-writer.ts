import {
  Inject,
  Injectable,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { Clock } from '../core/clock.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { SECURITY_LOGGER, SECURITY_OPTIONS } from '../security.constants.js';
import { AuditEventStore, type AuditChainHead } from './audit-event.store.js';
import type { SecurityEventRecord } from './security-event-types.js';

/** Injection token of optional `AuditWriterTuning` overrides (tests). */
export const AUDIT_WRITER_TUNING = Symbol.for('nest-api-security.audit-writer-tuning');

/** Knobs of the writer that are not user options; tests shorten them. */
export interface AuditWriterTuning {
  /** Records per `appendBatch` (default 500). */
  readonly batchSize: number;
  /** First retry delay after a failed write, doubled on each failure (default 100 ms)... */
  readonly retryInitialMs: number;
  /** ...up to this (default 5 s). */
  readonly retryMaxMs: number;
  /** Events held in memory when they cannot be spilled; beyond it they are dropped (default 5 x capacity). */
  readonly hardCapacity: number;
  /** How long shutdown waits for the store before spilling the rest (default 10 s). */
  readonly shutdownTimeoutMs: number;
  /** Waits `ms` or until `signal` aborts (shutdown). */
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** What the writer holds and has done; for metrics. */
export interface AuditWriterStats {
  /** Events in memory now, waiting for the store or for the spill file. */
  readonly queued: number;
  /** Events this process spilled to the file that are not replayed yet. */
  readonly spilled: number;
  /** Events lost since start (each also logged as an error line). */
  readonly dropped: number;
  /** Rows stored since start. */
  readonly written: number;
}

/** File name of the spill file inside `audit.spillDir`. */
export const AUDIT_SPILL_FILE = 'audit-spill.jsonl';

interface Entry {
  readonly record: SecurityEventRecord;
  /** Enqueue order in this process; `flush` waits for the indexes before its call. */
  readonly index: number;
}

interface SpillBatch {
  readonly records: SecurityEventRecord[];
  readonly bytes: number;
  /** Lines written by this process (the rest come from an earlier run). */
  readonly ownLines: number;
  /** Byte offsets of lines that could not be read back. */
  readonly unreadable: number[];
}

const SPILL_READ_BYTES = 1 << 20;
const HEAD_LOG_TIMEOUT_MS = 2_000;
const LOOP_EXIT_WAIT_MS = 1_000;

/**
 * Writes audit rows off the request path, in the order events were recorded, without losing them
 * while the database is away.
 *
 * - `enqueue` only queues; one loop stores batches of up to `batchSize` with `appendBatch`, retrying
 *   with exponential backoff while the store fails (a retried batch is not stored twice: the store
 *   skips ids it already has).
 * - When the queue holds `audit.queueCapacity` events, the queue and every later event go to
 *   `<spillDir>/audit-spill.jsonl` (append-only, 0600, fsync per write) for as long as the file holds
 *   anything, so the order is kept: queue, then file. Once the store works again and the queue is
 *   empty, the file is replayed in order, then deleted. A file left by an earlier run (shutdown while
 *   the database was down) is replayed first.
 * - Shutdown flushes for at most `shutdownTimeoutMs`, then spills what is left.
 *
 * When events can be neither stored nor spilled (no `spillDir`, or the file cannot be written), they
 * are kept in memory beyond the capacity up to `hardCapacity`; past that, new events are dropped, each
 * with an error log line naming it (its own security log line was already written) and counted in
 * `stats().dropped`. Memory stays bounded and the trail keeps its order; the loss is visible.
 */
@Injectable()
export class AuditWriter implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly tuning: AuditWriterTuning;
  private readonly capacity: number;
  private readonly spillPath: string | null;

  private queue: Entry[] = [];
  private mode: 'memory' | 'spill' = 'memory';
  // Spill mode: lines waiting to be written, being written, and held in memory when the file fails.
  private spillBuffer: Entry[] = [];
  private inWrite: Entry[] = [];
  private overflow: Entry[] = [];
  private spillBroken = false;
  private handle: FileHandle | null = null;
  private writing: Promise<void> | null = null;
  private fileReset: Promise<void> = Promise.resolve();
  private committedBytes = 0;
  private replayedBytes = 0;
  private previousRunBytes = 0;
  // Indexes of this process's lines in the file, in order, from `fileHead` on.
  private fileIndexes: number[] = [];
  private fileHead = 0;

  private enqueued = 0;
  private written = 0;
  private dropped = 0;
  private waiters: Array<{ target: number; resolve: (stored: boolean) => void }> = [];

  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private readonly stopSignal = new AbortController();
  private stopped = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private headTimer: NodeJS.Timeout | null = null;
  private lastLoggedHead: string | null = null;
  private readonly warned = new Set<'store' | 'spill' | 'spill-failed' | 'over-capacity'>();

  constructor(
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    @Inject(SECURITY_LOGGER) private readonly logger: Logger,
    private readonly store: AuditEventStore,
    private readonly clock: Clock,
    @Optional() @Inject(AUDIT_WRITER_TUNING) tuning?: Partial<AuditWriterTuning>,
  ) {
    const audit = options.audit;
    this.capacity = audit ? audit.queueCapacity : 10_000;
    this.tuning = {
      batchSize: 500,
      retryInitialMs: 100,
      retryMaxMs: 5_000,
      hardCapacity: 5 * this.capacity,
      shutdownTimeoutMs: 10_000,
      sleep,
      ...tuning,
    };
    this.spillPath = audit && audit.database && audit.spillDir ? join(resolve(audit.spillDir), AUDIT_SPILL_FILE) : null;
    this.resumeSpillFile();
  }

  /** Queues one record for the trail. Never throws and never waits. */
  enqueue(record: SecurityEventRecord): void {
    const entry: Entry = { record, index: ++this.enqueued };
    if (this.closed) {
      this.appendAfterClose(entry);
    } else if (this.mode === 'spill') {
      if (this.spillBroken) {
        this.holdInMemory(entry, this.overflow);
      } else {
        this.spillBuffer.push(entry);
        this.kickSpillWrite();
      }
    } else if (this.queue.length < this.capacity) {
      this.queue.push(entry);
    } else if (this.spillPath) {
      const queued = this.queue;
      this.queue = [];
      this.enterSpill([...queued, entry]);
    } else {
      if (!this.warned.has('over-capacity')) {
        this.warned.add('over-capacity');
        this.logger.warn(
          { queued: this.queue.length, hardCapacity: this.tuning.hardCapacity },
          'audit queue full and no spill directory: holding events in memory',
        );
      }
      this.holdInMemory(entry, this.queue);
    }
    this.ensureRunning();
    this.wake();
  }

  /**
   * Resolves true once every event enqueued before the call is stored. After `timeoutMs` it spills
   * what is still in memory (when a spill directory is configured) and resolves false.
   */
  async flush(timeoutMs = this.tuning.shutdownTimeoutMs): Promise<boolean> {
    const target = this.enqueued;
    if (this.oldestPending() > target) return true;
    this.ensureRunning();
    let timer: NodeJS.Timeout | undefined;
    let waiter: { target: number; resolve: (stored: boolean) => void } | undefined;
    const stored = await Promise.race([
      new Promise<boolean>((resolveWaiter) => {
        waiter = { target, resolve: resolveWaiter };
        this.waiters.push(waiter);
      }),
      new Promise<boolean>((resolveTimeout) => {
        timer = setTimeout(() => resolveTimeout(false), timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    this.waiters = this.waiters.filter((w) => w !== waiter);
    if (!stored) await this.spillMemory();
    return stored;
  }

  /** Counts for metrics: see `AuditWriterStats`. */
  stats(): AuditWriterStats {
    return {
      queued: this.queue.length + this.spillBuffer.length + this.inWrite.length + this.overflow.length,
      spilled: this.fileIndexes.length - this.fileHead,
      dropped: this.dropped,
      written: this.written,
    };
  }

  /** Starts the loop (replaying a spill file left by an earlier run) and the chain-head log timer. */
  start(): void {
    const audit = this.options.audit;
    if (!audit || !audit.database || this.stopped) return;
    this.ensureRunning();
    if (audit.log && !this.headTimer) {
      this.headTimer = setInterval(() => void this.logHead(), audit.headIntervalMs);
      this.headTimer.unref();
    }
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  /** Flushes (bounded), spills what is left, stops the loop and logs the chain head. Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= this.shutdown());
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.close();
  }

  private async shutdown(): Promise<void> {
    if (this.headTimer) clearInterval(this.headTimer);
    const deadline = Date.now() + this.tuning.shutdownTimeoutMs;
    let stored = true;
    // Events recorded while flushing (other shutdown hooks) are flushed too, within the same bound.
    while (stored && this.oldestPending() <= this.enqueued) {
      stored = await this.flush(Math.max(0, deadline - Date.now()));
    }
    this.stopped = true;
    this.stopSignal.abort();
    this.wake();
    if (this.loop) await Promise.race([this.loop, delay(LOOP_EXIT_WAIT_MS)]);
    await this.spillMemory();
    this.closed = true;
    // Whatever could be neither stored nor spilled is lost with the process.
    for (const entry of [...this.queue, ...this.spillBuffer, ...this.overflow]) this.drop(entry, 'shutdown');
    this.queue = [];
    this.spillBuffer = [];
    this.overflow = [];
    await this.handle?.close().catch(() => undefined);
    this.handle = null;
    if (stored) await Promise.race([this.logHead(), delay(HEAD_LOG_TIMEOUT_MS)]);
  }

  // ---- the writer loop ----

  private ensureRunning(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.run().finally(() => (this.loop = null));
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = null;
    wakeUp?.();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (this.queue.length > 0) {
          await this.writeQueueBatch();
        } else if (this.mode === 'spill' && this.replayedBytes < this.committedBytes) {
          await this.replaySpillBatch();
        } else if (this.mode === 'spill' && this.spillBuffer.length === 0 && !this.writing) {
          this.finishSpill();
          continue;
        } else {
          await new Promise<void>((resolveWake) => (this.wakeUp = resolveWake));
          continue;
        }
        if (failures > 0) {
          this.warned.delete('store');
          this.logger.info({ afterFailures: failures }, 'audit store available again');
        }
        failures = 0;
      } catch (error) {
        failures += 1;
        if (!this.warned.has('store')) {
          this.warned.add('store');
          this.logger.warn(
            { err: briefError(error), queued: this.stats().queued },
            'audit store unavailable: retrying',
          );
        }
        const backoff = Math.min(this.tuning.retryMaxMs, this.tuning.retryInitialMs * 2 ** (failures - 1));
        await this.tuning.sleep(backoff, this.stopSignal.signal);
      }
    }
  }

  private async writeQueueBatch(): Promise<void> {
    const batch = this.queue.slice(0, this.tuning.batchSize);
    const stored = await this.store.appendBatch(batch.map((entry) => entry.record));
    this.written += stored.length;
    // The batch may have moved to the spill file meanwhile (queue full, flush timeout): it stays
    // there, and its replay skips what this call stored.
    if (this.queue[0] === batch[0]) this.queue.splice(0, batch.length);
    if (this.queue.length < this.capacity) this.warned.delete('over-capacity');
    this.notify();
  }

  private async replaySpillBatch(): Promise<void> {
    let batch: SpillBatch;
    try {
      batch = await this.readSpill();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // Deleted by hand: what it held is gone. Say so, and carry on with what comes next.
      const lost = this.fileIndexes.length - this.fileHead;
      this.dropped += lost;
      this.logger.error({ path: this.spillPath, lost }, 'audit spill file disappeared before it was replayed');
      this.replayedBytes = this.committedBytes;
      this.fileHead = this.fileIndexes.length;
      this.notify();
      return;
    }
    if (batch.records.length > 0) this.written += (await this.store.appendBatch(batch.records)).length;
    for (const offset of batch.unreadable) {
      this.dropped += 1;
      this.logger.error({ path: this.spillPath, offset }, 'audit event dropped: unreadable spill line');
    }
    this.replayedBytes += batch.bytes;
    this.fileHead += batch.ownLines;
    if (this.fileHead > 4096 && this.fileHead * 2 > this.fileIndexes.length) {
      this.fileIndexes = this.fileIndexes.slice(this.fileHead);
      this.fileHead = 0;
    }
    this.notify();
  }

  // ---- spilling ----

  private enterSpill(entries: Entry[]): void {
    this.mode = 'spill';
    if (!this.warned.has('spill')) {
      this.warned.add('spill');
      this.logger.warn({ path: this.spillPath, events: entries.length }, 'audit queue full: spilling events to disk');
    }
    this.spillBuffer.push(...entries);
    this.kickSpillWrite();
  }

  private kickSpillWrite(): void {
    if (this.writing || this.spillBuffer.length === 0) return;
    this.writing = this.writeSpill().finally(() => {
      this.writing = null;
      this.kickSpillWrite();
      this.wake();
    });
  }

  private async writeSpill(): Promise<void> {
    await this.fileReset;
    const entries = (this.inWrite = this.spillBuffer);
    this.spillBuffer = [];
    const text = entries.map((entry) => `${JSON.stringify(entry.record)}\n`).join('');
    try {
      if (!this.handle) {
        await mkdir(dirname(this.spillPath!), { recursive: true, mode: 0o700 });
        this.handle = await open(this.spillPath!, 'a', 0o600);
      }
      await this.handle.appendFile(text);
      await this.handle.datasync();
      this.committedBytes += Buffer.byteLength(text);
      for (const entry of entries) this.fileIndexes.push(entry.index);
      this.warned.delete('spill-failed');
    } catch (error) {
      // A torn write would read back as a broken line: cut the file back to what was committed.
      await this.handle?.truncate(this.committedBytes).catch(() => undefined);
      this.spillBroken = true;
      if (!this.warned.has('spill-failed')) {
        this.warned.add('spill-failed');
        this.logger.error(
          { err: briefError(error), path: this.spillPath, hardCapacity: this.tuning.hardCapacity },
          'audit spill file could not be written: holding events in memory',
        );
      }
      this.inWrite = [];
      this.overflow = [...entries, ...this.spillBuffer, ...this.overflow];
      this.spillBuffer = [];
      // The newest go first, so that what is kept stays a gap-free prefix of the order.
      while (this.overflow.length > 0 && this.memoryCount() > this.tuning.hardCapacity) {
        this.drop(this.overflow.pop()!, 'memory full');
      }
    } finally {
      this.inWrite = [];
    }
  }

  /** Reads the next complete lines (at most one batch) after the replayed offset. */
  private async readSpill(): Promise<SpillBatch> {
    const available = this.committedBytes - this.replayedBytes;
    const file = await open(this.spillPath!, 'r');
    try {
      let size = Math.min(available, SPILL_READ_BYTES);
      for (;;) {
        const buffer = Buffer.alloc(size);
        const { bytesRead } = await file.read(buffer, 0, size, this.replayedBytes);
        const records: SecurityEventRecord[] = [];
        const unreadable: number[] = [];
        let start = 0;
        let lines = 0;
        let ownLines = 0;
        while (lines < this.tuning.batchSize) {
          const end = buffer.indexOf(0x0a, start);
          if (end < 0 || end >= bytesRead) break;
          const offset = this.replayedBytes + start;
          const text = buffer.toString('utf8', start, end);
          start = end + 1;
          if (text.trim() === '') continue;
          lines += 1;
          if (offset >= this.previousRunBytes) ownLines += 1;
          const record = parseSpilledRecord(text);
          if (record) records.push(record);
          else unreadable.push(offset);
        }
        if (start > 0 || bytesRead >= available) {
          // Without any newline up to the committed end the rest is unreadable; skip it whole.
          if (start === 0) return { records, bytes: bytesRead, ownLines: 0, unreadable: [this.replayedBytes] };
          return { records, bytes: start, ownLines, unreadable };
        }
        size = Math.min(available, size * 4);
      }
    } finally {
      await file.close();
    }
  }

  /** The file is replayed to its end and nothing is on its way to it: back to the memory queue. */
  private finishSpill(): void {
    const handle = this.handle;
    const replayed = this.fileIndexes.length;
    this.handle = null;
    this.mode = 'memory';
    this.committedBytes = 0;
    this.replayedBytes = 0;
    this.previousRunBytes = 0;
    this.fileIndexes = [];
    this.fileHead = 0;
    this.queue = this.overflow;
    this.overflow = [];
    this.spillBroken = false;
    this.warned.delete('spill');
    const path = this.spillPath!;
    // The next spill opens the file only after this, so it never appends to the replayed file.
    this.fileReset = (async () => {
      await handle?.close().catch(() => undefined);
      await unlink(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT')
          this.logger.error({ err: briefError(error), path }, 'audit spill file could not be deleted');
      });
    })();
    if (replayed > 0) this.logger.info({ path, events: replayed }, 'audit spill file replayed');
    this.notify();
  }

  /** Moves what is in memory to the spill file (flush timeout, shutdown) and waits until it is written. */
  private async spillMemory(): Promise<void> {
    if (!this.spillPath) return;
    if (this.mode === 'memory' && this.queue.length > 0) {
      const queued = this.queue;
      this.queue = [];
      this.enterSpill(queued);
    } else if (this.mode === 'spill' && this.overflow.length > 0) {
      // Newer than everything in the file, so appending keeps the order.
      this.spillBroken = false;
      this.spillBuffer.push(...this.overflow);
      this.overflow = [];
      this.kickSpillWrite();
    }
    while (this.writing) await this.writing;
  }

  /** A file left by an earlier run is replayed before anything recorded now. */
  private resumeSpillFile(): void {
    if (!this.spillPath) return;
    let size: number;
    try {
      size = statSync(this.spillPath).size;
    } catch {
      return;
    }
    if (size === 0) return;
    // A run that died mid-write left a torn last line: end it, so that it stays one unreadable line.
    const last = Buffer.alloc(1);
    const fd = openSync(this.spillPath, 'r');
    try {
      readSync(fd, last, 0, 1, size - 1);
    } finally {
      closeSync(fd);
    }
    if (last[0] !== 0x0a) {
      appendFileSync(this.spillPath, '\n');
      size += 1;
    }
    this.mode = 'spill';
    this.committedBytes = size;
    this.previousRunBytes = size;
    this.logger.warn({ path: this.spillPath, bytes: size }, 'audit spill file from an earlier run: replaying it');
  }

  // Written synchronously: the loop has stopped, and nothing else may come between these lines.
  private appendAfterClose(entry: Entry): void {
    if (!this.spillPath) return this.drop(entry, 'after shutdown');
    try {
      mkdirSync(dirname(this.spillPath), { recursive: true, mode: 0o700 });
      const fd = openSync(this.spillPath, 'a', 0o600);
      try {
        writeSync(fd, `${JSON.stringify(entry.record)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      this.drop(entry, 'after shutdown');
    }
  }

  // ---- bookkeeping ----

  private memoryCount(): number {
    return this.queue.length + this.spillBuffer.length + this.inWrite.length + this.overflow.length;
  }

  private holdInMemory(entry: Entry, list: Entry[]): void {
    if (this.memoryCount() >= this.tuning.hardCapacity) this.drop(entry, 'memory full');
    else list.push(entry);
  }

  private drop(entry: Entry, reason: string): void {
    this.dropped += 1;
    this.logger.error(
      { eventId: entry.record.id, type: entry.record.type, reason },
      'audit event dropped: not stored in the audit trail',
    );
    this.notify();
  }

  /** Index of the oldest event not stored yet: queue, then file, then what is on its way to the file. */
  private oldestPending(): number {
    const queued = this.queue[0];
    if (queued) return queued.index;
    if (this.replayedBytes < this.previousRunBytes) return 0;
    if (this.fileHead < this.fileIndexes.length) return this.fileIndexes[this.fileHead]!;
    return this.inWrite[0]?.index ?? this.spillBuffer[0]?.index ?? this.overflow[0]?.index ?? Infinity;
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    const oldest = this.oldestPending();
    const done = this.waiters.filter((waiter) => waiter.target < oldest);
    if (done.length === 0) return;
    this.waiters = this.waiters.filter((waiter) => waiter.target >= oldest);
    for (const waiter of done) waiter.resolve(true);
  }

  private async logHead(): Promise<void> {
    const audit = this.options.audit;
    if (!audit || !audit.log) return;
    let head: AuditChainHead | null;
    try {
      head = await this.store.head();
    } catch {
      return; // The store is down; the next interval tries again.
    }
    if (!head || head.hash === this.lastLoggedHead) return;
    this.lastLoggedHead = head.hash;
    this.logger.info(
      { auditHead: { seq: head.seq, hash: head.hash, at: new Date(this.clock.now()).toISOString() } },
      'audit chain head',
    );
  }
}

/** A spilled line back to a record: exactly the record's fields (they are hashed), `at` as a Date. */
export function parseSpilledRecord(line: string): SecurityEventRecord | null {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const at = typeof raw.at === 'string' ? new Date(raw.at) : undefined;
  if (typeof raw.id !== 'string' || !at || Number.isNaN(at.getTime())) return null;
  if (typeof raw.type !== 'string' || typeof raw.outcome !== 'string') return null;
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  return {
    id: raw.id,
    at,
    type: raw.type as SecurityEventRecord['type'],
    outcome: raw.outcome as SecurityEventRecord['outcome'],
    principalId: text(raw.principalId),
    keyId: text(raw.keyId),
    ip: text(raw.ip),
    userAgent: text(raw.userAgent),
    method: text(raw.method),
    path: text(raw.path),
    status: typeof raw.status === 'number' ? raw.status : null,
    requestId: text(raw.requestId),
    details: typeof raw.details === 'object' && raw.details !== null ? (raw.details as Record<string, unknown>) : {},
  };
}

// A failed batch's QueryFailedError carries the statement and every parameter (up to 500 events):
// the log gets what went wrong, not the batch.
function briefError(error: unknown): { type: string; message: string; code?: string } {
  if (!(error instanceof Error)) return { type: typeof error, message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { type: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolveSleep) => {
    if (signal.aborted) return resolveSleep();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolveSleep();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms).unref());
}
