import { createHash, randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';

/** RFC 6238 settings every authenticator app understands: SHA-1, 6 digits, 30-second steps. */
export const TOTP_PERIOD_SECONDS = 30;
const TOTP_DIGITS = 6;
const CODE = /^\d{6}$/;

/** A new TOTP secret (160 bits, RFC 4226's recommended size), base32 as authenticator apps take it. */
export function generateTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The `otpauth://totp/...` URI an authenticator app scans (as a QR code) to add the account. */
export function otpauthUri(input: { issuer: string; account: string; secret: string }): string {
  return totpOf(input.secret, input.issuer, input.account).toString();
}

/** The code of the step that holds `timestamp` (for tests and for clients that compute codes themselves). */
export function totpCode(secret: string, timestamp: number): string {
  return totpOf(secret).generate({ timestamp });
}

/**
 * Checks a 6-digit code at `now`, allowing `window` steps of drift either way. Returns the time step the code
 * belongs to (so the caller can refuse a second use of that step or an older one), or `undefined`.
 */
export function verifyTotp(secret: string, code: string, now: number, window = 1): number | undefined {
  if (!CODE.test(code)) return undefined;
  const delta = totpOf(secret).validate({ token: code, timestamp: now, window });
  if (delta === null) return undefined;
  return Math.floor(now / 1000 / TOTP_PERIOD_SECONDS) + delta;
}

function totpOf(secret: string, issuer = '', label = ''): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    secret: Secret.fromBase32(secret),
  });
}

// Crockford-like alphabet without 0/O and 1/I/L, so codes read aloud or typed from paper survive.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const GROUPS = 4;
const GROUP_LENGTH = 4;

/**
 * Single-use recovery codes, `xxxx-xxxx-xxxx-xxxx` (16 characters of a 31-letter alphabet: about 79 bits each,
 * far beyond guessing, so a plain SHA-256 of them is safe to store).
 */
export function generateRecoveryCodes(count = 10): string[] {
  const codes: string[] = [];
  for (let i = 0; i < count; i++) {
    const chars: string[] = [];
    while (chars.length < GROUPS * GROUP_LENGTH) {
      // Rejection sampling: bytes from 248 up would favour the first letters.
      for (const byte of randomBytes(32)) {
        if (byte < 248 && chars.length < GROUPS * GROUP_LENGTH) chars.push(ALPHABET[byte % ALPHABET.length]!);
      }
    }
    const groups: string[] = [];
    for (let g = 0; g < GROUPS; g++) groups.push(chars.slice(g * GROUP_LENGTH, (g + 1) * GROUP_LENGTH).join(''));
    codes.push(groups.join('-'));
  }
  return codes;
}

/** The stored form of a recovery code: SHA-256 hex of the code without separators, lower case. */
export function recoveryCodeHash(code: string): string | undefined {
  const normalized = code.toLowerCase().replace(/[\s-]/g, '');
  if (normalized.length !== GROUPS * GROUP_LENGTH || !/^[a-z2-9]+$/.test(normalized) || /[il1o0]/.test(normalized)) {
    return undefined;
  }
  return createHash('sha256').update(normalized).digest('hex');
}
