import { SecurityConfigError } from '../core/errors.js';
import { LIMIT_PATTERN, parseDuration, parseLimit } from '../core/durations.js';
import type { HttpRequestLike } from '../http/http-request.js';
import type { RateLimitStoreErrorMode } from '../options/security-options.js';
import type { Principal } from '../principals/principal.js';

export const RATE_LIMITS = 'nest-api-security:rate-limits';
export const SKIP_RATE_LIMIT = 'nest-api-security:skip-rate-limit';

/** What a tracker function gets. */
export interface RateLimitTrackerInput {
  readonly request: HttpRequestLike;
  /** The client address as counted (trusted proxies applied, IPv6 grouped by prefix). */
  readonly ip: string;
  /** The authenticated principal; absent on a public route. */
  readonly principal?: Principal;
}

/**
 * Who a route policy counts: the client IP (decided before authentication, so failed logins count),
 * the principal (after authentication; the key when the key carries its own limit), or a function
 * returning the tracker (after authentication; `undefined` skips the policy for that request).
 */
export type RateLimitTracker = 'ip' | 'principal' | ((input: RateLimitTrackerInput) => string | undefined);

/** Options of `@RateLimit()`. */
export interface RateLimitRouteOptions {
  /** Default: `principal` on routes that need authentication, `ip` on `@Public()` routes. */
  readonly by?: RateLimitTracker;
  /** The name in the `RateLimit` headers; default: the named policy's name, or `route`. */
  readonly name?: string;
  /** What one request costs, a whole number from 0 to the limit (default 1). */
  readonly cost?: number;
  /** Once refused, refuse the client for this long, e.g. `'15m'` (default: the policy's, or none). */
  readonly block?: string;
  /** Overrides the policy's `onStoreError`. */
  readonly onStoreError?: RateLimitStoreErrorMode;
}

/** A `@RateLimit()` as stored in metadata. */
export interface RouteRateLimit {
  /** A limit (`'5/300s'`) or the name of a policy in `rateLimit.policies` (`'login'`). */
  readonly policy: string;
  readonly options: RateLimitRouteOptions;
}

/** Which global policies `@SkipRateLimit()` switches off for a route or controller. */
export type GlobalRateLimitPolicy = 'ip' | 'principal';

const POLICY_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * Adds a rate-limit policy to a route or a controller (stack several; a controller's apply to each of
 * its routes, before the route's own). `policy` is a limit such as `'5/300s'`, counted per route, or the
 * name of a policy configured in `rateLimit.policies`, whose counter every route that names it shares.
 * The global `ip` and `principal` policies still apply; the request must pass all of them.
 * Bad values throw `SecurityConfigError` when the class is loaded; unknown policy names at boot.
 * @example @Post('login') @Public() @RateLimit('login') login() {}
 * @example @Post('export') @RateLimit('10/1h', { by: 'principal', name: 'export', cost: 1, block: '1h' }) export() {}
 */
export function RateLimit(policy: string, options: RateLimitRouteOptions = {}): MethodDecorator & ClassDecorator {
  validateRouteRateLimit(policy, options);
  const entry: RouteRateLimit = Object.freeze({ policy, options: Object.freeze({ ...options }) });
  return ((target: object, _key?: string | symbol, descriptor?: PropertyDescriptor): void => {
    const holder = (descriptor ? descriptor.value : target) as object;
    const existing = (Reflect.getOwnMetadata(RATE_LIMITS, holder) as RouteRateLimit[] | undefined) ?? [];
    // Decorators run bottom-up; keep them in the order they are written.
    Reflect.defineMetadata(RATE_LIMITS, [entry, ...existing], holder);
  }) as MethodDecorator & ClassDecorator;
}

/**
 * Switches off global policies (`ip`, `principal`, or both when none is named) for a route or a
 * controller, e.g. for a health check polled by a load balancer. Route policies still apply.
 * @example @Get('health') @Public() @SkipRateLimit('ip') health() {}
 */
export function SkipRateLimit(...policies: GlobalRateLimitPolicy[]): MethodDecorator & ClassDecorator {
  const skipped: readonly GlobalRateLimitPolicy[] = Object.freeze(policies.length > 0 ? policies : ['ip', 'principal']);
  for (const name of skipped) {
    if (name !== 'ip' && name !== 'principal') {
      throw new SecurityConfigError(
        'ERR_SECURITY_CONFIG_INVALID_VALUE',
        '@SkipRateLimit',
        `${JSON.stringify(name)} is not a global policy; use 'ip' or 'principal'`,
      );
    }
  }
  return ((target: object, _key?: string | symbol, descriptor?: PropertyDescriptor): void => {
    const holder = (descriptor ? descriptor.value : target) as object;
    // Stacked @SkipRateLimit('ip') @SkipRateLimit('principal') skip both, not only the last applied.
    const existing = (Reflect.getOwnMetadata(SKIP_RATE_LIMIT, holder) as GlobalRateLimitPolicy[] | undefined) ?? [];
    Reflect.defineMetadata(SKIP_RATE_LIMIT, Object.freeze([...new Set([...skipped, ...existing])]), holder);
  }) as MethodDecorator & ClassDecorator;
}

function validateRouteRateLimit(policy: string, options: RateLimitRouteOptions): void {
  const fail = (message: string): never => {
    throw new SecurityConfigError('ERR_SECURITY_CONFIG_INVALID_RATE_LIMIT', '@RateLimit', message);
  };
  if (typeof policy !== 'string') fail('use a limit such as "5/300s" or a policy name such as "login"');
  if (LIMIT_PATTERN.test(policy)) {
    const parsed = parseLimit(policy);
    if (!parsed) fail(`"${policy}" is not a limit; counts and windows must be above 0`);
    if (options.cost !== undefined && options.cost > parsed!.limit) {
      fail(`cost ${options.cost} is above the limit of "${policy}", so every request would be refused`);
    }
  } else if (!POLICY_NAME.test(policy)) {
    fail(`"${policy}" is neither a limit ("5/300s") nor a policy name ("login")`);
  }
  const { by, name, cost, block, onStoreError } = options;
  if (by !== undefined && by !== 'ip' && by !== 'principal' && typeof by !== 'function') {
    fail(`by must be 'ip', 'principal' or a function, got ${JSON.stringify(by)}`);
  }
  if (
    name !== undefined &&
    (typeof name !== 'string' || !POLICY_NAME.test(name) || name === 'ip' || name === 'principal')
  ) {
    fail(`name ${JSON.stringify(name)}: use lower-case letters, digits, - and _, other than "ip" and "principal"`);
  }
  if (cost !== undefined && (!Number.isSafeInteger(cost) || cost < 0)) {
    fail(`cost must be a whole number >= 0, got ${String(cost)}`);
  }
  if (block !== undefined && (typeof block !== 'string' || parseDuration(block) === undefined)) {
    fail(`block ${JSON.stringify(block)} is not a duration such as "15m"`);
  }
  if (onStoreError !== undefined && !['open', 'closed', 'local'].includes(onStoreError)) {
    fail(`onStoreError must be 'open', 'closed' or 'local', got ${JSON.stringify(onStoreError)}`);
  }
}
