import type { DeprecatedCallCount, DeprecatedCallKey } from '../deprecation-usage.store.js';
import type { DeprecationPhase } from './deprecation.js';

/** One caller of a deprecated route in the report. */
export interface DeprecationCaller {
  readonly principalId: string | null;
  readonly keyId: string | null;
  readonly count: number;
  readonly refused: number;
  readonly firstSeenAt: string;
  readonly lastSeenAt: string;
  readonly lastPhase: DeprecationPhase;
}

/** Who still calls what: `deprecations report` and `DeprecationUsage.report()`. */
export interface DeprecationReport {
  readonly routes: readonly {
    readonly version: string | null;
    readonly method: string;
    readonly path: string;
    /** Highest count first. */
    readonly callers: readonly DeprecationCaller[];
  }[];
}

/** The identity of a counted call, for maps: fields joined by a character no field can hold. */
export function callKeyOf(key: DeprecatedCallKey): string {
  return [key.version ?? '', key.method, key.path, key.principalId ?? '', key.keyId ?? ''].join('\n');
}

/** Adds `b` into `a` (same key): counts summed, first/last seen widened, the phase of the later call kept. */
export function mergeCounts(a: DeprecatedCallCount, b: DeprecatedCallCount): DeprecatedCallCount {
  return {
    ...a,
    count: a.count + b.count,
    refused: a.refused + b.refused,
    firstSeenAt: a.firstSeenAt <= b.firstSeenAt ? a.firstSeenAt : b.firstSeenAt,
    lastSeenAt: a.lastSeenAt >= b.lastSeenAt ? a.lastSeenAt : b.lastSeenAt,
    lastPhase: b.lastSeenAt >= a.lastSeenAt ? b.lastPhase : a.lastPhase,
  };
}

/** Orders rows as the report shows them: by version, path and method, callers by count, highest first. */
export function compareCounts(a: DeprecatedCallCount, b: DeprecatedCallCount): number {
  return (
    compareText(a.version ?? '', b.version ?? '') ||
    compareText(a.path, b.path) ||
    compareText(a.method, b.method) ||
    b.count - a.count ||
    compareText(a.principalId ?? '', b.principalId ?? '') ||
    compareText(a.keyId ?? '', b.keyId ?? '')
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Groups rows (any order) by route into the report. */
export function buildDeprecationReport(rows: readonly DeprecatedCallCount[]): DeprecationReport {
  const routes = new Map<
    string,
    { version: string | null; method: string; path: string; callers: DeprecationCaller[] }
  >();
  for (const row of [...rows].sort(compareCounts)) {
    const id = [row.version ?? '', row.method, row.path].join('\n');
    let route = routes.get(id);
    if (!route) routes.set(id, (route = { version: row.version, method: row.method, path: row.path, callers: [] }));
    route.callers.push({
      principalId: row.principalId,
      keyId: row.keyId,
      count: row.count,
      refused: row.refused,
      firstSeenAt: row.firstSeenAt.toISOString(),
      lastSeenAt: row.lastSeenAt.toISOString(),
      lastPhase: row.lastPhase,
    });
  }
  return { routes: [...routes.values()] };
}
