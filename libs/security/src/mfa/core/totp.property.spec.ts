import fc from 'fast-check';
import {
  generateRecoveryCodes,
  generateTotpSecret,
  recoveryCodeHash,
  totpCode,
  TOTP_PERIOD_SECONDS,
  verifyTotp,
} from './totp.js';

const SECRET = generateTotpSecret();
const now = fc.integer({ min: 0, max: 4_102_444_800_000 });

describe('verifyTotp (fast-check, fixed seeds)', () => {
  it('answers any submitted code with a time step or undefined', () => {
    const codeish = fc.oneof(
      fc.string(),
      fc.stringMatching(/^\d{6}$/),
      fc.constantFrom(
        '',
        '12345',
        '1234567',
        ' 123456',
        '123456 ',
        '12 3456',
        '\u0661\u0662\u0663\u0664\u0665\u0666',
        '１２３４５６',
        '-12345',
        '1e5000',
      ),
    );
    fc.assert(
      fc.property(codeish, now, (code, at) => {
        const step = verifyTotp(SECRET, code, at);
        if (step !== undefined) {
          expect(code).toMatch(/^\d{6}$/);
          expect(Math.abs(step - Math.floor(at / 1000 / TOTP_PERIOD_SECONDS))).toBeLessThanOrEqual(1);
          expect(totpCode(SECRET, step * TOTP_PERIOD_SECONDS * 1000)).toBe(code);
        }
      }),
      { seed: 6238, numRuns: 250 },
    );
  });

  it('accepts the code of the current step and of one step of drift, not two', () => {
    fc.assert(
      fc.property(now, fc.integer({ min: -2, max: 2 }), (at, drift) => {
        const code = totpCode(SECRET, at + drift * TOTP_PERIOD_SECONDS * 1000);
        const step = Math.floor(at / 1000 / TOTP_PERIOD_SECONDS);
        const result = verifyTotp(SECRET, code, at);
        if (Math.abs(drift) <= 1) expect(result).toBe(step + drift);
        // A code two steps away only matches when it happens to equal a nearer step's code.
        else if (result !== undefined) expect(Math.abs(result - step)).toBeLessThanOrEqual(1);
      }),
      { seed: 6239, numRuns: 200 },
    );
  });
});

describe('recoveryCodeHash (fast-check, fixed seeds)', () => {
  it('hashes any text to 64 hex digits or undefined', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.stringMatching(/^[a-z2-9-]{16,20}$/)),
        (text) => {
          const hash = recoveryCodeHash(text);
          if (hash !== undefined) expect(hash).toMatch(/^[0-9a-f]{64}$/);
        },
      ),
      { seed: 6240, numRuns: 500 },
    );
  });

  it('hashes a generated code the same however it is typed (case, dashes, spaces), and a changed code differently', () => {
    const codes = generateRecoveryCodes(50);
    fc.assert(
      fc.property(
        fc.constantFrom(...codes),
        fc.constantFrom('upper', 'nodash', 'spaces'),
        fc.nat(),
        (code, how, at) => {
          const typed =
            how === 'upper' ? code.toUpperCase() : how === 'nodash' ? code.replace(/-/g, '') : code.replace(/-/g, ' ');
          expect(recoveryCodeHash(typed)).toBe(recoveryCodeHash(code));
          expect(recoveryCodeHash(code)).toMatch(/^[0-9a-f]{64}$/);
          const chars = code.replace(/-/g, '');
          const index = at % chars.length;
          const other = chars[index] === 'a' ? 'b' : 'a';
          expect(recoveryCodeHash(chars.slice(0, index) + other + chars.slice(index + 1))).not.toBe(
            recoveryCodeHash(code),
          );
        },
      ),
      { seed: 6241, numRuns: 200 },
    );
  });
});
