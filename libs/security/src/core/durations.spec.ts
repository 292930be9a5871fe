import { parseDuration, parseLimit, parseSize } from './durations.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['24h', 86_400_000],
    ['30d', 2_592_000_000],
  ])('parses %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '30', 'd', '1.5h', '-1s', ' 1s', '1s ', '1S', '1w', '30 d', '1e3s'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('accepts 0 only where allowed', () => {
    expect(parseDuration('0s')).toBeUndefined();
    expect(parseDuration('0s', { allowZero: true })).toBe(0);
  });

  it('refuses values past the safe integer range', () => {
    expect(parseDuration('99999999999999999999d')).toBeUndefined();
  });
});

describe('parseLimit', () => {
  it('parses count and window', () => {
    expect(parseLimit('1000/60s')).toEqual({ limit: 1000, windowMs: 60_000 });
    expect(parseLimit('5/300s')).toEqual({ limit: 5, windowMs: 300_000 });
    expect(parseLimit('1/1d')).toEqual({ limit: 1, windowMs: 86_400_000 });
  });

  it.each(['1000', '/60s', '1000/s', '1000/60', '0/60s', '5/0s', '1000 / 60s', '-1/60s', '1.5/60s'])(
    'refuses %j',
    (text) => {
      expect(parseLimit(text)).toBeUndefined();
    },
  );
});

describe('parseSize', () => {
  it('parses bytes, kilobytes and megabytes (powers of 1024)', () => {
    expect(parseSize('512b')).toBe(512);
    expect(parseSize('100kb')).toBe(102_400);
    expect(parseSize('2mb')).toBe(2_097_152);
  });

  it.each(['100', 'kb', '0kb', '1.5mb', '100KB', ' 1kb', '1gb', '-1kb', '99999999999999999999mb'])(
    'refuses %j',
    (text) => {
      expect(parseSize(text)).toBeUndefined();
    },
  );
});
