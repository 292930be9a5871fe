import { describe, expect, it } from 'vitest';
import {
  slidingWindow,
  slidingWindowAll,
  stateExpiresAt,
  type SlidingWindowInput,
  type SlidingWindowResult,
  type SlidingWindowState,
} from './sliding-window.js';

const W = 60_000;
// The start of a window: 10 windows after the epoch.
const T = 10 * W;

const input = (extra: Partial<SlidingWindowInput> = {}): SlidingWindowInput => ({
  state: undefined,
  now: T,
  limit: 10,
  windowMs: W,
  cost: 1,
  blockMs: 0,
  ...extra,
});

const state = (extra: Partial<SlidingWindowState>): SlidingWindowState => ({
  windowStart: T,
  current: 0,
  previous: 0,
  blockedUntil: 0,
  ...extra,
});

/** Runs `count` requests at `now` (one state threaded through) and returns the last result. */
function repeat(count: number, extra: Partial<SlidingWindowInput> = {}): SlidingWindowResult {
  let result: SlidingWindowResult | undefined;
  let current = extra.state;
  for (let i = 0; i < count; i++) {
    result = slidingWindow(input({ ...extra, state: current }));
    current = result.state;
  }
  return result!;
}

describe('slidingWindow', () => {
  it('allows a first request and starts the window on a multiple of windowMs', () => {
    expect(slidingWindow(input({ now: T + 1_234 }))).toEqual({
      allowed: true,
      remaining: 9,
      resetMs: 0,
      retryAfterMs: 0,
      state: { windowStart: T, current: 1, previous: 0, blockedUntil: 0 },
    });
  });

  it('allows exactly the limit in one window, then refuses without consuming', () => {
    const tenth = repeat(10);
    expect(tenth).toMatchObject({ allowed: true, remaining: 0, retryAfterMs: 0 });
    // 10 in this window: one unit frees up 1/10 into the next window.
    expect(tenth.resetMs).toBe(W + 6_000);

    const eleventh = slidingWindow(input({ state: tenth.state }));
    expect(eleventh).toEqual({
      allowed: false,
      remaining: 0,
      resetMs: 66_000,
      retryAfterMs: 66_000,
      state: tenth.state,
    });
  });

  describe('at window edges', () => {
    const full = state({ current: 10 });

    it('refuses on the last millisecond of the window', () => {
      expect(slidingWindow(input({ state: full, now: T + W - 1 }))).toMatchObject({
        allowed: false,
        retryAfterMs: 6_001,
      });
    });

    it('counts the whole previous window at the first millisecond of the next one', () => {
      const result = slidingWindow(input({ state: full, now: T + W }));
      expect(result).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 6_000, resetMs: 6_000 });
      expect(result.state).toEqual(state({ windowStart: T + W, current: 0, previous: 10 }));
    });

    it('allows again exactly when the previous window has faded by one unit', () => {
      expect(slidingWindow(input({ state: full, now: T + W + 5_999 }))).toMatchObject({
        allowed: false,
        retryAfterMs: 1,
      });
      expect(slidingWindow(input({ state: full, now: T + W + 6_000 }))).toMatchObject({
        allowed: true,
        remaining: 0,
        state: state({ windowStart: T + W, current: 1, previous: 10 }),
      });
    });

    it('forgets a window that ended more than one window ago', () => {
      expect(slidingWindow(input({ state: full, now: T + 2 * W }))).toMatchObject({
        allowed: true,
        remaining: 9,
        state: state({ windowStart: T + 2 * W, current: 1, previous: 0 }),
      });
    });
  });

  describe('sliding', () => {
    const previousFull = state({ windowStart: T + W, previous: 10 });

    it('counts half of the previous window halfway through the current one', () => {
      const half = input({ state: previousFull, now: T + W + W / 2 });
      expect(slidingWindow({ ...half, cost: 0 }).remaining).toBe(5);
      const fifth = repeat(5, half);
      expect(fifth).toMatchObject({ allowed: true, remaining: 0, resetMs: 6_000 });
      expect(slidingWindow({ ...half, state: fifth.state })).toMatchObject({
        allowed: false,
        // 5 current + 10 × (W/2 − t)/W <= 9  =>  t >= 6 000
        retryAfterMs: 6_000,
      });
    });

    it('refuses a cost of 6 at half time and says when it would fit', () => {
      expect(slidingWindow(input({ state: previousFull, now: T + W + W / 2, cost: 6 }))).toMatchObject({
        allowed: false,
        remaining: 5,
        resetMs: 0,
        // 10 × (W/2 − t)/W <= 4  =>  t >= 6 000
        retryAfterMs: 6_000,
      });
    });

    it('keeps a state stamped in a later window (clock skew between instances) instead of dropping it', () => {
      const later = state({ windowStart: T + W, current: 10 });
      expect(slidingWindow(input({ state: later, now: T + W - 10 }))).toMatchObject({
        allowed: false,
        state: later,
      });
    });
  });

  describe('cost', () => {
    it('consumes the cost, refuses a cost larger than what is left, and lets a smaller one through', () => {
      const first = slidingWindow(input({ cost: 4 }));
      expect(first).toMatchObject({ allowed: true, remaining: 6 });
      const second = slidingWindow(input({ cost: 4, state: first.state }));
      expect(second).toMatchObject({ allowed: true, remaining: 2, resetMs: 0 });

      const refused = slidingWindow(input({ cost: 4, state: second.state }));
      // 8 in this window must fall to 6: 1/4 into the next window.
      expect(refused).toEqual({
        allowed: false,
        remaining: 2,
        resetMs: 0,
        retryAfterMs: W + 15_000,
        state: second.state,
      });

      expect(slidingWindow(input({ cost: 2, state: second.state }))).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('reads without consuming at cost 0', () => {
      const used = repeat(3);
      expect(slidingWindow(input({ cost: 0, state: used.state }))).toEqual({ ...used, state: used.state });
    });
  });

  describe('block', () => {
    const blocking = { limit: 2, blockMs: 300_000 };

    it('starts a block on the first refusal and refuses until it ends, without extending it', () => {
      const used = repeat(2, blocking);
      const refused = slidingWindow(input({ ...blocking, state: used.state, now: T + 1_000 }));
      expect(refused).toEqual({
        allowed: false,
        remaining: 0,
        resetMs: 300_000,
        retryAfterMs: 300_000,
        state: { ...used.state, blockedUntil: T + 301_000 },
      });

      // Counts are long gone, the block is not; a retry does not push it back.
      const retry = slidingWindow(input({ ...blocking, state: refused.state, now: T + 200_000 }));
      expect(retry).toMatchObject({ allowed: false, remaining: 0, resetMs: 101_000, retryAfterMs: 101_000 });
      expect(retry.state.blockedUntil).toBe(T + 301_000);

      expect(slidingWindow(input({ ...blocking, state: retry.state, now: T + 301_000 }))).toMatchObject({
        allowed: true,
        remaining: 1,
      });
    });

    it('keeps the wait for the window when it is longer than the block', () => {
      const used = repeat(2, { limit: 2, blockMs: 1_000 });
      expect(slidingWindow(input({ limit: 2, blockMs: 1_000, state: used.state, now: T + 1_000 }))).toMatchObject({
        allowed: false,
        // 2 in this window must fall to 1: half into the next window.
        retryAfterMs: W - 1_000 + 30_000,
      });
    });

    it('does not block without blockMs', () => {
      const used = repeat(2, { limit: 2 });
      expect(slidingWindow(input({ limit: 2, state: used.state })).state.blockedUntil).toBe(0);
    });
  });

  it('says when a state stops mattering: two windows, or the end of its block', () => {
    expect(stateExpiresAt(state({ current: 3 }), W)).toBe(T + 2 * W);
    expect(stateExpiresAt(state({ blockedUntil: T + 10 * W }), W)).toBe(T + 10 * W);
  });
});

describe('slidingWindowAll', () => {
  it('consumes every policy when all allow', () => {
    const [ip, principal] = slidingWindowAll([input({ limit: 3 }), input({ limit: 5 })]);
    expect([ip!.remaining, principal!.remaining]).toEqual([2, 4]);
    expect(principal!.state.current).toBe(1);
  });

  it('consumes none when one refuses, and reports the others unconsumed', () => {
    const ipUsed = state({ current: 1 });
    const principalUsed = state({ current: 2 });
    const [ip, principal] = slidingWindowAll([
      input({ limit: 1, state: ipUsed }),
      input({ limit: 5, state: principalUsed }),
    ]);
    expect(ip).toMatchObject({ allowed: false, remaining: 0 });
    expect(principal).toEqual({ allowed: true, remaining: 3, resetMs: 0, retryAfterMs: 0, state: principalUsed });
  });
});
