import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateRecoveryCodes,
  generateTotpSecret,
  otpauthUri,
  recoveryCodeHash,
  TOTP_PERIOD_SECONDS,
  totpCode,
  verifyTotp,
} from './totp.js';

// RFC 6238 appendix B: the SHA-1 test secret "12345678901234567890", base32.
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
// Halfway through a 30-second step, so ±30 s lands in the neighbouring step whatever the rounding.
const T = Date.UTC(2026, 0, 1, 12, 0, 15);
const STEP = Math.floor(T / 1000 / TOTP_PERIOD_SECONDS);
const SECOND = 1000;

/** A code that is none of the codes of the steps `window` around `at` (so surely wrong there). */
function wrongCodeAt(secret: string, at: number): string {
  const near = new Set([-2, -1, 0, 1, 2].map((d) => totpCode(secret, at + d * TOTP_PERIOD_SECONDS * SECOND)));
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}

describe('totpCode', () => {
  it('matches the RFC 6238 SHA-1 test vectors (last 6 digits)', () => {
    expect(totpCode(RFC_SECRET, 59 * SECOND)).toBe('287082');
    expect(totpCode(RFC_SECRET, 1111111109 * SECOND)).toBe('081804');
    expect(totpCode(RFC_SECRET, 1234567890 * SECOND)).toBe('005924');
    expect(totpCode(RFC_SECRET, 2000000000 * SECOND)).toBe('279037');
  });

  it('gives six digits, the same within a step and another in the next step', () => {
    const secret = generateTotpSecret();
    const code = totpCode(secret, T);

    expect(code).toMatch(/^\d{6}$/);
    expect(totpCode(secret, T - 15 * SECOND)).toBe(code);
    expect(totpCode(secret, T + 14 * SECOND)).toBe(code);
    expect(totpCode(RFC_SECRET, 59 * SECOND)).not.toBe(totpCode(RFC_SECRET, 60 * SECOND));
  });
});

describe('generateTotpSecret', () => {
  it('makes 160-bit base32 secrets, a new one each time', () => {
    const secrets = Array.from({ length: 50 }, generateTotpSecret);

    for (const secret of secrets) expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(new Set(secrets).size).toBe(secrets.length);
  });
});

describe('verifyTotp', () => {
  const secret = generateTotpSecret();
  const code = totpCode(secret, T);

  it('accepts the code of the current step and returns that step', () => {
    expect(verifyTotp(secret, code, T)).toBe(STEP);
  });

  it('accepts it one step early or late (window 1, the default), returning the code’s own step', () => {
    expect(verifyTotp(secret, code, T + 30 * SECOND)).toBe(STEP);
    expect(verifyTotp(secret, code, T - 30 * SECOND)).toBe(STEP);
    expect(verifyTotp(secret, code, T + 30 * SECOND, 1)).toBe(STEP);
  });

  it('refuses it two or three steps away', () => {
    expect(verifyTotp(secret, code, T + 60 * SECOND)).toBeUndefined();
    expect(verifyTotp(secret, code, T - 60 * SECOND)).toBeUndefined();
    expect(verifyTotp(secret, code, T + 90 * SECOND)).toBeUndefined();
    expect(verifyTotp(secret, code, T - 90 * SECOND)).toBeUndefined();
  });

  it('returns the step of the code, not of now, for a code of the next or previous step', () => {
    const next = totpCode(secret, T + 30 * SECOND);
    const previous = totpCode(secret, T - 30 * SECOND);

    expect(verifyTotp(secret, next, T)).toBe(STEP + 1);
    expect(verifyTotp(secret, previous, T)).toBe(STEP - 1);
  });

  it('with window 0 accepts only the current step', () => {
    expect(verifyTotp(secret, code, T, 0)).toBe(STEP);
    expect(verifyTotp(secret, code, T + 30 * SECOND, 0)).toBeUndefined();
    expect(verifyTotp(secret, code, T - 30 * SECOND, 0)).toBeUndefined();
  });

  it('with window 2 accepts two steps away, not three', () => {
    expect(verifyTotp(secret, code, T + 60 * SECOND, 2)).toBe(STEP);
    expect(verifyTotp(secret, code, T - 60 * SECOND, 2)).toBe(STEP);
    expect(verifyTotp(secret, code, T + 90 * SECOND, 2)).toBeUndefined();
  });

  it('refuses a wrong code and the code of another secret', () => {
    expect(verifyTotp(secret, wrongCodeAt(secret, T), T)).toBeUndefined();
    // Fixed secrets whose codes around T differ (checked), so the refusal is not luck.
    const otherCode = totpCode('JBSWY3DPEHPK3PXP', T);
    expect([-1, 0, 1].map((d) => totpCode(RFC_SECRET, T + d * 30 * SECOND))).not.toContain(otherCode);
    expect(verifyTotp(RFC_SECRET, otherCode, T)).toBeUndefined();
    expect(verifyTotp(RFC_SECRET, totpCode(RFC_SECRET, T), T)).toBe(STEP);
  });

  it('refuses anything but exactly six ASCII digits, before any computation', () => {
    for (const input of [
      '',
      code.slice(0, 5),
      `${code}0`,
      `0${code}`,
      ` ${code}`,
      `${code} `,
      `${code}\n`,
      `${code.slice(0, 3)} ${code.slice(3)}`,
      `${code.slice(0, 3)}-${code.slice(3)}`,
      '12345a',
      '１２３４５６',
      '١٢٣٤٥٦',
      '+12345',
      '-12345',
      '1e5000',
    ]) {
      expect(verifyTotp(secret, input, T), JSON.stringify(input)).toBeUndefined();
    }
  });
});

