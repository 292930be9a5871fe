import { timingSafeEqual } from 'node:crypto';
import { constantTimeEqualHex } from './constant-time.js';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

describe('constantTimeEqualHex', () => {
  beforeEach(() => {
    vi.mocked(timingSafeEqual).mockClear();
  });

  it('is true for equal hex strings, whatever their case', () => {
    expect(constantTimeEqualHex('00ff10', '00ff10')).toBe(true);
    expect(constantTimeEqualHex('ABCDEF', 'abcdef')).toBe(true);
    expect(constantTimeEqualHex('', '')).toBe(true);
  });

  it('is false for different hex strings of the same length', () => {
    expect(constantTimeEqualHex('00ff10', '00ff11')).toBe(false);
    expect(constantTimeEqualHex('10ff00', '00ff00')).toBe(false);
  });

  it('compares the bytes with crypto.timingSafeEqual', () => {
    constantTimeEqualHex('a'.repeat(64), 'b'.repeat(64));
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
    const [left, right] = vi.mocked(timingSafeEqual).mock.calls[0]!;
    expect(Buffer.from(left as Uint8Array).toString('hex')).toBe('a'.repeat(64));
    expect(Buffer.from(right as Uint8Array).toString('hex')).toBe('b'.repeat(64));
  });

  it.each([
    ['00ff', '00ff10'],
    ['00ff10', '00ff'],
    ['', '00'],
    ['a'.repeat(64), 'a'.repeat(63)],
  ])('is false without throwing for unequal lengths (%j, %j)', (a, b) => {
    expect(() => constantTimeEqualHex(a, b)).not.toThrow();
    expect(constantTimeEqualHex(a, b)).toBe(false);
    expect(timingSafeEqual).not.toHaveBeenCalled();
  });

  it.each([
    ['zz', 'zz'],
    ['0g', '0g'],
    ['abc', 'abc'],
    [' a', ' a'],
  ])('is false without throwing for non-hex input (%j)', (a, b) => {
    expect(constantTimeEqualHex(a, b)).toBe(false);
  });

  it('is false for non-string input', () => {
    expect(constantTimeEqualHex(undefined as never, 'aa')).toBe(false);
    expect(constantTimeEqualHex('aa', null as never)).toBe(false);
  });
});
