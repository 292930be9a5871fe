import { Writable } from 'node:stream';
import { ConsoleLogger, Logger, type LoggerService } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryAuditEventStore } from '../../src/audit/adapters/memory-audit-event.store.js';
import type { SecurityEventRecord } from '../../src/audit/security-event-types.js';
import { SecurityEvents } from '../../src/audit/security-events.service.js';
import { createSecurityLogger } from '../../src/audit/security-logger.js';
import { ManualClock } from '../../src/core/clock.js';
import { resolveSecurityOptions } from '../../src/options/resolve-security-options.js';
import type { SecurityModuleOptions } from '../../src/options/security-options.js';
import { MemoryDeprecationUsageStore } from '../../src/versioning/adapters/memory-deprecation-usage.store.js';
import { TypeOrmDeprecationUsageStore } from '../../src/versioning/adapters/typeorm-deprecation-usage.store.js';
import { buildDeprecationReport } from '../../src/versioning/core/deprecation-report.js';
import { parseDeprecation, type DeprecationPhase } from '../../src/versioning/core/deprecation.js';
import { DeprecationUsage, type DeprecatedCall } from '../../src/versioning/deprecation-usage.service.js';
import { DeprecationUsageStore, type DeprecatedCallCount } from '../../src/versioning/deprecation-usage.store.js';
import { POSTGRES_TARGETS, useMigratedDatabase } from '../support/migrated-database.js';
import { callCount, refusePoisonRows } from './deprecation-usage-store.contract.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

/** Deprecated from T0 - 10d, gone at T0 + 90d, with a successor. */
const LIFECYCLE = parseDeprecation(
  {
    deprecatedAt: new Date(T0 - 10 * DAY),
    sunsetAt: new Date(T0 + 90 * DAY),
    link: 'https://docs.example.com/v1-to-v2',
    successor: '/v2/items',
  },
  'test',
);
/** The same dates, without a successor. */
const NO_SUCCESSOR = parseDeprecation(
  { deprecatedAt: new Date(T0 - 10 * DAY), sunsetAt: new Date(T0 + 90 * DAY), link: '/docs/v1' },
  'test',
);

/** One call to GET /v1/items (version 1) by principal-a with key-a, answered in phase `deprecated`. */
function deprecatedCall(fields: Partial<DeprecatedCall> = {}): DeprecatedCall {
  return {
    version: '1',
    method: 'GET',
    path: '/v1/items',
    principalId: 'principal-a',
    keyId: 'key-a',
    phase: 'deprecated',
    lifecycle: LIFECYCLE,
    refused: false,
    status: 200,
    request: { requestId: 'req-1', method: 'GET', path: '/v1/items?limit=5', ip: '203.0.113.7' },
    ...fields,
  };
}

/** The stored row of `deprecatedCall()`, once at T0; `fields` override. */
function row(fields: Partial<DeprecatedCallCount> = {}): DeprecatedCallCount {
  return callCount({ firstSeenAt: new Date(T0), lastSeenAt: new Date(T0), ...fields });
}

/** A real store behind a switch: `add` rejects while `healthy` is false, and calls are counted. */
class SwitchableStore extends DeprecationUsageStore {
  healthy = true;
  attempts = 0;
  /** `add` calls running right now, and the most seen at once. */
  running = 0;
  maxRunning = 0;
  /** While set, `add` waits for it before writing. */
  gate: Promise<void> | undefined;

  constructor(private readonly inner: DeprecationUsageStore) {
    super();
  }

  get kind() {
    return this.inner.kind;
  }

  async add(counts: readonly DeprecatedCallCount[]): Promise<void> {
    this.attempts += 1;
    this.running += 1;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await this.gate;
      if (!this.healthy) throw new Error('connection terminated unexpectedly');
      await this.inner.add(counts);
    } finally {
      this.running -= 1;
    }
  }

  list(): Promise<DeprecatedCallCount[]> {
    return this.inner.list();
  }
}

/** Nest's logger output, kept for assertions instead of printed. */
class CapturedNestLogs implements LoggerService {
  readonly warnings: string[] = [];
  log(): void {}
  error(): void {}
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
}

const discard = new Writable({ write: (_chunk, _encoding, done) => done() });

