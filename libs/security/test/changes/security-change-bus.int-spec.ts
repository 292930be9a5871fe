import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithRedis, TEST_REDIS_URL, testDatabase } from '../../../../test/support/services.js';
import { describeWithRedisServer, startRedisServer } from '../../../../test/support/redis-server.js';
import { startTcpProxy, type TcpProxy, type TcpProxyTarget } from '../../../../test/support/tcp-proxy.js';
import {
  MemorySecurityChangeBus,
  MemorySecurityChangeHub,
} from '../../src/changes/adapters/memory-security-change.bus.js';
import { PollingSecurityChangeBus } from '../../src/changes/adapters/polling-security-change.bus.js';
import { PostgresSecurityChangeBus } from '../../src/changes/adapters/postgres-security-change.bus.js';
import { RedisSecurityChangeBus } from '../../src/changes/adapters/redis-security-change.bus.js';
import { decodeSecurityChange, parseSecurityChange, type SecurityChange } from '../../src/changes/security-change.js';
import type { SecurityChangeBus } from '../../src/changes/security-change.bus.js';
import { startInMemoryPostgres, type EmbeddedPostgres } from '../../src/persistence/embedded-postgres.js';
import { SecurityChanges1764300000000 } from '../../src/persistence/migrations/1764300000000-security-changes.js';
import {
  DELIVERY_BOUND_MS,
  describeSecurityChangeBusContract,
  record,
  recordingLogger,
  type Recording,
  type SecurityChangeBusPair,
} from './security-change-bus.contract.js';

// Malformed messages, as they would come from an older or foreign publisher.
const GARBAGE = [
  'not json',
  '',
  '[]',
  'null',
  '{"kind":"user","id":"x"}',
  '{"kind":"role"}',
  '{"kind":"all","id":"everything"}',
  `{"kind":"role","id":"${'x'.repeat(256)}"}`,
  '{"kind":"role","id":"r","origin":42}',
];

// One database for the whole file (a real one, or PGlite when no PostgreSQL answers).
const database = await testDatabase();
afterAll(() => database.drop());

const uniquePrefix = () => `nas-test-${randomBytes(6).toString('hex')}:`;

function pool(url: string, max = 2): pg.Pool {
  const created = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 2_000 });
  // Idle clients cut by a proxy emit 'error' on the pool; unhandled, it would crash the run.
  created.on('error', () => {});
  return created;
}

