/**
 * Keys that hold until an instant, at most `maxKeys` of them (the oldest entry is dropped first).
 * Expired entries are dropped when read. Pure: time is a parameter.
 */
export class ExpiringMap {
  private readonly entries = new Map<string, number>();

  constructor(private readonly maxKeys = 10_000) {}

  /** Holds `key` until `untilMs`, replacing an earlier entry. */
  set(key: string, untilMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, untilMs);
    if (this.entries.size > this.maxKeys) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** Until when `key` holds, or `undefined` when it is absent or over at `now`. */
  get(key: string, now: number): number | undefined {
    const until = this.entries.get(key);
    if (until === undefined) return undefined;
    if (until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return until;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