/** A DeprecationUsage over `store`, with real SecurityEvents whose DEPRECATED_CALL records are kept. */
function setup(store: DeprecationUsageStore, options: SecurityModuleOptions = {}) {
  const clock = new ManualClock(T0);
  const resolved = resolveSecurityOptions({ environment: 'test', audit: false, deprecations: {}, ...options });
  const events = new SecurityEvents(resolved, createSecurityLogger(discard), new MemoryAuditEventStore(), clock);
  const recorded: SecurityEventRecord[] = [];
  events.subscribe((record) => {
    if (record.type === 'DEPRECATED_CALL') recorded.push(record);
  });
  const usage = new DeprecationUsage(resolved, store, events, clock);
  return { clock, usage, events: recorded };
}

let nestLogs: CapturedNestLogs;

beforeAll(() => {
  nestLogs = new CapturedNestLogs();
  Logger.overrideLogger(nestLogs);
});

afterAll(() => {
  Logger.overrideLogger(new ConsoleLogger());
});

describeCounting('memory store', async () => ({ store: new MemoryDeprecationUsageStore(), cleanup: async () => {} }));

for (const target of POSTGRES_TARGETS) {
  describe(`on ${target.label}`, () => {
    const db = useMigratedDatabase(target.open);
    const truncate = () => db.dataSource.query('TRUNCATE deprecated_calls');

    describeCounting('TypeORM store', async () => {
      await truncate();
      return { store: new TypeOrmDeprecationUsageStore(db.dataSource), cleanup: async () => {} };
    });

    describe('a failed flush of more than 500 rows (TypeORM store)', () => {
      // The database refuses one row, so the second statement of the add fails after the first was written.
      refusePoisonRows(() => db.dataSource);

      beforeEach(truncate);

      // The store writes an add all or nothing, so the counts put back after a failure are written once.
      it('is counted once when a later flush writes it', async () => {
        const { usage } = setup(new TypeOrmDeprecationUsageStore(db.dataSource));
        for (let i = 0; i < 600; i++) usage.record(deprecatedCall({ path: i === 550 ? '/poison' : `/v1/r/${i}` }));

        await usage.flush();
        await db.dataSource.query('DROP TRIGGER test_refuse_poison ON deprecated_calls');
        try {
          await usage.flush();
        } finally {
          await db.dataSource.query(`
            CREATE TRIGGER test_refuse_poison BEFORE INSERT ON deprecated_calls
            FOR EACH ROW EXECUTE FUNCTION test_refuse_poison()`);
        }

        const rows = await new TypeOrmDeprecationUsageStore(db.dataSource).list();
        expect(rows).toHaveLength(600);
        expect(rows.filter((r) => r.count !== 1).map((r) => [r.path, r.count])).toEqual([]);
      });
    });
  });
}

