import { SecurityConfigError } from '../core/errors.js';

/** TOTP second factors and step-up (`@RequireMfa()`). */
export interface MfaOptions {
  /** The issuer name authenticator apps show (default `nest-api-security`). */
  readonly issuer?: string;
  /** Time steps of drift accepted either way (default 1: the previous, current and next 30 s step). */
  readonly window?: number;
  /** Recovery codes issued at activation (default 10). */
  readonly recoveryCodes?: number;
}

/** `mfa` after parsing. */
export interface ResolvedMfaOptions {
  readonly issuer: string;
  readonly window: number;
  readonly recoveryCodes: number;
}

const KEYS = new Set(['issuer', 'window', 'recoveryCodes']);

/** Checks `mfa` and fills in the defaults; throws `SecurityConfigError` naming the option. */
export function resolveMfaOptions(raw: Record<string, unknown>): ResolvedMfaOptions {
  const fail = (option: string, message: string): never => {
    throw new SecurityConfigError('ERR_SECURITY_CONFIG_INVALID_VALUE', option, message);
  };
  for (const key of Object.keys(raw)) if (!KEYS.has(key)) fail(`mfa.${key}`, 'unknown option');
  const issuer = raw.issuer ?? 'nest-api-security';
  // The issuer is part of the otpauth URI label; a colon would split it.
  if (
    typeof issuer !== 'string' ||
    !/^[\x21-\x7e](?:[\x20-\x7e]{0,62}[\x21-\x7e])?$/.test(issuer) ||
    issuer.includes(':')
  ) {
    fail('mfa.issuer', 'use 1 to 64 printable ASCII characters without ":"');
  }
  const window = raw.window ?? 1;
  if (typeof window !== 'number' || !Number.isInteger(window) || window < 0 || window > 2) {
    fail('mfa.window', 'use 0, 1 or 2 time steps');
  }
  const recoveryCodes = raw.recoveryCodes ?? 10;
  if (
    typeof recoveryCodes !== 'number' ||
    !Number.isInteger(recoveryCodes) ||
    recoveryCodes < 4 ||
    recoveryCodes > 20
  ) {
    fail('mfa.recoveryCodes', 'use a whole number from 4 to 20');
  }
  return { issuer: issuer as string, window: window as number, recoveryCodes: recoveryCodes as number };
}
