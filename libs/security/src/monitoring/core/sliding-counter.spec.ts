import { describe, expect, it } from 'vitest';
import { SlidingWindowCounter } from './sliding-counter.js';

const MINUTE = 60_000;
// A window boundary, so that tests can place hits on either side of it.
const T0 = 1_000 * MINUTE;

describe('SlidingWindowCounter', () => {
  it('counts hits per key within one window', () => {
    const counter = new SlidingWindowCounter({ windowMs: MINUTE });
    for (let i = 1; i <= 19; i += 1) expect(counter.hit('a', T0 + i * 100)).toBe(i);
    expect(counter.hit('a', T0 + 5_000)).toBe(20);
    expect(counter.hit('b', T0 + 5_000)).toBe(1);
    expect(counter.count('a', T0 + 5_000)).toBe(20);
    expect(counter.count('unknown', T0)).toBe(0);
  });

  it('weights the previous window by how much of it the sliding window still covers', () => {
    const counter = new SlidingWindowCounter({ windowMs: MINUTE });
    for (let i = 0; i < 10; i += 1) counter.hit('a', T0 + 1_000);
    // A quarter into the next window, three quarters of the previous one still count.
    expect(counter.count('a', T0 + MINUTE + MINUTE / 4)).toBe(8);
    expect(counter.hit('a', T0 + MINUTE + MINUTE / 4)).toBe(9);
    // Just before the end of the second window almost nothing of the first is left; rounded up.
    expect(counter.count('a', T0 + 2 * MINUTE - 1)).toBe(2);
    // Two windows later nothing is left.
    expect(counter.count('a', T0 + 3 * MINUTE)).toBe(0);
  });

  it('does not undercount a burst that straddles a window edge', () => {
    const counter = new SlidingWindowCounter({ windowMs: MINUTE });
    for (let i = 0; i < 10; i += 1) counter.hit('a', T0 + MINUTE - 100 + i);
    let last = 0;
    for (let i = 0; i < 10; i += 1) last = counter.hit('a', T0 + MINUTE + 100 + i);
    expect(last).toBe(20);
  });

  it('forgets a key after a pause of two windows', () => {
    const counter = new SlidingWindowCounter({ windowMs: MINUTE });
    counter.hit('a', T0);
    counter.hit('a', T0);
    expect(counter.hit('a', T0 + 2 * MINUTE + 1)).toBe(1);
  });

  it('keeps at most maxKeys keys, dropping the least recently hit', () => {
    const counter = new SlidingWindowCounter({ windowMs: MINUTE, maxKeys: 3 });
    counter.hit('a', T0);
    counter.hit('b', T0);
    counter.hit('c', T0);
    counter.hit('a', T0 + 1);
    counter.hit('d', T0 + 2);
    expect(counter.size).toBe(3);
    expect(counter.count('b', T0 + 3)).toBe(0);
    expect(counter.count('a', T0 + 3)).toBe(2);
    expect(counter.count('c', T0 + 3)).toBe(1);
    expect(counter.count('d', T0 + 3)).toBe(1);
    for (let i = 0; i < 1_000; i += 1) counter.hit(`k${i}`, T0);
    expect(counter.size).toBe(3);
  });

  it('survives a clock that goes backwards', () => {
    const counter = new SlidingWindowCounter({ windowMs: MINUTE });
    counter.hit('a', T0 + MINUTE);
    expect(counter.hit('a', T0 + 10)).toBe(2);
  });

  it('deletes a key', () => {
    const counter = new SlidingWindowCounter({ windowMs: MINUTE });
    counter.hit('a', T0);
    counter.delete('a');
    expect(counter.count('a', T0)).toBe(0);
  });

  it('refuses a window or a key bound that cannot work', () => {
    expect(() => new SlidingWindowCounter({ windowMs: 0 })).toThrow(RangeError);
    expect(() => new SlidingWindowCounter({ windowMs: 1, maxKeys: 0 })).toThrow(RangeError);
  });
});
