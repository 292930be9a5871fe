import { describe, expect, it } from 'vitest';
import { SecurityConfigError } from '../../core/errors.js';
import { buildRateLimitHeaders, serializePolicyName, type RateLimitDecision } from './rate-limit-headers.js';

const decision = (overrides: Partial<RateLimitDecision> = {}): RateLimitDecision => ({
  name: 'ip',
  limit: 1000,
  windowMs: 60_000,
  remaining: 999,
  resetMs: 60_000,
  retryAfterMs: 0,
  allowed: true,
  ...overrides,
});

describe('buildRateLimitHeaders', () => {
  it('sends no headers when no policy applied', () => {
    expect(buildRateLimitHeaders([])).toEqual({});
  });

  it('describes one policy', () => {
    expect(buildRateLimitHeaders([decision()])).toEqual({
      'RateLimit-Policy': '"ip";q=1000;w=60',
      RateLimit: '"ip";r=999;t=60',
      'X-RateLimit-Limit': '1000',
      'X-RateLimit-Remaining': '999',
      'X-RateLimit-Reset': '60',
    });
  });

  it('lists every policy in order and describes the one with the least remaining', () => {
    const headers = buildRateLimitHeaders([
      decision(),
      decision({ name: 'principal', limit: 100, remaining: 42, resetMs: 12_000 }),
      decision({ name: 'login', limit: 5, windowMs: 300_000, remaining: 3, resetMs: 240_000 }),
    ]);
    expect(headers).toEqual({
      'RateLimit-Policy': '"ip";q=1000;w=60, "principal";q=100;w=60, "login";q=5;w=300',
      RateLimit: '"ip";r=999;t=60, "principal";r=42;t=12, "login";r=3;t=240',
      'X-RateLimit-Limit': '5',
      'X-RateLimit-Remaining': '3',
      'X-RateLimit-Reset': '240',
    });
  });

  it('adds Retry-After when a policy refused (the DESIGN.md example)', () => {
    const headers = buildRateLimitHeaders([
      decision(),
      decision({
        name: 'login',
        limit: 5,
        windowMs: 300_000,
        remaining: 0,
        resetMs: 240_000,
        retryAfterMs: 240_000,
        allowed: false,
      }),
    ]);
    expect(headers).toEqual({
      'RateLimit-Policy': '"ip";q=1000;w=60, "login";q=5;w=300',
      RateLimit: '"ip";r=999;t=60, "login";r=0;t=240',
      'X-RateLimit-Limit': '5',
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Reset': '240',
      'Retry-After': '240',
    });
  });

  it('takes the longest wait when several policies refused', () => {
    const headers = buildRateLimitHeaders([
      decision({ remaining: 0, resetMs: 10_000, retryAfterMs: 10_000, allowed: false }),
      decision({ name: 'principal', limit: 100, remaining: 0, resetMs: 30_500, retryAfterMs: 30_500, allowed: false }),
    ]);
    expect(headers['Retry-After']).toBe('31');
    expect(headers['X-RateLimit-Limit']).toBe('100');
    expect(headers['X-RateLimit-Reset']).toBe('31');
  });

  it('waits for a policy this request used up, not only for the one that refused', () => {
    // The principal refused (13 s); the IP policy allowed the call in an earlier phase but has nothing left
    // for 65 s, so a retry after 13 s would be refused again.
    const headers = buildRateLimitHeaders([
      decision({ remaining: 0, resetMs: 65_000, retryAfterMs: 0, allowed: true }),
      decision({ name: 'principal', limit: 100, remaining: 0, resetMs: 13_000, retryAfterMs: 13_000, allowed: false }),
    ]);
    expect(headers['Retry-After']).toBe('65');
  });

  it('falls back to the reset time when a refusing store gives no retry time', () => {
    const headers = buildRateLimitHeaders([decision({ remaining: 0, resetMs: 7_200, allowed: false })]);
    expect(headers['Retry-After']).toBe('8');
  });

  it('breaks ties on remaining by the policy resetting last', () => {
    const headers = buildRateLimitHeaders([
      decision({ name: 'a', limit: 10, remaining: 2, resetMs: 5_000 }),
      decision({ name: 'b', limit: 20, remaining: 2, resetMs: 50_000 }),
      decision({ name: 'c', limit: 30, remaining: 2, resetMs: 20_000 }),
    ]);
    expect(headers['X-RateLimit-Limit']).toBe('20');
    expect(headers['X-RateLimit-Remaining']).toBe('2');
    expect(headers['X-RateLimit-Reset']).toBe('50');
  });

  it('keeps the first policy when remaining and reset are equal', () => {
    const headers = buildRateLimitHeaders([
      decision({ name: 'a', limit: 10, remaining: 2, resetMs: 5_000 }),
      decision({ name: 'b', limit: 20, remaining: 2, resetMs: 5_000 }),
    ]);
    expect(headers['X-RateLimit-Limit']).toBe('10');
  });

  it('rounds windows and resets up to whole seconds', () => {
    const headers = buildRateLimitHeaders([
      decision({ name: 'a', limit: 10, windowMs: 1_500, remaining: 5, resetMs: 1_001 }),
      decision({ name: 'b', limit: 10, windowMs: 500, remaining: 6, resetMs: 999 }),
      decision({ name: 'c', limit: 10, windowMs: 60_000, remaining: 7, resetMs: 2_000 }),
    ]);
    expect(headers['RateLimit-Policy']).toBe('"a";q=10;w=2, "b";q=10;w=1, "c";q=10;w=60');
    expect(headers.RateLimit).toBe('"a";r=5;t=2, "b";r=6;t=1, "c";r=7;t=2');
  });

  it('never says 0 seconds while limited, but may once the window is over', () => {
    const limited = buildRateLimitHeaders([decision({ remaining: 0, resetMs: 0, retryAfterMs: 0, allowed: false })]);
    expect(limited.RateLimit).toBe('"ip";r=0;t=1');
    expect(limited['X-RateLimit-Reset']).toBe('1');
    expect(limited['Retry-After']).toBe('1');
    const exhausted = buildRateLimitHeaders([decision({ remaining: 0, resetMs: 0 })]);
    expect(exhausted.RateLimit).toBe('"ip";r=0;t=1');
    expect(exhausted['Retry-After']).toBeUndefined();
    const open = buildRateLimitHeaders([decision({ remaining: 3, resetMs: 0 })]);
    expect(open.RateLimit).toBe('"ip";r=3;t=0');
  });

  it('clamps negative remaining and reset values', () => {
    const headers = buildRateLimitHeaders([decision({ remaining: -4, resetMs: -20, allowed: false, retryAfterMs: 0 })]);
    expect(headers.RateLimit).toBe('"ip";r=0;t=1');
    expect(headers['X-RateLimit-Remaining']).toBe('0');
  });

  it('escapes quotes and backslashes in names', () => {
    const headers = buildRateLimitHeaders([decision({ name: 'say "hi" \\ bye', limit: 1, remaining: 1 })]);
    expect(headers['RateLimit-Policy']).toBe('"say \\"hi\\" \\\\ bye";q=1;w=60');
    expect(headers.RateLimit).toBe('"say \\"hi\\" \\\\ bye";r=1;t=60');
  });

  it.each(['', 'tab\there', 'line\nbreak', 'caf\u00e9', 'nul\u0000', 'del\u007f'])('refuses the name %j', (name) => {
    expect(() => buildRateLimitHeaders([decision({ name })])).toThrow(SecurityConfigError);
  });

  it('refuses numbers that are not finite', () => {
    expect(() => buildRateLimitHeaders([decision({ resetMs: Number.NaN })])).toThrow(RangeError);
    expect(() => buildRateLimitHeaders([decision({ limit: Number.POSITIVE_INFINITY })])).toThrow(RangeError);
  });
});

describe('serializePolicyName', () => {
  it('serialises names as structured-field strings', () => {
    expect(serializePolicyName('login')).toBe('"login"');
    expect(serializePolicyName('a b')).toBe('"a b"');
    expect(serializePolicyName('"')).toBe('"\\""');
    expect(serializePolicyName('\\')).toBe('"\\\\"');
  });

  it('fails with a config error code that names the option', () => {
    expect(() => serializePolicyName('\u0001')).toThrow(
      expect.objectContaining({ code: 'ERR_SECURITY_CONFIG_INVALID_POLICY_NAME', option: 'rateLimit.policies' }),
    );
  });
});
