import type pg from 'pg';
import { parseSecurityChange, type SecurityChange } from '../security-change.js';
import { errorMessage, SecurityChangeBus, type SecurityChangeBusOptions } from '../security-change.bus.js';

/** Runs one SQL statement with `$1`-style parameters and resolves with its rows, as a TypeORM DataSource's `query` does. */
export type SecurityChangeRowsQuery = (sql: string, params?: unknown[]) => Promise<any[]>;

/** Options of `PollingSecurityChangeBus`. */
export interface PollingSecurityChangeBusOptions extends SecurityChangeBusOptions {
  /**
   * Reaches the database holding `security_changes` (migration `SecurityChanges1764300000000`): a
   * `pg.Pool`, or a query function such as `(sql, params) => dataSource.query(sql, params)`. Give it a
   * statement timeout: `stop()` waits for the poll in flight.
   */
  query: pg.Pool | SecurityChangeRowsQuery;
  /** Time between the end of a poll and the next (default 250). */
  intervalMs?: number;
  /** Rows older than this are deleted (default 1 hour). */
  retentionMs?: number;
  /** Time between deletions of old rows (default 5 minutes). */
  cleanupIntervalMs?: number;
  /**
   * A row whose seq is followed by a gap (a lower seq not visible yet) waits this long for the gap to
   * fill: the insert that took the missing seq may simply not have committed yet. A gap still open after
   * that is skipped and `onResync` is called (default 500).
   */
  gapGraceMs?: number;
}

/** The table the polling bus reads and writes. */
export const SECURITY_CHANGES_TABLE = 'security_changes';

const BATCH_SIZE = 1000;
const SELECT_CURSOR_SQL = `SELECT COALESCE(max(seq), 0)::text AS seq FROM ${SECURITY_CHANGES_TABLE}`;
// seq comes back as a string from pg (int8) and TypeORM alike; not cast in the select list, where an
// alias `seq` of type text would make ORDER BY seq sort as text.
const SELECT_SQL = `SELECT seq, kind, id, origin FROM ${SECURITY_CHANGES_TABLE} WHERE seq > $1 ORDER BY seq LIMIT ${BATCH_SIZE}`;
const INSERT_SQL = `INSERT INTO ${SECURITY_CHANGES_TABLE} (kind, id, origin) VALUES ($1, $2, $3)`;
const CLEANUP_SQL = `DELETE FROM ${SECURITY_CHANGES_TABLE} WHERE at < now() - $1::float8 * interval '1 millisecond'`;

interface ChangeRow {
  seq: string | number | bigint;
  kind: string;
  id: string;
  origin: string | null;
}

/**
 * Bus for databases without usable LISTEN/NOTIFY (the embedded PGlite server, a transaction-mode
 * pooler): publish inserts a row into `security_changes`, and every instance reads the rows after the
 * last seq it saw every `intervalMs`. Rows are kept an hour, so an instance that could not poll for a
 * while catches up; after a failed poll it still calls `onResync` once polling works again, since it
 * served from its caches meanwhile.
 *
 * Publish after the change is committed, and outside a transaction on the embedded server (its one
 * connection would deadlock).
 * @example
 * const bus = new PollingSecurityChangeBus({ query: (sql, params) => dataSource.query(sql, params) });
 * await bus.start();
 */
export class PollingSecurityChangeBus extends SecurityChangeBus {
  readonly kind = 'polling';
  private readonly runQuery: SecurityChangeRowsQuery;
  private readonly intervalMs: number;
  private readonly retentionMs: number;
  private readonly cleanupIntervalMs: number;
  private readonly gapGraceMs: number;
  /** The highest seq handled; undefined until the first successful poll. */
  private cursor: bigint | undefined;
  private gap: { after: bigint; since: number } | undefined;
  private lastCleanup = 0;
  private failing = false;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<unknown> | undefined;
  private starting: Promise<void> | undefined;
  private stopped = false;

