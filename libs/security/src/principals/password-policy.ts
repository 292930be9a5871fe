import { dictionary } from '@zxcvbn-ts/language-common';

/** Why a password was refused; never contains the password. */
export type PasswordProblem = 'too_short' | 'too_long' | 'common';

const MIN_LENGTH = 12;
// argon2 accepts more, but an unbounded password is a denial-of-service lever.
const MAX_LENGTH = 256;
let common: Set<string> | undefined;

/**
 * NIST SP 800-63B: at least 12 characters, not a known common password, no composition rules.
 * The common list is zxcvbn-ts's (about 49,000 entries), compared case-insensitively.
 */
export function checkPassword(password: string): PasswordProblem | undefined {
  // Counted in code points, as NIST asks.
  const length = Array.from(password).length;
  if (length < MIN_LENGTH) return 'too_short';
  if (length > MAX_LENGTH) return 'too_long';
  common ??= new Set(dictionary['passwords-common'].map((word: string) => word.toLowerCase()));
  if (common.has(password.toLowerCase())) return 'common';
  return undefined;
}
