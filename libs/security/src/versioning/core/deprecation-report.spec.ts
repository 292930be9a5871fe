import { describe, expect, it } from 'vitest';
import type { DeprecatedCallCount } from '../deprecation-usage.store.js';
import { callCount, seen } from '../../../test/versioning/deprecation-usage-store.contract.js';
import { buildDeprecationReport, callKeyOf, compareCounts, mergeCounts } from './deprecation-report.js';

const T = (minute: number): Date => seen(minute * 60);

describe('callKeyOf', () => {
  it('is the same for the same route, version, principal and key, whatever the counts and times', () => {
    expect(callKeyOf(callCount())).toBe(
      callKeyOf(callCount({ count: 9, refused: 3, firstSeenAt: T(5), lastSeenAt: T(9), lastPhase: 'gone' })),
    );
  });

  it.each<[string, Partial<DeprecatedCallCount>]>([
    ['version', { version: '2' }],
    ['method', { method: 'POST' }],
    ['path', { path: '/v1/items/:id' }],
    ['principal', { principalId: 'principal-b' }],
    ['key', { keyId: 'key-b' }],
    ['version against an unversioned route', { version: null }],
    ['principal against a public call', { principalId: null }],
    ['key against a call without a key', { keyId: null }],
  ])('differs by %s', (_label, fields) => {
    expect(callKeyOf(callCount(fields))).not.toBe(callKeyOf(callCount()));
  });

  it('does not confuse values that move between fields', () => {
    expect(callKeyOf(callCount({ principalId: 'a', keyId: '' }))).not.toBe(
      callKeyOf(callCount({ principalId: '', keyId: 'a' })),
    );
    expect(callKeyOf(callCount({ version: '1', path: '/x' }))).not.toBe(
      callKeyOf(callCount({ version: '', path: '1/x' })),
    );
  });

  it("maps null and '' to the same key, by design: the store keeps '' for a null version, principal or key", () => {
    expect(callKeyOf(callCount({ version: null, principalId: null, keyId: null }))).toBe(
      callKeyOf(callCount({ version: '', principalId: '', keyId: '' })),
    );
  });
});

describe('mergeCounts', () => {
  it('sums the counts and the refusals, keeping the key', () => {
    const merged = mergeCounts(callCount({ count: 3, refused: 1 }), callCount({ count: 4, refused: 2 }));
    expect(merged).toMatchObject({
      version: '1',
      method: 'GET',
      path: '/v1/items',
      principalId: 'principal-a',
      keyId: 'key-a',
      count: 7,
      refused: 3,
    });
  });

  it('widens first and last seen to cover both, in either order', () => {
    const a = callCount({ firstSeenAt: T(10), lastSeenAt: T(20) });
    const b = callCount({ firstSeenAt: T(5), lastSeenAt: T(30) });
    for (const merged of [mergeCounts(a, b), mergeCounts(b, a)]) {
      expect(merged.firstSeenAt.getTime()).toBe(T(5).getTime());
      expect(merged.lastSeenAt.getTime()).toBe(T(30).getTime());
    }
  });

  it('keeps the wider range when the other lies inside it', () => {
    const wide = callCount({ firstSeenAt: T(0), lastSeenAt: T(50) });
    const narrow = callCount({ firstSeenAt: T(10), lastSeenAt: T(20) });
    for (const merged of [mergeCounts(wide, narrow), mergeCounts(narrow, wide)]) {
      expect(merged.firstSeenAt.getTime()).toBe(T(0).getTime());
      expect(merged.lastSeenAt.getTime()).toBe(T(50).getTime());
    }
  });

  it('keeps the phase of the later call, whichever order the counts are merged in', () => {
    const earlier = callCount({ firstSeenAt: T(0), lastSeenAt: T(10), lastPhase: 'warning' });
    const later = callCount({ firstSeenAt: T(5), lastSeenAt: T(20), lastPhase: 'brownout' });
    expect(mergeCounts(earlier, later).lastPhase).toBe('brownout');
    expect(mergeCounts(later, earlier).lastPhase).toBe('brownout');
  });

  it('compares the times by value, not by Date identity', () => {
    const a = callCount({
      firstSeenAt: new Date(T(5).getTime()),
      lastSeenAt: new Date(T(30).getTime()),
      lastPhase: 'gone',
    });
    const b = callCount({ firstSeenAt: T(10), lastSeenAt: T(20), lastPhase: 'warning' });
    const merged = mergeCounts(b, a);
    expect(merged.firstSeenAt.getTime()).toBe(T(5).getTime());
    expect(merged.lastSeenAt.getTime()).toBe(T(30).getTime());
    expect(merged.lastPhase).toBe('gone');
  });

  it('changes neither input', () => {
    const a = callCount({ count: 2, firstSeenAt: T(10), lastSeenAt: T(20), lastPhase: 'warning' });
    const b = callCount({ count: 5, firstSeenAt: T(0), lastSeenAt: T(30), lastPhase: 'closed' });
    const before = [structuredClone(a), structuredClone(b)];
    mergeCounts(a, b);
    expect([a, b]).toEqual(before);
  });
});

