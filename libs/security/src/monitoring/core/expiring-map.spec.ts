import { describe, expect, it } from 'vitest';
import { ExpiringMap } from './expiring-map.js';

describe('ExpiringMap', () => {
  it('holds a key until its instant, then forgets it', () => {
    const map = new ExpiringMap();
    map.set('a', 1_000);
    expect(map.get('a', 999)).toBe(1_000);
    expect(map.get('a', 1_000)).toBeUndefined();
    expect(map.size).toBe(0);
  });

  it('keeps at most maxKeys entries, dropping the oldest', () => {
    const map = new ExpiringMap(2);
    map.set('a', 10);
    map.set('b', 10);
    map.set('a', 20);
    map.set('c', 10);
    expect(map.get('b', 0)).toBeUndefined();
    expect(map.get('a', 0)).toBe(20);
    expect(map.get('c', 0)).toBe(10);
  });
});
