import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import { resolveSessionOptions } from './session-options.js';

const context = () => ({ production: false, warnings: [] as string[] });

describe('resolveSessionOptions', () => {
  it('is on by default: 30 minutes idle, 12 hours absolute, no limit, backoff after 3 failures from 1 s to 15 m', () => {
    const expected = {
      idleTimeoutMs: 1_800_000,
      absoluteTimeoutMs: 43_200_000,
      maxPerPrincipal: false,
      loginBackoff: { baseMs: 1_000, maxMs: 900_000, after: 3 },
    };
    expect(resolveSessionOptions(undefined, context())).toEqual(expected);
    expect(resolveSessionOptions(true, context())).toEqual(expected);
    expect(resolveSecurityOptions({}).sessions).toEqual(expected);
  });

  it('is off with false, and takes every option', () => {
    expect(resolveSessionOptions(false, context())).toBe(false);
    expect(resolveSecurityOptions({ sessions: false }).sessions).toBe(false);
    expect(
      resolveSessionOptions(
        {
          idleTimeout: '5m',
          absoluteTimeout: '1h',
          maxPerPrincipal: 5,
          loginBackoff: { base: '2s', max: '1m', after: 5 },
        },
        context(),
      ),
    ).toEqual({
      idleTimeoutMs: 300_000,
      absoluteTimeoutMs: 3_600_000,
      maxPerPrincipal: 5,
      loginBackoff: { baseMs: 2_000, maxMs: 60_000, after: 5 },
    });
  });

  it('warns when the login backoff is switched off', () => {
    const given = context();
    expect(resolveSessionOptions({ loginBackoff: false }, given)).toMatchObject({ loginBackoff: false });
    expect(given.warnings).toEqual([expect.stringContaining('sessions.loginBackoff: off')]);
  });

  it.each([
    [{ idleTimeout: '30' }, 'sessions.idleTimeout', 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    [{ idleTimeout: '0s' }, 'sessions.idleTimeout', 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    [{ idleTimeout: '2h', absoluteTimeout: '1h' }, 'sessions.idleTimeout', 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    [{ absoluteTimeout: '31d' }, 'sessions.absoluteTimeout', 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    [{ maxPerPrincipal: 0 }, 'sessions.maxPerPrincipal', 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    [{ maxPerPrincipal: 1.5 }, 'sessions.maxPerPrincipal', 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    [{ loginBackoff: { after: 0 } }, 'sessions.loginBackoff.after', 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    [{ loginBackoff: { base: '1m', max: '1s' } }, 'sessions.loginBackoff.max', 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    [{ loginBackoff: { max: '2d' } }, 'sessions.loginBackoff.max', 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    [{ loginBackoff: 'on' }, 'sessions.loginBackoff', 'ERR_SECURITY_CONFIG_TYPE'],
    [{ loginBackoff: { wait: '1s' } }, 'sessions.loginBackoff.wait', 'ERR_SECURITY_CONFIG_UNKNOWN_OPTION'],
    [{ ttl: '1h' }, 'sessions.ttl', 'ERR_SECURITY_CONFIG_UNKNOWN_OPTION'],
    ['yes', 'sessions', 'ERR_SECURITY_CONFIG_TYPE'],
  ])('refuses %j, naming %s', (value, option, code) => {
    expect(() => resolveSessionOptions(value, context())).toThrow(expect.objectContaining({ code, option }));
  });
});