/** How DeprecationUsage counts calls and writes them to a store; `makeStore` hands over an empty store. */
function describeCounting(
  name: string,
  makeStore: () => Promise<{ store: DeprecationUsageStore; cleanup: () => Promise<void> }>,
): void {
  describe(`DeprecationUsage counting with a ${name}`, () => {
    let inner: DeprecationUsageStore;
    let store: SwitchableStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store: inner, cleanup } = await makeStore());
      store = new SwitchableStore(inner);
      nestLogs.warnings.length = 0;
    });

    afterEach(async () => {
      await cleanup();
    });

    it('writes nothing until flush', async () => {
      const { usage } = setup(store);

      for (let i = 0; i < 3; i++) usage.record(deprecatedCall());

      expect(await inner.list()).toEqual([]);
      expect(store.attempts).toBe(0);
    });

    it('writes 10 calls of one caller as one row with count 10, first and last seen from the clock', async () => {
      const { usage, clock } = setup(store);
      for (let i = 0; i < 10; i++) {
        usage.record(deprecatedCall({ phase: i < 9 ? 'deprecated' : 'warning' }));
        clock.advance(SECOND);
      }

      await usage.flush();

      expect(await inner.list()).toEqual([
        row({ count: 10, firstSeenAt: new Date(T0), lastSeenAt: new Date(T0 + 9 * SECOND), lastPhase: 'warning' }),
      ]);
      expect(store.attempts).toBe(1);
    });

    it('counts refused calls in refused as well as in count', async () => {
      const { usage } = setup(store);
      for (let i = 0; i < 4; i++) usage.record(deprecatedCall());
      for (let i = 0; i < 3; i++) usage.record(deprecatedCall({ refused: true, phase: 'brownout', status: 410 }));

      await usage.flush();

      expect(await inner.list()).toEqual([row({ count: 7, refused: 3, lastPhase: 'brownout' })]);
    });

    it('keeps callers, keys, routes and versions apart, public calls and calls without a key included', async () => {
      const { usage } = setup(store);
      const calls = [
        deprecatedCall(),
        deprecatedCall({ principalId: 'principal-b', keyId: 'key-b' }),
        deprecatedCall({ keyId: 'key-a2' }),
        deprecatedCall({ keyId: null }),
        deprecatedCall({ principalId: null, keyId: null }),
        deprecatedCall({ path: '/v1/items/:id' }),
        deprecatedCall({ method: 'POST' }),
        deprecatedCall({ version: null, path: '/legacy' }),
      ];
      for (const call of calls) usage.record(call);
      usage.record(calls[0]!);

      await usage.flush();

      const rows = await inner.list();
      expect(rows).toHaveLength(calls.length);
      expect(rows).toContainEqual(row({ count: 2 }));
      expect(rows).toContainEqual(row({ principalId: null, keyId: null }));
      expect(rows).toContainEqual(row({ version: null, path: '/legacy' }));
    });

    it('does not write the same calls twice: a second flush writes only what came after the first', async () => {
      const { usage } = setup(store);
      for (let i = 0; i < 5; i++) usage.record(deprecatedCall());
      await usage.flush();
      await usage.flush();
      expect(store.attempts).toBe(1);

      for (let i = 0; i < 2; i++) usage.record(deprecatedCall());
      await usage.flush();

      expect(await inner.list()).toEqual([row({ count: 7 })]);
    });

    it('keeps the counts of a failed flush, merges the calls that came meanwhile, and writes all later', async () => {
      const { usage, clock } = setup(store);
      for (let i = 0; i < 3; i++) usage.record(deprecatedCall());
      usage.record(deprecatedCall({ principalId: 'principal-b', refused: true, phase: 'closed' }));
      store.healthy = false;

      await expect(usage.flush()).resolves.toBeUndefined();
      expect(await inner.list()).toEqual([]);
      clock.advance(MINUTE);
      usage.record(deprecatedCall({ phase: 'warning' }));
      usage.record(deprecatedCall({ principalId: 'principal-c' }));
      await usage.flush();
      expect(await inner.list()).toEqual([]);
      store.healthy = true;
      await usage.flush();

      expect(await inner.list()).toEqual([
        row({ count: 4, firstSeenAt: new Date(T0), lastSeenAt: new Date(T0 + MINUTE), lastPhase: 'warning' }),
        row({ principalId: 'principal-b', refused: 1, lastPhase: 'closed' }),
        row({ principalId: 'principal-c', firstSeenAt: new Date(T0 + MINUTE), lastSeenAt: new Date(T0 + MINUTE) }),
      ]);
      expect(store.attempts).toBe(3);
      expect(nestLogs.warnings).toEqual([
        expect.stringMatching(/deprecated-call usage not written yet \(2 rows kept\): connection terminated/),
        expect.stringMatching(/deprecated-call usage not written yet \(3 rows kept\): connection terminated/),
      ]);
    });

    it('merges the calls recorded while a failing flush is running into what it keeps', async () => {
      const { usage, clock } = setup(store);
      for (let i = 0; i < 3; i++) usage.record(deprecatedCall());
      store.healthy = false;
      let open!: () => void;
      store.gate = new Promise<void>((resolve) => (open = resolve));

      const failing = usage.flush();
      clock.advance(MINUTE);
      for (let i = 0; i < 2; i++) usage.record(deprecatedCall({ phase: 'closed', refused: true }));
      open();
      await failing;
      store.gate = undefined;
      store.healthy = true;
      await usage.flush();

      expect(await inner.list()).toEqual([
        row({ count: 5, refused: 2, lastSeenAt: new Date(T0 + MINUTE), lastPhase: 'closed' }),
      ]);
    });

    it('runs one flush at a time: concurrent flushes write every call exactly once', async () => {
      const { usage } = setup(store);
      let open!: () => void;
      store.gate = new Promise<void>((resolve) => (open = resolve));
      for (let i = 0; i < 10; i++) usage.record(deprecatedCall());

      const first = usage.flush();
      for (let i = 0; i < 5; i++) usage.record(deprecatedCall({ principalId: 'principal-b' }));
      const others = [usage.flush(), usage.flush(), usage.flush()];
      for (let i = 0; i < 5; i++) usage.record(deprecatedCall());
      open();
      await Promise.all([first, ...others]);
      await usage.flush();

      expect(store.maxRunning).toBe(1);
      expect(await inner.list()).toEqual([row({ count: 15 }), row({ principalId: 'principal-b', count: 5 })]);
    });

    it('writes every call exactly once under many concurrent records and flushes', async () => {
      const { usage } = setup(store);

      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          usage.record(deprecatedCall({ principalId: `principal-${i % 5}` }));
          await usage.flush();
        }),
      );
      await usage.flush();

      const rows = await inner.list();
      expect(rows.map((r) => [r.principalId, r.count])).toEqual([0, 1, 2, 3, 4].map((i) => [`principal-${i}`, 10]));
      expect(store.maxRunning).toBe(1);
    });

    it('report() flushes first and returns the rows grouped by route, highest count first', async () => {
      const { usage, clock } = setup(store);
      await inner.add([row({ principalId: 'principal-old', count: 2, firstSeenAt: new Date(T0 - DAY) })]);
      for (let i = 0; i < 3; i++) usage.record(deprecatedCall({ principalId: 'principal-b', keyId: null }));
      clock.advance(MINUTE);
      usage.record(deprecatedCall({ refused: true, phase: 'gone', status: 410 }));
      usage.record(deprecatedCall({ method: 'DELETE', path: '/v1/items/:id', principalId: null, keyId: null }));

      const report = await usage.report();

      expect(report).toEqual({
        routes: [
          {
            version: '1',
            method: 'GET',
            path: '/v1/items',
            callers: [
              {
                principalId: 'principal-b',
                keyId: null,
                count: 3,
                refused: 0,
                firstSeenAt: new Date(T0).toISOString(),
                lastSeenAt: new Date(T0).toISOString(),
                lastPhase: 'deprecated',
              },
              {
                principalId: 'principal-old',
                keyId: 'key-a',
                count: 2,
                refused: 0,
                firstSeenAt: new Date(T0 - DAY).toISOString(),
                lastSeenAt: new Date(T0).toISOString(),
                lastPhase: 'deprecated',
              },
              {
                principalId: 'principal-a',
                keyId: 'key-a',
                count: 1,
                refused: 1,
                firstSeenAt: new Date(T0 + MINUTE).toISOString(),
                lastSeenAt: new Date(T0 + MINUTE).toISOString(),
                lastPhase: 'gone',
              },
            ],
          },
          {
            version: '1',
            method: 'DELETE',
            path: '/v1/items/:id',
            callers: [
              {
                principalId: null,
                keyId: null,
                count: 1,
                refused: 0,
                firstSeenAt: new Date(T0 + MINUTE).toISOString(),
                lastSeenAt: new Date(T0 + MINUTE).toISOString(),
                lastPhase: 'deprecated',
              },
            ],
          },
        ],
      });
      expect(report).toEqual(buildDeprecationReport(await inner.list()));
    });

    it('report() answers from the store when the flush fails, keeping the counts for later', async () => {
      const { usage } = setup(store);
      await inner.add([row({ principalId: 'principal-old', count: 2 })]);
      usage.record(deprecatedCall());
      store.healthy = false;

      const report = await usage.report();

      expect(report.routes[0]!.callers.map((c) => [c.principalId, c.count])).toEqual([['principal-old', 2]]);
      store.healthy = true;
      expect((await usage.report()).routes[0]!.callers.map((c) => [c.principalId, c.count])).toEqual([
        ['principal-old', 2],
        ['principal-a', 1],
      ]);
    });

    it('flushes before application shutdown', async () => {
      const { usage } = setup(store);
      for (let i = 0; i < 4; i++) usage.record(deprecatedCall());

      await usage.beforeApplicationShutdown();

      expect(await inner.list()).toEqual([row({ count: 4 })]);
    });

    it('flushes every deprecations.flushInterval (default 5s) once bootstrapped, and stops at shutdown', async () => {
      // Only the interval timer is faked: the database driver keeps its real timers.
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      try {
        const { usage } = setup(store);
        usage.onApplicationBootstrap();
        usage.record(deprecatedCall());

        vi.advanceTimersByTime(5 * SECOND - 1);
        expect(store.attempts).toBe(0);
        vi.advanceTimersByTime(1);
        await expect.poll(() => inner.list(), { timeout: 5_000 }).toEqual([row()]);

        usage.record(deprecatedCall());
        vi.advanceTimersByTime(5 * SECOND);
        await expect.poll(() => inner.list(), { timeout: 5_000 }).toEqual([row({ count: 2 })]);

        usage.record(deprecatedCall());
        await usage.beforeApplicationShutdown();
        expect(await inner.list()).toEqual([row({ count: 3 })]);
        const attempts = store.attempts;
        usage.record(deprecatedCall());
        vi.advanceTimersByTime(60 * SECOND);

        // No timer any more: nothing was started (a flush would have called add at once).
        expect(store.attempts).toBe(attempts);
      } finally {
        vi.useRealTimers();
      }
    });

    it('follows a custom deprecations.flushInterval', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      try {
        const { usage } = setup(store, { deprecations: { flushInterval: '1m' } });
        usage.onApplicationBootstrap();
        usage.record(deprecatedCall());

        vi.advanceTimersByTime(MINUTE - 1);
        expect(store.attempts).toBe(0);
        vi.advanceTimersByTime(1);
        await expect.poll(() => inner.list(), { timeout: 5_000 }).toEqual([row()]);
        await usage.beforeApplicationShutdown();
      } finally {
        vi.useRealTimers();
      }
    });

    it('starts no timer with deprecations switched off (a shutdown still flushes)', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      try {
        const { usage } = setup(store, { deprecations: false });
        usage.onApplicationBootstrap();
        usage.record(deprecatedCall());

        vi.advanceTimersByTime(HOUR);
        expect(store.attempts).toBe(0);
        await usage.beforeApplicationShutdown();
        expect(await inner.list()).toEqual([row()]);
      } finally {
        vi.useRealTimers();
      }
    });
  });
}