describe('otpauthUri', () => {
  it('names the issuer, the account, the secret and the RFC 6238 settings apps expect', () => {
    const secret = generateTotpSecret();
    const uri = new URL(otpauthUri({ issuer: 'Acme API', account: 'alice', secret }));

    expect(uri.protocol).toBe('otpauth:');
    expect(uri.hostname).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Acme API:alice');
    expect(uri.searchParams.get('issuer')).toBe('Acme API');
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('algorithm')).toBe('SHA1');
    expect(uri.searchParams.get('digits')).toBe('6');
    expect(uri.searchParams.get('period')).toBe('30');
  });

  it('escapes what would break the URI in the issuer and account', () => {
    const secret = generateTotpSecret();
    const uri = new URL(otpauthUri({ issuer: 'A&B?x=1', account: 'bob#1', secret }));

    expect(uri.searchParams.get('issuer')).toBe('A&B?x=1');
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.hash).toBe('');
    expect(decodeURIComponent(uri.pathname)).toBe('/A&B?x=1:bob#1');
  });

  it('carries a secret that gives the codes verifyTotp accepts', () => {
    const secret = generateTotpSecret();
    const fromUri = new URL(otpauthUri({ issuer: 'x', account: 'y', secret })).searchParams.get('secret')!;

    expect(verifyTotp(secret, totpCode(fromUri, T), T)).toBe(STEP);
  });
});

describe('generateRecoveryCodes', () => {
  const FORMAT = /^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/;

  it('makes ten codes by default, of four groups of four', () => {
    const codes = generateRecoveryCodes();

    expect(codes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(FORMAT);
  });

  it('makes the number asked for', () => {
    expect(generateRecoveryCodes(4)).toHaveLength(4);
    expect(generateRecoveryCodes(20)).toHaveLength(20);
  });

  it('never uses letters read alike (0, 1, i, l, o) and uses the rest of the alphabet', () => {
    const text = Array.from({ length: 50 }, () => generateRecoveryCodes(20).join('')).join('');

    expect(text).not.toMatch(/[01ilo]/);
    // 16,000 draws from 31 letters: every one shows up.
    expect(new Set(text.replaceAll('-', '')).size).toBe(31);
  });

  it('makes unique codes, within a batch and across batches', () => {
    const codes = Array.from({ length: 50 }, () => generateRecoveryCodes(20)).flat();

    expect(new Set(codes).size).toBe(codes.length);
  });

  it('makes codes recoveryCodeHash accepts', () => {
    for (const code of generateRecoveryCodes()) expect(recoveryCodeHash(code)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('recoveryCodeHash', () => {
  const code = 'abcd-efgh-jkmn-pq23';
  const expected = createHash('sha256').update('abcdefghjkmnpq23').digest('hex');

  it('is the SHA-256 hex of the code without separators', () => {
    expect(recoveryCodeHash(code)).toBe(expected);
  });

  it('ignores case, spaces and hyphens, so a code typed from paper matches', () => {
    for (const typed of [
      'ABCD-EFGH-JKMN-PQ23',
      'abcdefghjkmnpq23',
      'abcd efgh jkmn pq23',
      ' abcd-efgh-jkmn-pq23 ',
      'Abcd - Efgh - Jkmn - Pq23',
      'abcd--efgh\tjkmn-pq23',
    ]) {
      expect(recoveryCodeHash(typed), typed).toBe(expected);
    }
  });

  it('refuses a code of the wrong length', () => {
    for (const input of ['', 'abcd-efgh-jkmn-pq2', 'abcd-efgh-jkmn-pq234', 'abcd', '----', 'a'.repeat(100)]) {
      expect(recoveryCodeHash(input), input).toBeUndefined();
    }
  });

  it('refuses characters outside the alphabet (the look-alikes included)', () => {
    for (const input of [
      'abcd-efgh-jkmn-pq20',
      'abcd-efgh-jkmn-pq21',
      'abcd-efgh-jkmn-pq2i',
      'abcd-efgh-jkmn-pq2l',
      'abcd-efgh-jkmn-pq2o',
      'abcd-efgh-jkmn-pq2_',
      'abcd-efgh-jkmn-pq2é',
      'abcd.efgh.jkmn.pq23',
      "abcd-efgh-jkmn-'--'",
    ]) {
      expect(recoveryCodeHash(input), input).toBeUndefined();
    }
  });
});
