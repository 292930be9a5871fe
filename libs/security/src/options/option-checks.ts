import { parseDuration } from '../core/durations.js';
import { SecurityConfigError } from '../core/errors.js';

/** An options object as given, before it is checked. */
export type RawOptions = Record<string, unknown>;

/** Throws `SecurityConfigError` with code `ERR_SECURITY_CONFIG_<code>` for `option`. */
export function failConfig(code: string, option: string, message: string): never {
  throw new SecurityConfigError(`ERR_SECURITY_CONFIG_${code}`, option, message);
}

/** A duration option (`30s`, `12h`) in milliseconds; anything else fails the boot naming `option`. */
export function durationOption(value: unknown, option: string, allowZero = false): number {
  const ms = typeof value === 'string' ? parseDuration(value, { allowZero }) : undefined;
  if (ms === undefined) {
    failConfig(
      'INVALID_DURATION',
      option,
      `"${String(value)}" is not a duration; use a number and a unit (ms, s, m, h, d), e.g. "30s"`,
    );
  }
  return ms;
}

/** Refuses keys of `raw` that are not in `keys` (a typo must not silently fall back to a default). */
export function knownKeys(raw: RawOptions, name: string, keys: readonly string[]): void {
  for (const key of Object.keys(raw)) {
    if (!keys.includes(key)) {
      failConfig('UNKNOWN_OPTION', `${name}.${key}`, `unknown option; expected one of ${keys.join(', ')}`);
    }
  }
}
