import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { constantTimeEqualHex } from '../../core/constant-time.js';
import { SecurityConfigError } from '../../core/errors.js';
import { hashSecret, parsePepperRing, verifySecret } from './secret-hashing.js';

const RING = parsePepperRing(
  `v2:${randomBytes(32).toString('base64')},v1:${randomBytes(32).toString('base64url')},sha256`,
);

describe('parsePepperRing (fast-check, fixed seeds)', () => {
  it('answers any configured value with a ring or SecurityConfigError', () => {
    const entry = fc.oneof(
      fc
        .uint8Array({ minLength: 28, maxLength: 40 })
        .map((bytes) => `v${bytes[0]}:${Buffer.from(bytes).toString('base64')}`),
      fc.constantFrom('sha256', ' sha256 ', 'v1:', 'v1:!!!!', 'v0:AAAA'),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ minLength: 32 }),
          fc.array(entry, { maxLength: 3 }).map((l) => l.join(',')),
        ),
        (value) => {
          try {
            const ring = parsePepperRing(value);
            expect(ring.versions.length).toBeGreaterThan(0);
            expect(ring.current).toBe(ring.versions[0]);
            expect(hashSecret('s', ring)).toMatch(/^[0-9a-f]{64}$/);
          } catch (error) {
            expect(error).toBeInstanceOf(SecurityConfigError);
          }
        },
      ),
      { seed: 1201, numRuns: 250 },
    );
  });
});

describe('verifySecret and constantTimeEqualHex (fast-check, fixed seeds)', () => {
  const version = fc.oneof(
    fc.constantFrom(...RING.versions),
    fc.string({ maxLength: 8 }),
    fc.constantFrom('constructor', '__proto__'),
  );

  it('verify a secret against its own hash only, and answer any stored text with a boolean', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        version,
        fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-fA-F]{64}$/)),
        (secret, other, v, stored) => {
          expect(typeof verifySecret(secret, stored, v, RING)).toBe('boolean');
          if (RING.has(v)) {
            const hash = hashSecret(secret, RING, v);
            expect(verifySecret(secret, hash, v, RING)).toBe(true);
            expect(verifySecret(secret, hash.toUpperCase(), v, RING)).toBe(true);
            expect(verifySecret(other, hash, v, RING)).toBe(other === secret);
          } else {
            expect(verifySecret(secret, stored, v, RING)).toBe(false);
          }
        },
      ),
      { seed: 1202, numRuns: 250 },
    );
  });

  it('compare any two texts as hex, false for anything that is not even-length hex', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-fA-F]{0,8}$/)),
        fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-fA-F]{0,8}$/)),
        (a, b) => {
          const hex = (text: string) => /^(?:[0-9a-fA-F]{2})*$/.test(text);
          expect(constantTimeEqualHex(a, b)).toBe(hex(a) && hex(b) && a.toLowerCase() === b.toLowerCase());
          if (hex(a)) expect(constantTimeEqualHex(a, a.toUpperCase())).toBe(true);
        },
      ),
      { seed: 1203, numRuns: 500 },
    );
  });
});