  constructor(options: PollingSecurityChangeBusOptions) {
    super(options);
    const { query, intervalMs = 250, retentionMs = 3_600_000, cleanupIntervalMs = 300_000, gapGraceMs = 500 } = options;
    for (const [name, value] of Object.entries({ intervalMs, retentionMs, cleanupIntervalMs, gapGraceMs })) {
      if (!Number.isInteger(value) || value < 0) {
        throw new TypeError(`PollingSecurityChangeBus: ${name} must be an integer >= 0, got ${value}`);
      }
    }
    this.runQuery =
      typeof query === 'function' ? query : (sql, params) => query.query(sql, params).then((result) => result.rows);
    this.intervalMs = Math.max(1, intervalMs);
    this.retentionMs = retentionMs;
    this.cleanupIntervalMs = cleanupIntervalMs;
    this.gapGraceMs = gapGraceMs;
  }

  async publish(change: SecurityChange): Promise<void> {
    const stamped = this.stamp(change);
    if (this.stopped) throw new Error('PollingSecurityChangeBus: publish after stop()');
    this.deliver(stamped);
    try {
      await this.runQuery(INSERT_SQL, [stamped.kind, stamped.id, stamped.origin]);
    } catch (error) {
      throw new Error(
        `PollingSecurityChangeBus: ${stamped.kind} ${stamped.id} was applied here but not sent to other instances: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Reads the current last seq (changes from then on are delivered) and starts polling. Rejects when
   * that first query fails; polling goes on, and `onResync` is called once it succeeds (call `stop()`
   * in any case).
   */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  /** Stops polling; resolves once the poll in flight, if any, has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inflight;
  }

  private async doStart(): Promise<void> {
    if (this.stopped) throw new Error('PollingSecurityChangeBus: start after stop()');
    const run = this.runOnce();
    this.inflight = run;
    const error = await run;
    this.inflight = undefined;
    this.schedule();
    if (error) throw error;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.inflight = this.runOnce().then(() => {
        this.inflight = undefined;
        this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One poll; resolves with its error instead of rejecting. */
  private async runOnce(): Promise<unknown> {
    try {
      await this.poll();
    } catch (error) {
      if (!this.failing) {
        this.logger.warn(
          `Security changes: polling ${SECURITY_CHANGES_TABLE} failed (${errorMessage(error)}); retrying`,
        );
      }
      this.failing = true;
      return error;
    }
    if (this.failing && !this.stopped) {
      this.failing = false;
      this.logger.log(`Security changes: polling ${SECURITY_CHANGES_TABLE} works again`);
      this.resync();
    }
    await this.cleanUp();
    return undefined;
  }

  private async poll(): Promise<void> {
    if (this.cursor === undefined) {
      const [row] = await this.runQuery(SELECT_CURSOR_SQL);
      this.cursor = BigInt(row.seq);
      this.lastCleanup = Date.now();
      return;
    }
    for (;;) {
      const rows: ChangeRow[] = await this.runQuery(SELECT_SQL, [this.cursor.toString()]);
      for (const row of rows) {
        if (this.stopped) return;
        const seq = BigInt(row.seq);
        if (seq !== this.cursor + 1n && !this.gapExpired(this.cursor, seq)) return;
        this.cursor = seq;
        const change = parseSecurityChange(row);
        if (change) this.receive(change);
        else this.logger.warn(`Security changes: ignored invalid row seq ${seq} (${row.kind} ${row.id})`);
      }
      if (rows.length < BATCH_SIZE) return;
    }
  }

  /** Whether the gap between `cursor` and `next` has been open longer than the grace period (then it resyncs). */
  private gapExpired(cursor: bigint, next: bigint): boolean {
    const now = Date.now();
    if (this.gap?.after !== cursor) this.gap = { after: cursor, since: now };
    if (now - this.gap.since < this.gapGraceMs) return false;
    this.gap = undefined;
    const missing = next - cursor === 2n ? `seq ${cursor + 1n}` : `seqs ${cursor + 1n} to ${next - 1n}`;
    this.logger.log(`Security changes: ${missing} never appeared in ${SECURITY_CHANGES_TABLE}; skipped, resyncing`);
    this.resync();
    return true;
  }

  private async cleanUp(): Promise<void> {
    if (this.stopped || Date.now() - this.lastCleanup < this.cleanupIntervalMs) return;
    this.lastCleanup = Date.now();
    try {
      await this.runQuery(CLEANUP_SQL, [this.retentionMs]);
    } catch (error) {
      this.logger.warn(
        `Security changes: could not delete old rows of ${SECURITY_CHANGES_TABLE}: ${errorMessage(error)}`,
      );
    }
  }
}
