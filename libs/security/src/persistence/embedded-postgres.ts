import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { chmod, link, mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * Pool size to give the `pg` driver (TypeORM `extra.max`) when it talks to the embedded server.
 *
 * Found by experiment with pglite 0.5.14 and pglite-socket 0.2.17:
 * - PGlite is one backend session. The socket server accepts several connections and feeds their
 *   protocol messages, one message at a time, into that session.
 * - Explicit transactions are safe with several connections: while PGlite reports an open
 *   transaction block, the server only runs messages from the connection that opened it (the others
 *   wait; a connection that drops mid-transaction is rolled back).
 * - Outside explicit transactions nothing keeps a connection's extended-protocol sequence (Parse,
 *   Bind, Describe, Execute, Sync) together. `pg` writes it in one corked write, so it usually
 *   arrives whole, but when it is split across TCP reads (large parameters, a busy peer process),
 *   another connection's Parse can replace the unnamed statement in between; we reproduced that with
 *   a raw client ("bind message supplies 0 parameters, but prepared statement requires 1").
 * - Session state is shared by every connection: a `SET` on one is seen by all later ones, and
 *   startup parameters (`options: '-c search_path=...'`, the database and user names) are ignored:
 *   every connection is user `postgres` in database `postgres` with the server's search_path.
 * So one connection per process is the safe setting; it costs no throughput, since the engine runs
 * one statement at a time anyway. TypeORM transactions and migrations work on it (they hold that one
 * connection), but code that queries through the DataSource while it holds a transaction deadlocks;
 * with several connections it deadlocks as well, in the socket server's queue instead of the pool.
 * The server still needs `maxConnections` > 1: the CLI connects while the demo runs.
 * PGlite also runs on the owner's main thread: a long query stalls everything else in that process.
 */
export const EMBEDDED_POOL_SIZE = 1;

/** Where `startEmbeddedPostgres` reports what it did. */
export interface EmbeddedPostgresLogger {
  log(message: string): void;
  warn(message: string): void;
}

/** Options of `startEmbeddedPostgres`. */
export interface EmbeddedPostgresOptions {
  /** Private directory of the instance; created with mode 0700. The database lives in `dataDir/pg`. */
  dataDir: string;
  /** TCP port on 127.0.0.1; 0 (the default) takes any free port. */
  port?: number;
  /** Connections the socket server accepts at once (default 4). */
  maxConnections?: number;
  logger?: EmbeddedPostgresLogger;
  /**
   * When another process already serves `dataDir`: true (default) connects through its server; false
   * waits until it lets go and then opens the database. A long-running server passes false, so that a
   * short-lived borrower (the CLI) never ends up owning the database it depends on.
   */
  borrow?: boolean;
}

/** A running embedded Postgres, or a connection to the one another process already serves. */
export interface EmbeddedPostgres {
  /** Connection string for the `pg` driver, e.g. `postgres://postgres@127.0.0.1:41234/postgres`. */
  readonly url: string;
  /** True when this process opened the database; false when it borrows another process's server. */
  readonly owner: boolean;
  /** Stops the server and closes the database (owner only; otherwise does nothing). Close your pools first. */
  close(): Promise<void>;
}

interface LockRecord {
  pid: number;
  port?: number;
  url?: string;
  startedAt: string;
}

type LockState =
  | { state: 'gone' }
  | { state: 'live'; record: LockRecord }
  | { state: 'starting'; raw: string }
  | { state: 'unanswered'; raw: string; record: LockRecord }
  | { state: 'stale'; raw: string; reason: string };

const HOST = '127.0.0.1';
const LOCK_FILE = 'pg.lock';
// A first start runs initdb (a few seconds here, more on a slow CI runner); a second starter waits
// for the owner's url that long before giving up.
const START_TIMEOUT_MS = 60_000;
// An owner alive but refusing connections may be closing (server stopped, lock not yet removed):
// give it that long before taking over its data directory.
const UNANSWERED_GRACE_MS = 2_000;
// An unreadable lock younger than this is being written by its creator.
const UNREADABLE_LOCK_GRACE_MS = 5_000;
const PROBE_TIMEOUT_MS = 1_000;
const POLL_MS = 100;