/** Runs the migration's `up` through a minimal QueryRunner. */
async function migrate(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const runner = { query: (sql: string, params?: unknown[]) => client.query(sql, params).then((r) => r.rows) };
    await new SecurityChanges1764300000000().up(runner as unknown as QueryRunner);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// outages, as every networked adapter must survive them

type RecordingLogger = ReturnType<typeof recordingLogger>;

/** Two buses as two instances, `b` reaching its server through `proxy` and logging to `logger`. */
interface ProxiedPair {
  a: SecurityChangeBus;
  b: SecurityChangeBus;
  proxy: TcpProxy;
  logger: RecordingLogger;
}

/**
 * Starts a proxy to `target`, has `makePair` build the buses (neither started) and runs `run` with them;
 * then stops both, calls the `release` that `makePair` returned, and closes the proxy.
 */
async function withProxiedPair(
  target: TcpProxyTarget,
  makePair: (
    proxy: TcpProxy,
    logger: RecordingLogger,
  ) => { a: SecurityChangeBus; b: SecurityChangeBus; release?: () => Promise<void> },
  run: (pair: ProxiedPair) => Promise<void>,
): Promise<void> {
  const proxy = await startTcpProxy(target);
  const logger = recordingLogger();
  const { a, b, release } = makePair(proxy, logger);
  try {
    await run({ a, b, proxy, logger });
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await release?.();
    await proxy.close();
  }
}

/** Starts both buses and checks that a change from `a` reaches `b`; returns what `b` delivers. */
async function startAndDeliverOne({ a, b }: ProxiedPair): Promise<Recording> {
  await Promise.all([a.start(), b.start()]);
  const seenB = record(b);
  await a.publish({ kind: 'api-key', id: 'before' });
  await expect.poll(() => seenB.changes.length, { timeout: DELIVERY_BOUND_MS }).toBe(1);
  return seenB;
}

/** `b` resyncs once, then receives `change` from `a`: the ids it delivered are then `expected`. */
async function expectResyncThenDelivery(
  a: SecurityChangeBus,
  seenB: Recording,
  change: SecurityChange,
  expected: string[],
): Promise<void> {
  await expect.poll(() => seenB.resyncs, { timeout: 10_000 }).toBe(1);
  await a.publish(change);
  await expect.poll(() => seenB.changes.map((c) => c.id), { timeout: DELIVERY_BOUND_MS }).toEqual(expected);
}

/**
 * A silent partition: `b`'s heartbeat notices it (a warning matching `noAnswer`), and once the network
 * is back `b` reconnects, resyncs and receives `change`.
 */
async function expectHeartbeatRecovery(pair: ProxiedPair, noAnswer: RegExp, change: SecurityChange): Promise<void> {
  const { a, b, proxy, logger } = pair;
  await Promise.all([a.start(), b.start()]);
  const seenB = record(b);

  proxy.stall();
  await expect.poll(() => logger.warnings.join('\n'), { timeout: 5_000 }).toMatch(noAnswer);
  proxy.restore();

  await expectResyncThenDelivery(a, seenB, change, [change.id]);
}

/** `b`'s server is unreachable at start(): start() rejects, `b` keeps trying, and resyncs once through. */
async function expectLateStart({ a, b, proxy }: ProxiedPair): Promise<void> {
  proxy.cut();
  const seenB = record(b);
  await a.start();
  await expect(b.start()).rejects.toThrow();

  proxy.restore();
  await expectResyncThenDelivery(a, seenB, { kind: 'role', id: 'late-start' }, ['late-start']);
}

// ---------------------------------------------------------------------------------------------------------------
// memory

describeSecurityChangeBusContract(
  'MemorySecurityChangeBus (two buses on one hub)',
  async () => {
    const hub = new MemorySecurityChangeHub();
    return {
      a: new MemorySecurityChangeBus({ hub, logger: recordingLogger() }),
      b: new MemorySecurityChangeBus({ hub, logger: recordingLogger() }),
      cleanup: async () => {},
    };
  },
  { wireFormat: false },
);

describe('SecurityChangeBus base class (through the memory adapter)', () => {
  class ResyncableBus extends MemorySecurityChangeBus {
    forceResync(): void {
      this.resync();
    }
  }

  it('calls every resync listener, logs one that throws, and stops calling unsubscribed ones', async () => {
    const logger = recordingLogger();
    const bus = new ResyncableBus({ logger });
    let first = 0;
    let third = 0;
    const unsubscribe = bus.onResync(() => first++);
    bus.onResync(() => {
      throw new Error('flush failed');
    });
    bus.onResync(() => third++);

    bus.forceResync();
    unsubscribe();
    bus.forceResync();

    expect([first, third]).toEqual([1, 2]);
    expect(logger.warnings).toEqual([
      'Security change resync listener failed: flush failed',
      'Security change resync listener failed: flush failed',
    ]);
    await bus.stop();
  });

  it('logs a listener that throws, with the change it failed on', async () => {
    const logger = recordingLogger();
    const bus = new MemorySecurityChangeBus({ logger });
    bus.subscribe(() => {
      throw new Error('cache bug');
    });

    await bus.publish({ kind: 'role', id: 'admin' });

    expect(logger.warnings).toEqual(['Security change listener failed on role admin: cache bug']);
  });

  it('counts one function subscribed twice as two subscriptions', async () => {
    const bus = new MemorySecurityChangeBus();
    const seen: string[] = [];
    const listener = (change: { id: string }) => seen.push(change.id);
    const unsubscribeFirst = bus.subscribe(listener);
    bus.subscribe(listener);

    await bus.publish({ kind: 'role', id: 'one' });
    unsubscribeFirst();
    await bus.publish({ kind: 'role', id: 'two' });

    expect(seen).toEqual(['one', 'one', 'two']);
  });

  it('skips a listener unsubscribed by an earlier one during the same delivery', async () => {
    const bus = new MemorySecurityChangeBus();
    const seen: string[] = [];
    let unsubscribeSecond = () => {};
    bus.subscribe(() => unsubscribeSecond());
    unsubscribeSecond = bus.subscribe(() => seen.push('second'));

    await bus.publish({ kind: 'role', id: 'x' });

    expect(seen).toEqual([]);
  });

  it('delivers frozen changes, so one listener cannot alter what the next one sees', async () => {
    const bus = new MemorySecurityChangeBus();
    const seen: unknown[] = [];
    bus.subscribe((change) => seen.push(change));

    await bus.publish({ kind: 'role', id: 'x' });

    expect(Object.isFrozen(seen[0])).toBe(true);
  });

  it('refuses an instance id that does not fit the origin column', () => {
    expect(() => new MemorySecurityChangeBus({ instanceId: 'x'.repeat(65) })).toThrow(TypeError);
    expect(() => new MemorySecurityChangeBus({ instanceId: '' })).toThrow(TypeError);
    expect(new MemorySecurityChangeBus({ instanceId: 'api-1' }).instanceId).toBe('api-1');
  });

  it('detaches a stopped bus from its hub', async () => {
    const hub = new MemorySecurityChangeHub();
    const bus = new MemorySecurityChangeBus({ hub });

    await bus.start();
    await bus.start();
    expect(hub.size).toBe(1);
    await bus.stop();
    expect(hub.size).toBe(0);
  });
});

describe('parseSecurityChange', () => {
  it('keeps only the known fields of a valid change and treats a null origin as none', () => {
    expect(parseSecurityChange({ kind: 'role', id: 'editor', origin: 'api-1', extra: true })).toEqual({
      kind: 'role',
      id: 'editor',
      origin: 'api-1',
    });
    expect(parseSecurityChange({ kind: 'api-key', id: 'k', origin: null })).toEqual({ kind: 'api-key', id: 'k' });
    expect(decodeSecurityChange('{"kind":"all","id":"*"}')).toEqual({ kind: 'all', id: '*' });
  });

  it.each(GARBAGE)('refuses %j', (text) => {
    expect(decodeSecurityChange(text)).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Redis

describeWithRedis('RedisSecurityChangeBus', () => {
  const redisTarget = { host: new URL(TEST_REDIS_URL).hostname, port: Number(new URL(TEST_REDIS_URL).port || 6379) };

  describeSecurityChangeBusContract('contract (one bus from a URL, one sharing a client)', async () => {
    const keyPrefix = uniquePrefix();
    const shared = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    shared.on('error', () => {});
    const a = new RedisSecurityChangeBus({ url: TEST_REDIS_URL, keyPrefix, logger: recordingLogger() });
    const b = new RedisSecurityChangeBus({ client: shared, keyPrefix, logger: recordingLogger() });
    return {
      a,
      b,
      injectMalformed: async () => {
        for (const text of GARBAGE) await shared.publish(b.channel, text);
      },
      cleanup: async () => {
        await shared.quit();
      },
    };
  });

  it('uses <keyPrefix>security-changes as its channel and leaves a shared client open in stop()', async () => {
    const shared = new Redis(TEST_REDIS_URL);
    const bus = new RedisSecurityChangeBus({ client: shared, keyPrefix: 'tenant-a:' });
    try {
      await bus.start();
      expect(bus.channel).toBe('tenant-a:security-changes');
      expect(bus.kind).toBe('redis');
      await bus.stop();
      expect(await shared.ping()).toBe('PONG');
    } finally {
      await shared.quit();
    }
  });

  /** `a` straight to Redis, `b` through the proxy. */
  const withPair = (options: { heartbeatIntervalMs?: number }, run: (pair: ProxiedPair) => Promise<void>) =>
    withProxiedPair(
      redisTarget,
      (proxy, logger) => {
        const keyPrefix = uniquePrefix();
        return {
          a: new RedisSecurityChangeBus({ url: TEST_REDIS_URL, keyPrefix, logger: recordingLogger() }),
          b: new RedisSecurityChangeBus({ url: proxy.url(TEST_REDIS_URL), keyPrefix, logger, ...options }),
        };
      },
      run,
    );

  it('resyncs after its subscription is cut and restored, then receives again', async () => {
    await withPair({}, async (pair) => {
      const { a, b, proxy, logger } = pair;
      const seenB = await startAndDeliverOne(pair);

      proxy.cut();
      await expect.poll(() => logger.warnings.join('\n')).toMatch(/lost the Redis subscription/);
      // Nothing can carry these to b: the resync is what covers them.
      await a.publish({ kind: 'api-key', id: 'missed' });
      // b's own change is applied locally; the rejection tells the caller the others did not get it.
      await expect(b.publish({ kind: 'role', id: 'local-only' })).rejects.toThrow(/not sent to other instances/);
      expect(seenB.changes.map((c) => c.id)).toEqual(['before', 'local-only']);
      expect(seenB.resyncs).toBe(0);

      proxy.restore();
      await expectResyncThenDelivery(a, seenB, { kind: 'api-key', id: 'after' }, ['before', 'local-only', 'after']);
      expect(logger.logs.join('\n')).toMatch(/resubscribed/);
    });
  }, 30_000);

  it('notices a silent partition by its heartbeat, reconnects once the network is back, and resyncs', async () => {
    await withPair({ heartbeatIntervalMs: 100 }, (pair) =>
      expectHeartbeatRecovery(pair, /no answer to a ping/, { kind: 'principal', id: 'after-partition' }),
    );
  }, 30_000);

  it('rejects start() when Redis is unreachable, keeps trying, and resyncs once subscribed', async () => {
    await withPair({}, expectLateStart);
  }, 30_000);
});

describeWithRedisServer('RedisSecurityChangeBus with a test-owned redis-server', () => {
  it('resyncs after the server restarts, then receives again', async () => {
    const server = await startRedisServer();
    const keyPrefix = uniquePrefix();
    const logger = recordingLogger();
    const a = new RedisSecurityChangeBus({ url: server.url, keyPrefix, logger: recordingLogger() });
    const b = new RedisSecurityChangeBus({ url: server.url, keyPrefix, logger });
    try {
      await Promise.all([a.start(), b.start()]);
      const seenB = record(b);

      await server.stop();
      await expect.poll(() => logger.warnings.join('\n')).toMatch(/lost the Redis subscription/);
      await server.start();

      await expect.poll(() => seenB.resyncs, { timeout: 10_000 }).toBe(1);
      // a's publisher reconnects on its own; the first publish may still meet the old connection.
      await expect.poll(() => a.publish({ kind: 'all', id: '*' }).then(() => true), { timeout: 10_000 }).toBe(true);
      await expect.poll(() => seenB.changes.length, { timeout: DELIVERY_BOUND_MS }).toBeGreaterThan(0);
      expect(seenB.changes.every((c) => c.kind === 'all')).toBe(true);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await server.stop();
    }
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL LISTEN/NOTIFY: a real server only (PGlite delivers no notifications across connections)

// Not registered at all on PGlite (which has no LISTEN), so it never shows as a skipped test.
const describeListen = database.embedded ? ((() => undefined) as unknown as typeof describe) : describe;
if (database.embedded) console.warn('[tests] PostgresSecurityChangeBus suites left out: PGlite has no LISTEN/NOTIFY');

describeListen('PostgresSecurityChangeBus', () => {
  const pgTarget = { host: new URL(database.url).hostname, port: Number(new URL(database.url).port || 5432) };

  describeSecurityChangeBusContract('contract (one bus on a pg.Pool, one on a query function)', async () => {
    const poolA = pool(database.url);
    const poolB = pool(database.url);
    return {
      a: new PostgresSecurityChangeBus({ listenConnection: database.url, query: poolA, logger: recordingLogger() }),
      b: new PostgresSecurityChangeBus({
        listenConnection: { connectionString: database.url },
        query: (sql, params) => poolB.query(sql, params),
        logger: recordingLogger(),
      }),
      injectMalformed: async () => {
        for (const text of GARBAGE) await poolA.query(`SELECT pg_notify('security_changes', $1)`, [text]);
      },
      cleanup: async () => {
        await Promise.all([poolA.end(), poolB.end()]);
      },
    };
  });

  /** `a` listens straight to the server, `b` through the proxy (or straight too with `proxied: false`). */
  const withPair = (
    options: { proxied?: boolean; heartbeatIntervalMs?: number },
    run: (pair: ProxiedPair) => Promise<void>,
  ) =>
    withProxiedPair(
      pgTarget,
      (proxy, logger) => {
        const publishPool = pool(database.url);
        return {
          a: new PostgresSecurityChangeBus({
            listenConnection: database.url,
            query: publishPool,
            logger: recordingLogger(),
          }),
          b: new PostgresSecurityChangeBus({
            listenConnection: options.proxied === false ? database.url : proxy.url(database.url),
            query: publishPool,
            logger,
            heartbeatIntervalMs: options.heartbeatIntervalMs ?? 0,
            minReconnectDelayMs: 20,
            maxReconnectDelayMs: 200,
          }),
          release: () => publishPool.end(),
        };
      },
      run,
    );

  it('reconnects after its LISTEN connection is cut and restored, resyncs, then receives again', async () => {
    await withPair({}, async (pair) => {
      const { a, proxy, logger } = pair;
      const seenB = await startAndDeliverOne(pair);

      proxy.cut();
      await expect.poll(() => logger.warnings.join('\n')).toMatch(/lost the LISTEN connection/);
      await a.publish({ kind: 'api-key', id: 'missed' });
      proxy.restore();

      await expectResyncThenDelivery(a, seenB, { kind: 'api-key', id: 'after' }, ['before', 'after']);
      expect(logger.logs.join('\n')).toMatch(/listening on security_changes again/);
    });
  }, 30_000);

  it('reconnects when the server terminates its backend', async () => {
    await withPair({ proxied: false }, async ({ a, b, logger }) => {
      await Promise.all([a.start(), b.start()]);
      const seenB = record(b);
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      try {
        const { rows } = await admin.query(
          `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
           WHERE datname = current_database() AND query = 'LISTEN security_changes' AND pid <> pg_backend_pid()`,
        );
        expect(rows.length).toBeGreaterThanOrEqual(1);
      } finally {
        await admin.end();
      }
      // a listens too and may have been terminated as well: wait for both to be back.
      await expect.poll(() => seenB.resyncs, { timeout: 10_000 }).toBe(1);
      expect(logger.warnings.join('\n')).toMatch(/lost the LISTEN connection/);
      await expect
        .poll(() => (a as PostgresSecurityChangeBus).publish({ kind: 'role', id: 'back' }).then(() => true))
        .toBe(true);
      await expect.poll(() => seenB.changes.map((c) => c.id), { timeout: DELIVERY_BOUND_MS }).toContain('back');
    });
  }, 30_000);

  it('notices a silent partition by its heartbeat, reconnects once the network is back, and resyncs', async () => {
    await withPair({ heartbeatIntervalMs: 100 }, (pair) =>
      expectHeartbeatRecovery(pair, /no answer to SELECT 1/, { kind: 'session', id: 'after-partition' }),
    );
  }, 30_000);

  it('rejects start() when the database is unreachable, keeps trying, and resyncs once listening', async () => {
    await withPair({}, expectLateStart);
  }, 30_000);

  it('rejects publish when the database is unreachable, after delivering locally', async () => {
    const proxy = await startTcpProxy(pgTarget);
    const publishPool = pool(proxy.url(database.url));
    const bus = new PostgresSecurityChangeBus({
      listenConnection: database.url,
      query: publishPool,
      logger: recordingLogger(),
    });
    try {
      await bus.start();
      const seen = record(bus);
      proxy.cut();

      await expect(bus.publish({ kind: 'role', id: 'local-only' })).rejects.toThrow(/not sent to other instances/);
      expect(seen.changes.map((c) => c.id)).toEqual(['local-only']);
    } finally {
      await bus.stop();
      await publishPool.end();
      await proxy.close();
    }
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------------------------
// polling

function describePolling(
  label: string,
  open: () => Promise<{ url: string; embedded: boolean; close(): Promise<void> }>,
) {
  describe(label, () => {
    let db: { url: string; embedded: boolean; close(): Promise<void> };
    // PGlite is one session: one connection per process is its safe setting (see embedded-postgres.ts), so
    // there both buses share a pool of one; against a real server each has its own.
    const pools: pg.Pool[] = [];
    const open1 = (url = db.url) => {
      const created = pool(url, db.embedded ? 1 : 2);
      pools.push(created);
      return created;
    };

    beforeAll(async () => {
      db = await open();
      await migrate(db.url);
    }, 60_000);
    afterAll(async () => {
      await Promise.all(pools.splice(0).map((p) => p.end()));
      await db?.close();
    });

    const makePair = async (options: { gapGraceMs?: number } = {}): Promise<SecurityChangeBusPair> => {
      const poolA = pool(db.url, db.embedded ? 1 : 2);
      const poolB = db.embedded ? poolA : pool(db.url, 2);
      return {
        a: new PollingSecurityChangeBus({ query: poolA, logger: recordingLogger(), ...options }),
        b: new PollingSecurityChangeBus({
          query: (sql, params) => poolB.query(sql, params).then((result) => result.rows),
          logger: recordingLogger(),
          ...options,
        }),
        injectMalformed: async () => {
          await poolA.query(
            `INSERT INTO security_changes (kind, id, origin) VALUES ('user', 'x', NULL), ('all', 'everything', NULL),
               ('role', '', NULL), ('api_key', 'k', 'someone')`,
          );
        },
        cleanup: async () => {
          await poolA.end();
          if (poolB !== poolA) await poolB.end();
        },
      };
    };

    describeSecurityChangeBusContract('contract (one bus on a pg.Pool, one on a query function)', () => makePair());

    const withBuses = async (
      options: { gapGraceMs?: number; cleanupIntervalMs?: number; retentionMs?: number },
      run: (a: PollingSecurityChangeBus, b: PollingSecurityChangeBus, query: pg.Pool) => Promise<void>,
    ) => {
      const shared = open1();
      const a = new PollingSecurityChangeBus({ query: shared, logger: recordingLogger(), ...options });
      const b = new PollingSecurityChangeBus({ query: shared, logger: recordingLogger(), intervalMs: 20, ...options });
      try {
        await Promise.all([a.start(), b.start()]);
        await run(a, b, shared);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    };

    it('delivers only what was published after start()', async () => {
      const shared = open1();
      const a = new PollingSecurityChangeBus({ query: shared, logger: recordingLogger() });
      await a.publish({ kind: 'role', id: 'before-b-started' });
      const b = new PollingSecurityChangeBus({ query: shared, logger: recordingLogger() });
      const seenB = record(b);
      try {
        await b.start();
        await a.publish({ kind: 'role', id: 'after-b-started' });
        await expect
          .poll(() => seenB.changes.map((c) => c.id), { timeout: DELIVERY_BOUND_MS })
          .toEqual(['after-b-started']);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });

    it('waits for a lower seq committed late, then delivers in seq order', async () => {
      await withBuses({ gapGraceMs: 60_000 }, async (a, b, query) => {
        const seenB = record(b);
        // Takes a seq the way a slow insert does, without its row being visible yet.
        const { rows } = await query.query(
          `SELECT nextval(pg_get_serial_sequence('security_changes', 'seq'))::text AS seq`,
        );
        await a.publish({ kind: 'api-key', id: 'committed-first' });
        await query.query(
          `INSERT INTO security_changes (seq, kind, id, origin) VALUES ($1, 'api-key', 'committed-late', 'other')`,
          [rows[0].seq],
        );

        await expect
          .poll(() => seenB.changes.map((c) => c.id), { timeout: DELIVERY_BOUND_MS })
          .toEqual(['committed-late', 'committed-first']);
        expect(seenB.resyncs).toBe(0);
      });
    });

    it('skips a gap that never fills after the grace period, and resyncs', async () => {
      await withBuses({ gapGraceMs: 50 }, async (a, b, query) => {
        const seenB = record(b);
        await query.query(`SELECT nextval(pg_get_serial_sequence('security_changes', 'seq'))`);
        await a.publish({ kind: 'api-key', id: 'after-gap' });

        await expect.poll(() => seenB.changes.map((c) => c.id), { timeout: 5_000 }).toEqual(['after-gap']);
        expect(seenB.resyncs).toBe(1);
      });
    });

    it('deletes rows older than the retention period', async () => {
      await withBuses({ cleanupIntervalMs: 10, retentionMs: 3_600_000 }, async (a, _b, query) => {
        await query.query(
          `INSERT INTO security_changes (kind, id, origin, at) VALUES ('role', 'ancient', 'x', now() - interval '2 hours')`,
        );
        await a.publish({ kind: 'role', id: 'recent' });

        const ids = async () => (await query.query(`SELECT id FROM security_changes`)).rows.map((r) => r.id);
        await expect.poll(ids, { timeout: 5_000 }).not.toContain('ancient');
        expect(await ids()).toContain('recent');
      });
    });

    it('resyncs once polling works again after failing, and receives what was published meanwhile', async () => {
      const url = new URL(db.url);
      const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
      const direct = open1();
      const proxied = open1(proxy.url(db.url));
      const logger = recordingLogger();
      const a = new PollingSecurityChangeBus({ query: direct, logger: recordingLogger() });
      const b = new PollingSecurityChangeBus({ query: proxied, logger, intervalMs: 20 });
      try {
        await Promise.all([a.start(), b.start()]);
        const seenB = record(b);

        proxy.cut();
        await expect
          .poll(() => logger.warnings.join('\n'), { timeout: 5_000 })
          .toMatch(/polling security_changes failed/);
        await a.publish({ kind: 'principal', id: 'during-outage' });
        proxy.restore();

        await expect.poll(() => seenB.resyncs, { timeout: 10_000 }).toBe(1);
        await expect
          .poll(() => seenB.changes.map((c) => c.id), { timeout: DELIVERY_BOUND_MS })
          .toEqual(['during-outage']);
        expect(logger.warnings).toHaveLength(1);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
        await proxy.close();
      }
    }, 30_000);
  });
}

describePolling('PollingSecurityChangeBus on embedded PGlite (in memory)', async () => {
  const server: EmbeddedPostgres = await startInMemoryPostgres();
  return { url: server.url, embedded: true, close: () => server.close() };
});

describePolling(
  `PollingSecurityChangeBus on ${database.embedded ? 'embedded PGlite (no PostgreSQL server answers)' : 'PostgreSQL'}`,
  async () => {
    // A database of its own: the LISTEN suites share `database`, and PGlite ignores search_path.
    const own = await testDatabase();
    return { url: own.url, embedded: own.embedded, close: () => own.drop() };
  },
);

describe('SecurityChanges1764300000000', () => {
  it('creates security_changes with its index, and drops it in down', async () => {
    const server = await startInMemoryPostgres();
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      const runner = { query: (sql: string) => client.query(sql).then((r) => r.rows) } as unknown as QueryRunner;
      const migration = new SecurityChanges1764300000000();
      await migration.up(runner);

      const { rows: columns } = await client.query(`
        SELECT column_name, format_type(a.atttypid, a.atttypmod) AS type, is_nullable, column_default
        FROM information_schema.columns c
        JOIN pg_attribute a ON a.attrelid = 'security_changes'::regclass AND a.attname = c.column_name
        WHERE c.table_name = 'security_changes' ORDER BY ordinal_position`);
      const { rows: indexes } = await client.query(
        `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'security_changes' ORDER BY indexname`,
      );
      expect(migration.name).toBe('SecurityChanges1764300000000');
      expect(columns.map((c) => [c.column_name, c.type, c.is_nullable, c.column_default])).toEqual([
        ['seq', 'bigint', 'NO', `nextval('security_changes_seq_seq'::regclass)`],
        ['kind', 'character varying(32)', 'NO', null],
        ['id', 'character varying(255)', 'NO', null],
        ['origin', 'character varying(64)', 'YES', null],
        ['at', 'timestamp with time zone', 'NO', 'now()'],
      ]);
      expect(indexes.map((i) => [i.indexname, i.indexdef.replace(/^.* USING /, '')])).toEqual([
        ['security_changes_at_idx', 'btree (at)'],
        ['security_changes_pkey', 'btree (seq)'],
      ]);

      await migration.down(runner);
      const { rows } = await client.query(`SELECT to_regclass('security_changes') IS NULL AS gone`);
      expect(rows[0].gone).toBe(true);
    } finally {
      await client.end();
      await server.close();
    }
  }, 60_000);
});
