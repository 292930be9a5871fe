import { SecurityConfigError } from '../core/errors.js';
import type { SecurityModuleOptions } from '../options/security-options.js';
import { generateMasterKey } from '../signing/core/secret-box.js';

/**
 * What `SecurityTestingModule.forRoot()` takes: the options of `SecurityModule` (so an application's real
 * configuration can be reused) without `redis` and `environment`, which a test module decides itself, plus
 * the settings of the test doubles.
 */
export interface SecurityTestingOptions extends Omit<SecurityModuleOptions, 'environment' | 'redis'> {
  /** Where the settable clock starts: a `Date`, ms since the epoch or an ISO 8601 text (default: now, whole seconds). */
  readonly now?: Date | number | string;
  /** Write security events as JSON lines to stdout, as production does (default `false`: quiet). */
  readonly logSecurityEvents?: boolean;
}

/** The lint rule that in-memory nonces always trip; a test app is one instance by design. */
const WAIVED_IN_TESTS = 'signing-nonces-not-shared';

/**
 * The `SecurityModule` options a test app runs with: the user's options with everything that would reach
 * outside the process switched to memory (no Redis, changes broadcast in memory, the rate-limit store in
 * memory, no spill files, no master key file), `environment: 'test'` (so the lint warns instead of refusing
 * and password hashing is cheap) and a generated signing master key unless one is given. Pure but for the
 * generated key.
 * @example resolveSecurityOptions(securityOptionsForTesting({ rateLimit: { policies: { ip: '5/60s' } } }))
 */
export function securityOptionsForTesting(options: SecurityTestingOptions = {}): SecurityModuleOptions {
  const {
    now: _now,
    logSecurityEvents: _log,
    // Dropped if passed anyway (from an application's own options object, say): a test app never uses them.
    environment: _environment,
    redis: _redis,
    ...rest
  } = options as SecurityTestingOptions & Pick<SecurityModuleOptions, 'environment' | 'redis'>;
  const signing = rest.signing;
  const audit = rest.audit;
  const rateLimit = rest.rateLimit;
  const allow = rest.lint?.allow ?? [];
  return {
    ...rest,
    environment: 'test',
    redis: false,
    changes: { ...rest.changes, transport: 'memory' },
    ...(rateLimit === false ? {} : { rateLimit: { ...rateLimit, store: 'memory' } }),
    ...(signing === false
      ? {}
      : { signing: { ...signing, masterKeys: signing?.masterKeys ?? generateMasterKey('v1'), masterKeyFile: false } }),
    ...(audit === false ? {} : { audit: { ...audit, database: true, spillDir: false } }),
    lint: {
      ...rest.lint,
      allow: signing === false || allow.includes(WAIVED_IN_TESTS) ? allow : [...allow, WAIVED_IN_TESTS],
    },
  };
}

/** The start time of the settable clock, in ms since the epoch; throws `SecurityConfigError` on a bad value. */
export function testingClockStart(now: SecurityTestingOptions['now'], realNow = Date.now()): number {
  if (now === undefined) return Math.floor(realNow / 1000) * 1000;
  const ms = now instanceof Date ? now.getTime() : typeof now === 'number' ? now : Date.parse(now);
  if (!Number.isFinite(ms)) {
    throw new SecurityConfigError(
      'ERR_SECURITY_CONFIG_INVALID_VALUE',
      'now',
      `${JSON.stringify(String(now))} is not a time; give a Date, ms since the epoch or an ISO 8601 text`,
    );
  }
  return ms;
}
