import { backoffDelayMs, backoffRetentionMs, decideLoginAttempt, type LoginBackoffEntry } from './login-backoff.js';

const POLICY = { baseMs: 1_000, maxMs: 900_000, after: 3 };
const T0 = Date.UTC(2026, 0, 1);

describe('backoffDelayMs', () => {
  it('waits nothing before `after` failures, then base * 2^(n - after), capped at max', () => {
    expect([0, 1, 2].map((n) => backoffDelayMs(n, POLICY))).toEqual([0, 0, 0]);
    expect([3, 4, 5, 6, 12].map((n) => backoffDelayMs(n, POLICY))).toEqual([1_000, 2_000, 4_000, 8_000, 512_000]);
    expect(backoffDelayMs(13, POLICY)).toBe(900_000);
    expect(backoffDelayMs(10_000, POLICY)).toBe(900_000);
    expect(backoffDelayMs(Number.MAX_SAFE_INTEGER, POLICY)).toBe(900_000);
  });

  it('starts at once with after = 1, and never answers NaN for a count that is not one', () => {
    expect(backoffDelayMs(1, { baseMs: 500, maxMs: 2_000, after: 1 })).toBe(500);
    expect(backoffDelayMs(Number.NaN, POLICY)).toBe(0);
    expect(backoffDelayMs(-1, POLICY)).toBe(0);
  });

  it('keeps a count for the cap after its wait is over', () => {
    expect(backoffRetentionMs(4_000, POLICY)).toBe(904_000);
  });
});

describe('decideLoginAttempt', () => {
  const run = (times: number, at: number, start?: LoginBackoffEntry) => {
    let entry = start;
    let last;
    for (let i = 0; i < times; i++) {
      const { decision, next } = decideLoginAttempt(entry, at, POLICY);
      entry = next;
      last = decision;
    }
    return { entry: entry!, last: last! };
  };

  it('counts each allowed attempt at once and starts the wait with the `after`-th', () => {
    const { entry, last } = run(3, T0);
    expect(last).toEqual({ allowed: true, failures: 3 });
    expect(entry).toEqual({ failures: 3, lockedUntil: T0 + 1_000, expiresAt: T0 + 901_000 });
  });

  it('refuses while the pair waits, without changing anything, and says how long is left', () => {
    const { entry } = run(3, T0);
    const { decision, next } = decideLoginAttempt(entry, T0 + 400, POLICY);
    expect(decision).toEqual({ allowed: false, retryAfterMs: 600 });
    expect(next).toBe(entry);
  });

  it('allows the next attempt the moment the wait is over, with a doubled wait', () => {
    const { entry } = run(3, T0);
    const { decision, next } = decideLoginAttempt(entry, T0 + 1_000, POLICY);
    expect(decision).toEqual({ allowed: true, failures: 4 });
    expect(next).toMatchObject({ lockedUntil: T0 + 3_000 });
  });

  it('starts from zero once the entry may be forgotten', () => {
    const old: LoginBackoffEntry = { failures: 9, lockedUntil: T0 - 10, expiresAt: T0 };
    expect(decideLoginAttempt(old, T0, POLICY).decision).toEqual({ allowed: true, failures: 1 });
    expect(decideLoginAttempt(old, T0 - 1, POLICY).decision).toEqual({ allowed: true, failures: 10 });
  });
});
