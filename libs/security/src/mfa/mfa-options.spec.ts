import { describe, expect, it } from 'vitest';
import { SecurityConfigError } from '../core/errors.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import type { SecurityModuleOptions } from '../options/security-options.js';
import { resolveMfaOptions } from './mfa-options.js';

const DEFAULTS = { issuer: 'nest-api-security', window: 1, recoveryCodes: 10 };

function configError(run: () => unknown): SecurityConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SecurityConfigError);
    return error as SecurityConfigError;
  }
  throw new Error('expected a SecurityConfigError');
}

const refusal = (raw: Record<string, unknown>) => configError(() => resolveMfaOptions(raw));

describe('resolveMfaOptions', () => {
  it('fills the defaults: issuer nest-api-security, window 1, 10 recovery codes', () => {
    expect(resolveMfaOptions({})).toEqual(DEFAULTS);
  });

  it('keeps valid values, the bounds included', () => {
    expect(resolveMfaOptions({ issuer: 'Acme API', window: 0, recoveryCodes: 4 })).toEqual({
      issuer: 'Acme API',
      window: 0,
      recoveryCodes: 4,
    });
    expect(resolveMfaOptions({ window: 2, recoveryCodes: 20 })).toEqual({ ...DEFAULTS, window: 2, recoveryCodes: 20 });
    expect(resolveMfaOptions({ issuer: 'x'.repeat(64) }).issuer).toBe('x'.repeat(64));
    expect(resolveMfaOptions({ issuer: 'A&B (staging) #2' }).issuer).toBe('A&B (staging) #2');
  });

  it('refuses an unknown key, naming it', () => {
    const error = refusal({ issuer: 'x', period: 60 });

    expect(error.code).toBe('ERR_SECURITY_CONFIG_INVALID_VALUE');
    expect(error.option).toBe('mfa.period');
  });

  it('refuses an issuer that is not 1 to 64 printable ASCII characters without a colon', () => {
    for (const issuer of ['', 'x'.repeat(65), 'Acme:API', 'Acme\nAPI', 'Acme\u0000', 'Äcme', 'tab\there', 42, ['x']]) {
      const error = refusal({ issuer });
      expect(error.code, JSON.stringify(issuer)).toBe('ERR_SECURITY_CONFIG_INVALID_VALUE');
      expect(error.option).toBe('mfa.issuer');
    }
  });

  it('refuses a window other than 0, 1 or 2', () => {
    for (const window of [-1, 3, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1', true]) {
      expect(refusal({ window }).option, String(window)).toBe('mfa.window');
    }
  });

  it('refuses a recovery code count other than a whole number from 4 to 20', () => {
    for (const recoveryCodes of [0, 3, 21, 10.5, -10, Number.NaN, '10']) {
      expect(refusal({ recoveryCodes }).option, String(recoveryCodes)).toBe('mfa.recoveryCodes');
    }
  });
});

describe('mfa in resolveSecurityOptions', () => {
  const resolve = (options: unknown) => resolveSecurityOptions(options as SecurityModuleOptions);

  it('is on with the defaults when not configured, and with true', () => {
    expect(resolveSecurityOptions().mfa).toEqual(DEFAULTS);
    expect(resolve({ mfa: true }).mfa).toEqual(DEFAULTS);
    expect(resolve({ mfa: {} }).mfa).toEqual(DEFAULTS);
  });

  it('is off with mfa: false', () => {
    expect(resolve({ mfa: false }).mfa).toBe(false);
  });

  it('passes the options through resolveMfaOptions', () => {
    expect(resolve({ mfa: { issuer: 'Acme', window: 0 } }).mfa).toEqual({ ...DEFAULTS, issuer: 'Acme', window: 0 });
    expect(configError(() => resolve({ mfa: { window: 5 } })).option).toBe('mfa.window');
    expect(configError(() => resolve({ mfa: { secret: 'x' } })).option).toBe('mfa.secret');
  });

  it('refuses a value that is neither an object nor a boolean', () => {
    for (const mfa of ['on', 1, null, ['issuer']]) {
      const error = configError(() => resolve({ mfa }));
      expect(error.option, JSON.stringify(mfa)).toBe('mfa');
    }
  });
});
