import type { SessionOptions } from '@app/security';

/**
 * The demo's `sessions` options: `SESSION_IDLE_TIMEOUT` (`30m`), `SESSION_ABSOLUTE_TIMEOUT` (`12h`),
 * `SESSION_MAX_PER_PRINCIPAL` (a whole number; unset: no limit), and the failed-login backoff per
 * (username, IP): `LOGIN_BACKOFF_AFTER` (`3` failures, or `off`), `LOGIN_BACKOFF_BASE` (`1s`) and
 * `LOGIN_BACKOFF_MAX` (`15m`). SecurityModule checks the durations at boot. `fail` throws the config error.
 */
export function sessionOptionsOf(env: NodeJS.ProcessEnv, fail: (message: string) => never): SessionOptions {
  const text = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const whole = (name: string): number | undefined => {
    const value = text(name);
    if (value === undefined) return undefined;
    if (!/^\d{1,6}$/.test(value)) fail(`${name} must be a whole number, not "${value}"`);
    return Number(value);
  };
  const idleTimeout = text('SESSION_IDLE_TIMEOUT');
  const absoluteTimeout = text('SESSION_ABSOLUTE_TIMEOUT');
  const maxPerPrincipal = whole('SESSION_MAX_PER_PRINCIPAL');
  const base = text('LOGIN_BACKOFF_BASE');
  const max = text('LOGIN_BACKOFF_MAX');
  const backoffOff = text('LOGIN_BACKOFF_AFTER') === 'off';
  if (backoffOff && (base !== undefined || max !== undefined)) {
    fail('LOGIN_BACKOFF_BASE and LOGIN_BACKOFF_MAX need the backoff on; remove them or LOGIN_BACKOFF_AFTER=off');
  }
  const after = backoffOff ? undefined : whole('LOGIN_BACKOFF_AFTER');
  return {
    ...(idleTimeout !== undefined ? { idleTimeout } : {}),
    ...(absoluteTimeout !== undefined ? { absoluteTimeout } : {}),
    ...(maxPerPrincipal !== undefined ? { maxPerPrincipal } : {}),
    loginBackoff: backoffOff
      ? false
      : {
          ...(base !== undefined ? { base } : {}),
          ...(max !== undefined ? { max } : {}),
          ...(after !== undefined ? { after } : {}),
        },
  };
}
