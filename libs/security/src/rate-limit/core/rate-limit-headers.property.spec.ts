import fc from 'fast-check';
import { parseItem, parseList } from 'structured-headers';
import { SecurityConfigError } from '../../core/errors.js';
import { buildRateLimitHeaders, serializePolicyName, type RateLimitDecision } from './rate-limit-headers.js';

const name = fc.oneof(fc.stringMatching(/^[\x20-\x7e]{1,12}$/), fc.constantFrom('ip', 'principal', 'a"b', 'a\\b', ' '));
const decision: fc.Arbitrary<RateLimitDecision> = fc.record({
  name,
  limit: fc.oneof(fc.nat({ max: 1e6 }), fc.double({ min: 0, max: 1e6, noNaN: true })),
  windowMs: fc.nat({ max: 1e9 }),
  remaining: fc.oneof(fc.integer({ min: -10, max: 1e6 }), fc.double({ min: -1, max: 1e6, noNaN: true })),
  resetMs: fc.integer({ min: -1000, max: 1e9 }),
  retryAfterMs: fc.integer({ min: -1000, max: 1e9 }),
  allowed: fc.boolean(),
});

describe('rate-limit structured headers (fast-check, fixed seeds)', () => {
  it('serialises any policy name as an sf-string that parses back to it, or refuses it with SecurityConfigError', () => {
    fc.assert(
      fc.property(fc.oneof(name, fc.string(), fc.string({ unit: 'binary', maxLength: 6 })), (text) => {
        let serialized: string;
        try {
          serialized = serializePolicyName(text);
        } catch (error) {
          expect(error).toBeInstanceOf(SecurityConfigError);
          expect(/^[\x20-\x7e]+$/.test(text)).toBe(false);
          return;
        }
        expect(parseItem(serialized)).toEqual([text, new Map()]);
      }),
      { seed: 9651, numRuns: 500 },
    );
  });

  it('builds RateLimit and RateLimit-Policy values that parse as sf-lists naming every policy in order', () => {
    fc.assert(
      fc.property(fc.array(decision, { minLength: 1, maxLength: 4 }), (decisions) => {
        const headers = buildRateLimitHeaders(decisions);
        const policies = parseList(headers['RateLimit-Policy']!);
        const states = parseList(headers.RateLimit!);
        expect(policies.map(([value]) => value)).toEqual(decisions.map((d) => d.name));
        expect(states.map(([value]) => value)).toEqual(decisions.map((d) => d.name));
        for (const [, params] of policies) {
          expect(Number.isInteger(params.get('q')) && (params.get('q') as number) >= 0).toBe(true);
          expect(Number.isInteger(params.get('w')) && (params.get('w') as number) >= 1).toBe(true);
        }
        for (const [, params] of states) {
          expect(Number.isInteger(params.get('r')) && (params.get('r') as number) >= 0).toBe(true);
          expect(Number.isInteger(params.get('t')) && (params.get('t') as number) >= 0).toBe(true);
        }
        for (const key of ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Retry-After']) {
          if (headers[key] !== undefined) expect(headers[key]).toMatch(/^\d+$/);
        }
        expect(headers['Retry-After'] !== undefined).toBe(decisions.some((d) => !d.allowed));
      }),
      { seed: 9652, numRuns: 200 },
    );
  });
});