describe('DeprecationUsage events', () => {
  let store: MemoryDeprecationUsageStore;

  beforeEach(() => {
    store = new MemoryDeprecationUsageStore();
  });

  it('records DEPRECATED_CALL once per route, principal, key and phase within the event interval', () => {
    const { usage, clock, events } = setup(store);

    for (let i = 0; i < 20; i++) {
      usage.record(deprecatedCall());
      clock.advance(MINUTE);
    }

    expect(events).toHaveLength(1);
  });

  it('records it again once the event interval has passed, and not a moment before', () => {
    const { usage, clock, events } = setup(store, { deprecations: { eventInterval: '1h' } });
    usage.record(deprecatedCall());

    clock.advance(HOUR - 1);
    usage.record(deprecatedCall());
    expect(events).toHaveLength(1);

    clock.advance(1);
    usage.record(deprecatedCall());
    expect(events).toHaveLength(2);
    expect(events[1]!.at).toEqual(new Date(T0 + HOUR));

    usage.record(deprecatedCall());
    expect(events).toHaveLength(2);
  });

  it('follows deprecations.eventInterval', () => {
    const { usage, clock, events } = setup(store, { deprecations: { eventInterval: '10m' } });
    usage.record(deprecatedCall());

    clock.advance(10 * MINUTE);
    usage.record(deprecatedCall());

    expect(events).toHaveLength(2);
  });

  it('records it at once when the phase changes', () => {
    const { usage, clock, events } = setup(store);
    const phases: DeprecationPhase[] = ['deprecated', 'deprecated', 'warning', 'warning', 'closed', 'gone', 'gone'];

    for (const phase of phases) {
      usage.record(deprecatedCall({ phase, refused: phase === 'closed' || phase === 'gone' }));
      clock.advance(SECOND);
    }

    expect(events.map((event) => event.details.phase)).toEqual(['deprecated', 'warning', 'closed', 'gone']);
  });

  it('records a phase it already recorded within the interval only once (back from a brownout)', () => {
    const { usage, clock, events } = setup(store);

    usage.record(deprecatedCall({ phase: 'deprecated' }));
    clock.advance(MINUTE);
    usage.record(deprecatedCall({ phase: 'brownout', refused: true, status: 410 }));
    clock.advance(MINUTE);
    usage.record(deprecatedCall({ phase: 'deprecated' }));

    expect(events.map((event) => event.details.phase)).toEqual(['deprecated', 'brownout']);
  });

  it('throttles each route, version, method, principal and key on its own', () => {
    const { usage, events } = setup(store);
    const calls = [
      deprecatedCall(),
      deprecatedCall({ principalId: 'principal-b' }),
      deprecatedCall({ keyId: 'key-b' }),
      deprecatedCall({ keyId: null }),
      deprecatedCall({ principalId: null, keyId: null }),
      deprecatedCall({ path: '/v1/items/:id' }),
      deprecatedCall({ method: 'POST' }),
      deprecatedCall({ version: '2' }),
    ];

    for (const call of [...calls, ...calls]) usage.record(call);

    expect(events).toHaveLength(calls.length);
  });

  it("has outcome 'success' for an answered call and 'denied' for a refused one", () => {
    const { usage, events } = setup(store);

    usage.record(deprecatedCall({ phase: 'warning' }));
    usage.record(deprecatedCall({ phase: 'closed', refused: true, status: 403 }));
    usage.record(deprecatedCall({ phase: 'brownout', refused: true, status: 410 }));
    usage.record(deprecatedCall({ phase: 'gone', refused: true, status: 410 }));

    expect(events.map((event) => [event.details.phase, event.outcome, event.status])).toEqual([
      ['warning', 'success', 200],
      ['closed', 'denied', 403],
      ['brownout', 'denied', 410],
      ['gone', 'denied', 410],
    ]);
  });

  it('carries the version, method, route, phase, dates and successor, the caller and the request', () => {
    const { usage, events } = setup(store);

    usage.record(deprecatedCall({ phase: 'warning' }));

    expect(events).toEqual([
      expect.objectContaining({
        type: 'DEPRECATED_CALL',
        outcome: 'success',
        at: new Date(T0),
        principalId: 'principal-a',
        keyId: 'key-a',
        status: 200,
        requestId: 'req-1',
        method: 'GET',
        path: '/v1/items?limit=5',
        ip: '203.0.113.7',
        details: {
          version: '1',
          method: 'GET',
          route: '/v1/items',
          phase: 'warning',
          deprecatedAt: new Date(T0 - 10 * DAY).toISOString(),
          sunsetAt: new Date(T0 + 90 * DAY).toISOString(),
          successor: '/v2/items',
        },
      }),
    ]);
  });

  it('leaves out the successor when the lifecycle has none, and the caller of a public call', () => {
    const { usage, events } = setup(store);

    usage.record(
      deprecatedCall({
        lifecycle: NO_SUCCESSOR,
        principalId: null,
        keyId: null,
        version: null,
        path: '/legacy',
        request: undefined,
        status: undefined,
      }),
    );

    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ principalId: null, keyId: null, status: null, requestId: null });
    expect(events[0]!.details).toEqual({
      version: null,
      method: 'GET',
      route: '/legacy',
      phase: 'deprecated',
      deprecatedAt: new Date(T0 - 10 * DAY).toISOString(),
      sunsetAt: new Date(T0 + 90 * DAY).toISOString(),
    });
  });

  it('still records events with deprecations switched off (no interval configured: one hour)', () => {
    const { usage, clock, events } = setup(store, { deprecations: false });

    usage.record(deprecatedCall());
    clock.advance(HOUR - 1);
    usage.record(deprecatedCall());
    clock.advance(1);
    usage.record(deprecatedCall());

    expect(events).toHaveLength(2);
  });

  it('records events whether or not the store is healthy', async () => {
    const failing = new SwitchableStore(store);
    failing.healthy = false;
    const { usage, events } = setup(failing);

    usage.record(deprecatedCall());
    await usage.flush();
    usage.record(deprecatedCall({ phase: 'gone', refused: true }));

    expect(events).toHaveLength(2);
  });
});

describe('DeprecationUsage bounds', () => {
  beforeEach(() => {
    nestLogs.warnings.length = 0;
  });

  it('holds at most 10,000 callers between flushes: later new callers are not counted, known ones are', async () => {
    const store = new MemoryDeprecationUsageStore();
    const { usage } = setup(store);
    for (let i = 0; i < 10_000; i++) usage.record(deprecatedCall({ principalId: `p-${i}` }));

    usage.record(deprecatedCall({ principalId: 'p-late' }));
    usage.record(deprecatedCall({ principalId: 'p-0' }));
    await usage.flush();

    const rows = await store.list();
    expect(rows).toHaveLength(10_000);
    expect(rows.find((r) => r.principalId === 'p-late')).toBeUndefined();
    expect(rows.find((r) => r.principalId === 'p-0')!.count).toBe(2);
    expect(nestLogs.warnings).toEqual([expect.stringMatching(/1 calls from new callers were not counted/)]);

    usage.record(deprecatedCall({ principalId: 'p-late' }));
    await usage.flush();
    expect((await store.list()).find((r) => r.principalId === 'p-late')!.count).toBe(1);
  });
});
