import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeprecationPhase } from '../../src/versioning/core/deprecation.js';
import type { DeprecatedCallCount, DeprecationUsageStore } from '../../src/versioning/deprecation-usage.store.js';
import { useContractFixture, type ContractFixture } from '../stores/contract-support.js';

/** What a contract run needs: an empty store. */
export interface DeprecationUsageStoreFixture extends ContractFixture {
  store: DeprecationUsageStore;
}

const T0 = Date.UTC(2027, 2, 1, 10, 0, 0);

/** A fixed instant `seconds` after a fixed origin, with milliseconds, so that stored dates compare exactly. */
export const seen = (seconds: number): Date => new Date(T0 + seconds * 1000 + 123);

/** One counted row: GET /v1/items of version 1 by principal-a with key-a, once, at `seen(0)`; `fields` override. */
export function callCount(fields: Partial<DeprecatedCallCount> = {}): DeprecatedCallCount {
  return {
    version: '1',
    method: 'GET',
    path: '/v1/items',
    principalId: 'principal-a',
    keyId: 'key-a',
    count: 1,
    refused: 0,
    firstSeenAt: seen(0),
    lastSeenAt: seen(0),
    lastPhase: 'deprecated',
    ...fields,
  };
}

/** Rows that differ from `callCount()` in exactly one part of the key (null included). */
const KEY_VARIANTS: ReadonlyArray<[label: string, fields: Partial<DeprecatedCallCount>]> = [
  ['version', { version: '2' }],
  ['no version', { version: null }],
  ['method', { method: 'POST' }],
  ['path', { path: '/v1/items/:id' }],
  ['principal', { principalId: 'principal-b' }],
  ['no principal', { principalId: null }],
  ['key', { keyId: 'key-b' }],
  ['no key', { keyId: null }],
];

/**
 * The behaviour every `DeprecationUsageStore` adapter must have. `makeStore` is called before each test and
 * must hand over an empty store; `cleanup` runs after each test.
 * @example
 * describeDeprecationUsageStoreContract('memory', async () => ({
 *   store: new MemoryDeprecationUsageStore(),
 *   cleanup: async () => {},
 * }));
 */