/**
 * Serves a persistent PGlite database on 127.0.0.1 for the `pg` driver, or, when another process
 * already serves the same `dataDir`, returns that process's url (`owner: false`).
 * @example
 * const pg = await startEmbeddedPostgres({ dataDir: './.data' });
 * const ds = new DataSource(securityDataSourceOptions({ url: pg.url, poolSize: EMBEDDED_POOL_SIZE }));
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { port = 0, maxConnections = 4, logger, borrow = true } = options;
  const dataDir = resolve(options.dataDir);
  await ensurePrivateDir(dataDir, logger);
  const lockPath = join(dataDir, LOCK_FILE);
  const deadline = Date.now() + START_TIMEOUT_MS;
  let unanswered: { raw: string; since: number } | undefined;
  let waitingFor: number | undefined;

  for (;;) {
    const startedAt = await tryCreateLock(lockPath);
    if (startedAt)
      return becomeOwner({
        dataDir,
        lockPath,
        startedAt,
        port,
        maxConnections,
        logger,
      });

    const lock = await inspectLock(lockPath);
    if (lock.state === 'gone') continue;
    if (lock.state === 'live' && !borrow) {
      if (waitingFor !== lock.record.pid) {
        waitingFor = lock.record.pid;
        logger?.warn(`Embedded PostgreSQL in ${dataDir} is open in process ${waitingFor}: waiting for it to finish`);
      }
    } else if (lock.state === 'live') {
      const { pid, url } = lock.record;
      logger?.log(`Embedded PostgreSQL in ${dataDir} is served by process ${pid}: using ${url}`);
      return { url: url!, owner: false, close: async () => {} };
    }
    if (lock.state === 'unanswered') {
      if (unanswered?.raw !== lock.raw) unanswered = { raw: lock.raw, since: Date.now() };
      if (Date.now() - unanswered.since >= UNANSWERED_GRACE_MS) {
        await removeStaleLock(lockPath, lock.raw);
        logger?.warn(
          `Took over ${dataDir}: process ${lock.record.pid} holds its lock but nothing accepts connections on ${lock.record.url}`,
        );
        continue;
      }
    }
    if (lock.state === 'stale') {
      await removeStaleLock(lockPath, lock.raw);
      logger?.warn(`Removed a stale lock from ${dataDir} (${lock.reason})`);
      continue;
    }
    if (Date.now() > deadline && waitingFor !== undefined) {
      throw new Error(
        `Embedded PostgreSQL: process ${waitingFor} still has ${dataDir} open after ${START_TIMEOUT_MS / 1000} s; ` +
          'stop it first (two servers never open one data directory)',
      );
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Embedded PostgreSQL: another process holds ${lockPath} but did not start serving within ` +
          `${START_TIMEOUT_MS / 1000} s; stop it, or delete the lock if no such process runs`,
      );
    }
    await sleep(POLL_MS);
  }
}

/** Serves a fresh in-memory PGlite on a free port of 127.0.0.1; for tests. */
export async function startInMemoryPostgres(options: { maxConnections?: number } = {}): Promise<EmbeddedPostgres> {
  const db = await PGlite.create();
  try {
    const { server, url } = await serve(db, 0, options.maxConnections ?? 8);
    return { url, owner: true, close: once(() => shutdown(server, db)) };
  } catch (error) {
    await db.close();
    throw error;
  }
}

async function becomeOwner(args: {
  dataDir: string;
  lockPath: string;
  startedAt: string;
  port: number;
  maxConnections: number;
  logger?: EmbeddedPostgresLogger;
}): Promise<EmbeddedPostgres> {
  const { dataDir, lockPath, startedAt, port, maxConnections, logger } = args;
  // 'exit' is the last moment for synchronous cleanup; a signal kill skips it, and the next
  // starter then finds the pid dead and takes the lock over.
  const onExit = () => removeOwnLockSync(lockPath, startedAt);
  process.on('exit', onExit);
  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  try {
    db = await PGlite.create(join(dataDir, 'pg'));
    const served = await serve(db, port, maxConnections);
    server = served.server;
    const record: LockRecord = {
      pid: process.pid,
      port: served.port,
      url: served.url,
      startedAt,
    };
    // Written aside and renamed so a reader never sees a half-written lock.
    const temp = `${lockPath}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(record), { mode: 0o600 });
    await rename(temp, lockPath);
    logger?.log(
      `Embedded PostgreSQL (PGlite, for local development only) serving ${join(dataDir, 'pg')} on ${served.url}`,
    );
    const close = once(async () => {
      try {
        await shutdown(server!, db!);
      } finally {
        removeOwnLockSync(lockPath, startedAt);
        process.off('exit', onExit);
      }
    });
    return { url: served.url, owner: true, close };
  } catch (error) {
    if (server) await server.stop().catch(() => {});
    if (db) await db.close().catch(() => {});
    removeOwnLockSync(lockPath, startedAt);
    process.off('exit', onExit);
    throw error;
  }
}

async function serve(
  db: PGlite,
  port: number,
  maxConnections: number,
): Promise<{ server: PGLiteSocketServer; port: number; url: string }> {
  // Loopback only: the server has no authentication at all.
  const server = new PGLiteSocketServer({
    db,
    host: HOST,
    port,
    maxConnections,
  });
  await server.start();
  const actualPort = Number(server.getServerConn().split(':').pop());
  return {
    server,
    port: actualPort,
    url: `postgres://postgres@${HOST}:${actualPort}/postgres`,
  };
}