describe('compareCounts', () => {
  it('orders by version (unversioned first), path, method, then count highest first, then principal and key', () => {
    const ordered = [
      callCount({ version: null, path: '/legacy', principalId: 'p' }),
      callCount({ version: '1', path: '/v1/items', method: 'GET', count: 9, principalId: 'z' }),
      callCount({ version: '1', path: '/v1/items', method: 'GET', count: 2, principalId: 'a', keyId: 'k1' }),
      callCount({ version: '1', path: '/v1/items', method: 'GET', count: 2, principalId: 'a', keyId: 'k2' }),
      callCount({ version: '1', path: '/v1/items', method: 'GET', count: 2, principalId: 'b', keyId: null }),
      callCount({ version: '1', path: '/v1/items', method: 'POST', count: 50 }),
      callCount({ version: '1', path: '/v1/items/:id', method: 'DELETE', count: 100 }),
      callCount({ version: '2', path: '/a', count: 1 }),
    ];
    const shuffled = [ordered[5], ordered[2], ordered[7], ordered[0], ordered[4], ordered[6], ordered[1], ordered[3]];
    expect([...shuffled].sort(compareCounts)).toEqual(ordered);
    expect([...ordered].reverse().sort(compareCounts)).toEqual(ordered);
  });

  it('is 0 for rows with the same key and count', () => {
    expect(compareCounts(callCount({ lastPhase: 'gone' }), callCount({ lastPhase: 'warning' }))).toBe(0);
  });
});

describe('buildDeprecationReport', () => {
  it('reports no routes when nothing was counted', () => {
    expect(buildDeprecationReport([])).toStrictEqual({ routes: [] });
  });

  it('groups callers by version, method and path, highest count first, with ISO times and null ids kept', () => {
    const report = buildDeprecationReport([
      callCount({ principalId: 'few', keyId: 'k-few', count: 2, firstSeenAt: T(1), lastSeenAt: T(2) }),
      callCount({ method: 'POST', principalId: 'poster', count: 1, refused: 1, lastPhase: 'closed' }),
      callCount({
        principalId: null,
        keyId: null,
        count: 7,
        refused: 7,
        firstSeenAt: T(3),
        lastSeenAt: T(4),
        lastPhase: 'gone',
      }),
      callCount({ version: '2', path: '/v2/legacy', principalId: 'v2', keyId: null, count: 1 }),
      callCount({ principalId: 'many', keyId: 'k-many', count: 40, firstSeenAt: T(0), lastSeenAt: T(59) }),
    ]);
    expect(report).toStrictEqual({
      routes: [
        {
          version: '1',
          method: 'GET',
          path: '/v1/items',
          callers: [
            {
              principalId: 'many',
              keyId: 'k-many',
              count: 40,
              refused: 0,
              firstSeenAt: '2027-03-01T10:00:00.123Z',
              lastSeenAt: '2027-03-01T10:59:00.123Z',
              lastPhase: 'deprecated',
            },
            {
              principalId: null,
              keyId: null,
              count: 7,
              refused: 7,
              firstSeenAt: '2027-03-01T10:03:00.123Z',
              lastSeenAt: '2027-03-01T10:04:00.123Z',
              lastPhase: 'gone',
            },
            {
              principalId: 'few',
              keyId: 'k-few',
              count: 2,
              refused: 0,
              firstSeenAt: '2027-03-01T10:01:00.123Z',
              lastSeenAt: '2027-03-01T10:02:00.123Z',
              lastPhase: 'deprecated',
            },
          ],
        },
        {
          version: '1',
          method: 'POST',
          path: '/v1/items',
          callers: [
            {
              principalId: 'poster',
              keyId: 'key-a',
              count: 1,
              refused: 1,
              firstSeenAt: '2027-03-01T10:00:00.123Z',
              lastSeenAt: '2027-03-01T10:00:00.123Z',
              lastPhase: 'closed',
            },
          ],
        },
        {
          version: '2',
          method: 'GET',
          path: '/v2/legacy',
          callers: [
            {
              principalId: 'v2',
              keyId: null,
              count: 1,
              refused: 0,
              firstSeenAt: '2027-03-01T10:00:00.123Z',
              lastSeenAt: '2027-03-01T10:00:00.123Z',
              lastPhase: 'deprecated',
            },
          ],
        },
      ],
    });
  });

  it('keeps the same path under two versions apart, the unversioned route first', () => {
    const report = buildDeprecationReport([
      callCount({ version: '1', path: '/items', count: 1 }),
      callCount({ version: null, path: '/items', count: 2 }),
    ]);
    expect(report.routes.map((route) => [route.version, route.path, route.callers[0]!.count])).toEqual([
      [null, '/items', 2],
      ['1', '/items', 1],
    ]);
  });

  it('does not reorder the rows it is given', () => {
    const rows = [callCount({ count: 1, principalId: 'x' }), callCount({ count: 5, principalId: 'y' })];
    buildDeprecationReport(rows);
    expect(rows.map((r) => r.principalId)).toEqual(['x', 'y']);
  });
});