export function describeDeprecationUsageStoreContract(
  name: string,
  makeStore: () => Promise<DeprecationUsageStoreFixture>,
): void {
  describe(`DeprecationUsageStore contract: ${name}`, () => {
    let store: DeprecationUsageStore;
    useContractFixture(makeStore, (given) => {
      ({ store } = given);
    });

    it('has a kind', () => {
      expect(['memory', 'postgres']).toContain(store.kind);
    });

    it('lists nothing when nothing was added', async () => {
      expect(await store.list()).toEqual([]);
    });

    it('lists what was added, field for field', async () => {
      const row = callCount({
        count: 7,
        refused: 2,
        firstSeenAt: seen(1),
        lastSeenAt: seen(90),
        lastPhase: 'warning',
      });

      await store.add([row]);

      expect(await store.list()).toEqual([row]);
    });

    it('gives back an absent version, principal and key as null, not as an empty string', async () => {
      const row = callCount({ version: null, principalId: null, keyId: null, path: '/legacy' });

      await store.add([row]);
      const [listed] = await store.list();

      expect(listed).toEqual(row);
      expect(listed!.version).toBeNull();
      expect(listed!.principalId).toBeNull();
      expect(listed!.keyId).toBeNull();
    });

    it('keeps route templates, principals and keys exactly as given', async () => {
      const row = callCount({
        path: "/v1/ïtems/:id/notes/:note_id?q='x'",
        principalId: '11111111-1111-4111-8111-111111111111',
        keyId: 'NASAAAAAAAAAAAAAAAAA',
        version: '2024-01-01',
        method: 'DELETE',
      });

      await store.add([row]);

      expect(await store.list()).toEqual([row]);
    });

    it('adds counts across calls: sums count and refused, widens first and last seen', async () => {
      await store.add([callCount({ count: 3, refused: 1, firstSeenAt: seen(10), lastSeenAt: seen(20) })]);
      await store.add([
        callCount({ count: 2, refused: 2, firstSeenAt: seen(5), lastSeenAt: seen(30), lastPhase: 'warning' }),
      ]);
      await store.add([callCount({ count: 4, refused: 0, firstSeenAt: seen(12), lastSeenAt: seen(25) })]);

      expect(await store.list()).toEqual([
        callCount({ count: 9, refused: 3, firstSeenAt: seen(5), lastSeenAt: seen(30), lastPhase: 'warning' }),
      ]);
    });

    it('keeps the phase of the latest call when a newer batch is added after an older one', async () => {
      await store.add([callCount({ firstSeenAt: seen(0), lastSeenAt: seen(10), lastPhase: 'deprecated' })]);
      await store.add([callCount({ firstSeenAt: seen(20), lastSeenAt: seen(40), lastPhase: 'brownout' })]);

      const [row] = await store.list();

      expect(row).toMatchObject({ lastPhase: 'brownout', firstSeenAt: seen(0), lastSeenAt: seen(40), count: 2 });
    });

    it('keeps the phase of the latest call when an older batch is added second (a slow instance)', async () => {
      await store.add([callCount({ count: 5, firstSeenAt: seen(100), lastSeenAt: seen(200), lastPhase: 'gone' })]);
      await store.add([
        callCount({ count: 1, refused: 1, firstSeenAt: seen(50), lastSeenAt: seen(150), lastPhase: 'closed' }),
      ]);

      expect(await store.list()).toEqual([
        callCount({ count: 6, refused: 1, firstSeenAt: seen(50), lastSeenAt: seen(200), lastPhase: 'gone' }),
      ]);
    });

    it('merges equal keys inside one add (one statement may not touch a row twice)', async () => {
      await store.add([
        callCount({ count: 1, firstSeenAt: seen(10), lastSeenAt: seen(10), lastPhase: 'deprecated' }),
        callCount({ principalId: 'principal-b', count: 4 }),
        callCount({ count: 2, refused: 1, firstSeenAt: seen(30), lastSeenAt: seen(40), lastPhase: 'warning' }),
        callCount({ count: 3, firstSeenAt: seen(5), lastSeenAt: seen(20), lastPhase: 'deprecated' }),
      ]);

      expect(await store.list()).toEqual([
        callCount({ count: 6, refused: 1, firstSeenAt: seen(5), lastSeenAt: seen(40), lastPhase: 'warning' }),
        callCount({ principalId: 'principal-b', count: 4 }),
      ]);
    });

    it('merges equal keys inside one add into a row that already exists', async () => {
      await store.add([callCount({ count: 10, firstSeenAt: seen(0), lastSeenAt: seen(1) })]);

      await store.add([
        callCount({ count: 1, lastSeenAt: seen(50), lastPhase: 'closed' }),
        callCount({ count: 1, lastSeenAt: seen(60), lastPhase: 'gone' }),
      ]);

      expect(await store.list()).toEqual([
        callCount({ count: 12, firstSeenAt: seen(0), lastSeenAt: seen(60), lastPhase: 'gone' }),
      ]);
    });

    it.each(KEY_VARIANTS)('keeps a row that differs by %s apart', async (_label, fields) => {
      await store.add([callCount({ count: 2 }), callCount({ ...fields, count: 1 })]);
      await store.add([callCount({ ...fields, count: 1 })]);

      const rows = await store.list();

      expect(rows).toHaveLength(2);
      expect(rows).toContainEqual(callCount({ count: 2 }));
      expect(rows).toContainEqual(callCount({ ...fields, count: 2 }));
    });

    it('keeps every key variant apart at once', async () => {
      const rows = [callCount(), ...KEY_VARIANTS.map(([, fields]) => callCount(fields))];

      await store.add(rows);
      await store.add(rows);

      const listed = await store.list();
      expect(listed).toHaveLength(rows.length);
      for (const row of rows) expect(listed).toContainEqual({ ...row, count: 2 });
    });

    it('lists by version, then path, then method, then count (highest first)', async () => {
      // In the expected order: no version first, and the highest count first within one route.
      const ordered = [
        callCount({ version: null, path: '/z', method: 'GET', count: 1 }),
        callCount({ version: '1', path: '/v1/a', method: 'GET', principalId: 'p-mid', count: 30 }),
        callCount({ version: '1', path: '/v1/a', method: 'GET', principalId: 'p-low', count: 3 }),
        callCount({ version: '1', path: '/v1/a', method: 'POST', count: 100 }),
        callCount({ version: '1', path: '/v1/b', method: 'DELETE', count: 1 }),
        callCount({ version: '1', path: '/v1/b', method: 'GET', count: 1 }),
        callCount({ version: '2', path: '/v1/a', method: 'GET', count: 1 }),
        callCount({ version: '2', path: '/v2/a', method: 'GET', principalId: 'p-top', count: 500 }),
        callCount({ version: '2', path: '/v2/a', method: 'GET', principalId: 'p-low', count: 2 }),
      ];
      const shuffled = [5, 0, 8, 3, 6, 1, 7, 2, 4].map((i) => ordered[i]!);

      await store.add(shuffled);

      expect(await store.list()).toEqual(ordered);
    });

    it('orders by the counts as added up, not as last added', async () => {
      await store.add([callCount({ principalId: 'p-a', count: 5 }), callCount({ principalId: 'p-b', count: 3 })]);
      await store.add([callCount({ principalId: 'p-b', count: 4 })]);

      expect((await store.list()).map((row) => [row.principalId, row.count])).toEqual([
        ['p-b', 7],
        ['p-a', 5],
      ]);
    });

    it('writes every row of an add of more than 500 rows (several batches), merging keys across them', async () => {
      const rows = Array.from({ length: 1_234 }, (_, i) =>
        callCount({ path: `/v1/items/${String(i).padStart(4, '0')}`, count: i + 1, refused: i % 3 }),
      );
      // The same keys again, after the first batch boundary: merged into the rows above, not a second write.
      const repeats = rows.slice(0, 20).map((row) => ({ ...row, count: 1, refused: 1, lastSeenAt: seen(99) }));

      await store.add([...rows, ...repeats]);

      const listed = await store.list();
      expect(listed).toHaveLength(1_234);
      expect(listed.reduce((sum, row) => sum + row.count, 0)).toBe((1_234 * 1_235) / 2 + 20);
      expect(listed[0]).toEqual({ ...rows[0]!, count: 2, refused: 1, lastSeenAt: seen(99) });
      expect(listed[1_233]).toEqual(rows[1_233]);
      expect(listed.map((row) => row.path)).toEqual(rows.map((row) => row.path));
    });

    it('adds up an add of more than 500 rows into rows that already exist', async () => {
      const rows = Array.from({ length: 700 }, (_, i) => callCount({ principalId: `p-${String(i).padStart(3, '0')}` }));

      await store.add(rows);
      await store.add(rows);

      const listed = await store.list();
      expect(listed).toHaveLength(700);
      expect(listed.every((row) => row.count === 2)).toBe(true);
    });

    it('keeps counts beyond 32 bits', async () => {
      await store.add([callCount({ count: 3_000_000_000, refused: 2_500_000_000 })]);
      await store.add([callCount({ count: 3_000_000_000, refused: 2_500_000_000 })]);

      expect(await store.list()).toEqual([callCount({ count: 6_000_000_000, refused: 5_000_000_000 })]);
    });

    it('treats an add of no rows as a no-op', async () => {
      await store.add([]);
      expect(await store.list()).toEqual([]);

      await store.add([callCount({ count: 3 })]);
      await store.add([]);

      expect(await store.list()).toEqual([callCount({ count: 3 })]);
    });

    it.each<DeprecationPhase>(['announced', 'deprecated', 'warning', 'closed', 'brownout', 'gone'])(
      'keeps the phase %s',
      async (phase) => {
        await store.add([callCount({ lastPhase: phase })]);

        expect((await store.list())[0]!.lastPhase).toBe(phase);
      },
    );

    it('does not keep the caller’s objects: changing them after add changes nothing stored', async () => {
      const row = { ...callCount({ count: 2 }) } as {
        -readonly [K in keyof DeprecatedCallCount]: DeprecatedCallCount[K];
      };

      await store.add([row]);
      row.count = 99;
      row.lastSeenAt = seen(1_000);
      const listed = await store.list();
      (listed[0] as { count: number }).count = 50;

      expect(await store.list()).toEqual([callCount({ count: 2 })]);
    });
  });
}

/**
 * For the enclosing describe: a trigger makes the database refuse every `deprecated_calls` row whose path is
 * `/poison`, so a later statement of an add fails after earlier ones ran (as a dropped connection would).
 */
export function refusePoisonRows(dataSource: () => DataSource): void {
  beforeAll(async () => {
    await dataSource().query(`
      CREATE FUNCTION test_refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.path = '/poison' THEN RAISE EXCEPTION 'poison row refused'; END IF;
        RETURN NEW;
      END $$`);
    await dataSource().query(`
      CREATE TRIGGER test_refuse_poison BEFORE INSERT ON deprecated_calls
      FOR EACH ROW EXECUTE FUNCTION test_refuse_poison()`);
  });
  afterAll(async () => {
    await dataSource().query('DROP TRIGGER IF EXISTS test_refuse_poison ON deprecated_calls');
    await dataSource().query('DROP FUNCTION IF EXISTS test_refuse_poison()');
  });
}