async function shutdown(server: PGLiteSocketServer, db: PGlite): Promise<void> {
  await server.stop();
  // stop() detaches connections without waiting; one caught mid-transaction still sends its
  // ROLLBACK to the database, so let that run before the database closes.
  await new Promise((done) => setImmediate(done));
  await db.close();
}

async function ensurePrivateDir(dir: string, logger?: EmbeddedPostgresLogger): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  if (!info.isDirectory()) throw new Error(`Embedded PostgreSQL: ${dir} is not a directory`);
  // PGlite creates its files world-readable (0666 here), so this directory is what keeps them private.
  if ((info.mode & 0o077) !== 0) {
    await chmod(dir, 0o700);
    logger?.warn(`Restricted ${dir} to its owner (mode ${(info.mode & 0o777).toString(8)} -> 700)`);
  }
}

/** Creates the lock exclusively; returns its startedAt, or undefined when another process holds it. */
async function tryCreateLock(lockPath: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(lockPath, 'wx', 0o600);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return undefined;
    throw error;
  }
  const startedAt = new Date().toISOString();
  try {
    // The pid goes in at once, so a creator that dies before serving leaves a lock others can
    // recognise as stale instead of an empty file.
    await handle.writeFile(JSON.stringify({ pid: process.pid, startedAt } satisfies LockRecord));
  } finally {
    await handle.close();
  }
  return startedAt;
}

async function inspectLock(lockPath: string): Promise<LockState> {
  let raw: string;
  let modifiedMs: number;
  try {
    [raw, modifiedMs] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath).then((s) => s.mtimeMs)]);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { state: 'gone' };
    throw error;
  }
  const record = parseLock(raw);
  if (!record) {
    return Date.now() - modifiedMs > UNREADABLE_LOCK_GRACE_MS
      ? { state: 'stale', raw, reason: 'unreadable lock file' }
      : { state: 'starting', raw };
  }
  if (!isAlive(record.pid)) return { state: 'stale', raw, reason: `process ${record.pid} is gone` };
  if (!record.url || !record.port) return { state: 'starting', raw };
  return (await portAcceptsConnections(record.port)) ? { state: 'live', record } : { state: 'unanswered', raw, record };
}

function parseLock(raw: string): LockRecord | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockRecord> | null;
    if (value && Number.isInteger(value.pid) && typeof value.startedAt === 'string') return value as LockRecord;
  } catch {
    // fall through: half-written or foreign content
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return errorCode(error) === 'EPERM';
  }
}

/**
 * False only when nothing listens on the port. An accepted connection counts as an answer even if
 * the server stays silent: PGlite runs queries on its owner's main thread, so during a long query
 * the owner cannot reply (measured: 2.8 s for an SSLRequest behind a 3.4 s query) while the kernel
 * still accepts, and taking over a busy owner's data directory would corrupt it.
 */
function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: HOST, port });
    const finish = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      done(answer);
    };
    // Loopback refuses at once; a connect still pending after this long has a listener behind it.
    const timer = setTimeout(() => finish(true), PROBE_TIMEOUT_MS);
    socket.once('error', () => finish(false));
    socket.once('connect', () => finish(true));
  });
}

/**
 * Removes a lock judged stale, unless it changed since it was read: it is renamed aside first
 * (atomic), and put back when the renamed content is not the content that was judged.
 */
async function removeStaleLock(lockPath: string, judged: string): Promise<void> {
  const aside = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(lockPath, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  const moved = await readFile(aside, 'utf8').catch(() => judged);
  // link() fails if a new lock appeared meanwhile; that one wins and this one is dropped.
  if (moved !== judged) await link(aside, lockPath).catch(() => {});
  await unlink(aside).catch(() => {});
}

function removeOwnLockSync(lockPath: string, startedAt: string): void {
  try {
    const record = parseLock(readFileSync(lockPath, 'utf8'));
    if (record?.pid === process.pid && record.startedAt === startedAt) unlinkSync(lockPath);
  } catch {
    // best effort: a lock left behind is recognised as stale by the next starter
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
