import type { DeprecationPhase } from './core/deprecation.js';

/** Who called which deprecated route: the aggregation key of `deprecated_calls`. */
export interface DeprecatedCallKey {
  /** The API version the call was for, or null for an unversioned route. */
  readonly version: string | null;
  readonly method: string;
  /** The route template as the framework matched it, e.g. `/v1/items/:id`. */
  readonly path: string;
  /** Null on a `@Public()` route. */
  readonly principalId: string | null;
  /** The API key or signing key id, when the request had one. */
  readonly keyId: string | null;
}

/** Calls counted since the last flush, or the totals of a stored row. */
export interface DeprecatedCallCount extends DeprecatedCallKey {
  /** Every call, answered or refused. */
  readonly count: number;
  /** Calls refused because of the lifecycle (403 closed to new clients, 410 in a brownout or after the sunset). */
  readonly refused: number;
  readonly firstSeenAt: Date;
  readonly lastSeenAt: Date;
  /** The phase of the latest call. */
  readonly lastPhase: DeprecationPhase;
}

/**
 * Aggregated usage of deprecated routes: one row per route, version, principal and key, never one per
 * request. `add` is additive, so several instances flushing their own counts add up.
 */
export abstract class DeprecationUsageStore {
  abstract readonly kind: 'memory' | 'postgres';
  /** Adds the counts (count, refused) and widens first/last seen; `lastPhase` follows the latest call. */
  abstract add(counts: readonly DeprecatedCallCount[]): Promise<void>;
  /** Every row, ordered by version, path, method, then count (highest first). */
  abstract list(): Promise<DeprecatedCallCount[]>;
}
