import { DemoConfigError, readDemoConfig } from './demo-config.js';

describe('the demo’s session settings', () => {
  it('leaves every default to the library when nothing is set', () => {
    expect(readDemoConfig({}).sessions).toEqual({ loginBackoff: {} });
  });

  it('reads the timeouts, the limit per principal and the backoff', () => {
    expect(
      readDemoConfig({
        SESSION_IDLE_TIMEOUT: '15m',
        SESSION_ABSOLUTE_TIMEOUT: '8h',
        SESSION_MAX_PER_PRINCIPAL: '5',
        LOGIN_BACKOFF_AFTER: '4',
        LOGIN_BACKOFF_BASE: '2s',
        LOGIN_BACKOFF_MAX: '10m',
      }).sessions,
    ).toEqual({
      idleTimeout: '15m',
      absoluteTimeout: '8h',
      maxPerPrincipal: 5,
      loginBackoff: { base: '2s', max: '10m', after: 4 },
    });
  });

  it('switches the backoff off with LOGIN_BACKOFF_AFTER=off', () => {
    expect(readDemoConfig({ LOGIN_BACKOFF_AFTER: 'off' }).sessions).toEqual({ loginBackoff: false });
  });

  it.each([
    [{ SESSION_MAX_PER_PRINCIPAL: 'many' }, /SESSION_MAX_PER_PRINCIPAL/],
    [{ LOGIN_BACKOFF_AFTER: '-1' }, /LOGIN_BACKOFF_AFTER/],
    [{ LOGIN_BACKOFF_AFTER: 'off', LOGIN_BACKOFF_MAX: '1m' }, /LOGIN_BACKOFF_MAX/],
  ])('refuses %j', (env, message) => {
    expect(() => readDemoConfig(env)).toThrow(DemoConfigError);
    expect(() => readDemoConfig(env)).toThrow(message);
  });
});
