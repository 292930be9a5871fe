/** One key's state: two window-aligned buckets, so memory per key does not grow with the hits. */
interface Buckets {
  /** Index of the current window, `floor(now / windowMs)`. */
  window: number;
  current: number;
  previous: number;
}

/** What a `SlidingWindowCounter` is built with. */
export interface SlidingWindowCounterOptions {
  readonly windowMs: number;
  /** Keys kept at most; the least recently hit is dropped first (default 10 000). */
  readonly maxKeys?: number;
}

/**
 * Counts hits per key over the last `windowMs` with the two-bucket sliding window approximation: the
 * count of the previous fixed window, weighted by how much of it the sliding window still covers, plus
 * the current window's count. The weighted part is rounded up, so a burst that straddles a window edge is
 * never undercounted (the estimate is at most one above a uniform spread). Pure: time is a parameter.
 * @example
 * const failures = new SlidingWindowCounter({ windowMs: 60_000 });
 * failures.hit('203.0.113.7', clock.now()); // 1
 */
export class SlidingWindowCounter {
  private readonly keys = new Map<string, Buckets>();
  private readonly maxKeys: number;

  constructor(private readonly options: SlidingWindowCounterOptions) {
    if (!(options.windowMs > 0)) throw new RangeError('windowMs must be positive');
    this.maxKeys = options.maxKeys ?? 10_000;
    if (!(this.maxKeys >= 1)) throw new RangeError('maxKeys must be at least 1');
  }

  /** Counts one hit of `key` at `now` and returns the estimated count in the window ending at `now`. */
  hit(key: string, now: number): number {
    const buckets = this.advance(key, now) ?? { window: this.windowOf(now), current: 0, previous: 0 };
    buckets.current += 1;
    // Re-inserting moves the key to the end: the Map's order is the eviction order.
    this.keys.delete(key);
    this.keys.set(key, buckets);
    if (this.keys.size > this.maxKeys) this.keys.delete(this.keys.keys().next().value as string);
    return this.estimate(buckets, now);
  }

  /** The estimated count of `key` in the window ending at `now`, without counting a hit. */
  count(key: string, now: number): number {
    const buckets = this.advance(key, now);
    return buckets ? this.estimate(buckets, now) : 0;
  }

  /** Forgets `key`. */
  delete(key: string): void {
    this.keys.delete(key);
  }

  /** How many keys are tracked. */
  get size(): number {
    return this.keys.size;
  }

  private windowOf(now: number): number {
    return Math.floor(now / this.options.windowMs);
  }

  // Moves the buckets forward to the window of `now`. A clock that went backwards leaves them as they are.
  private advance(key: string, now: number): Buckets | undefined {
    const buckets = this.keys.get(key);
    if (!buckets) return undefined;
    const window = this.windowOf(now);
    if (window === buckets.window + 1) {
      buckets.previous = buckets.current;
      buckets.current = 0;
      buckets.window = window;
    } else if (window > buckets.window + 1) {
      buckets.previous = 0;
      buckets.current = 0;
      buckets.window = window;
    }
    return buckets;
  }

  private estimate(buckets: Buckets, now: number): number {
    const { windowMs } = this.options;
    const elapsed = Math.min(Math.max(now - buckets.window * windowMs, 0), windowMs);
    const overlap = (windowMs - elapsed) / windowMs;
    return buckets.current + Math.ceil(buckets.previous * overlap);
  }
}
