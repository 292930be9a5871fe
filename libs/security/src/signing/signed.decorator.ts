import { SetMetadata } from '@nestjs/common';
import { parseDuration } from '../core/durations.js';
import { SecurityConfigError } from '../core/errors.js';
import type { SignatureScheme } from './core/signed-request.js';

export const SIGNED = 'nest-api-security:signed';

/** Options of `@Signed()`. */
export interface SignedOptions {
  /** Schemes accepted on this route (default: every scheme the module accepts). */
  readonly schemes?: readonly SignatureScheme[];
  /** A narrower clock window than the module's `signing.maxClockSkew`, a duration such as `'60s'`. */
  readonly maxClockSkew?: string;
  /** Headers (any case) the signature must cover on this route, e.g. `['content-type', 'idempotency-key']`. */
  readonly headers?: readonly string[];
}

/** `@Signed()` as stored in metadata; `false` exempts a route from `signing.requireOnUnsafeMethods`. */
export interface SignedRequirement {
  readonly schemes?: readonly SignatureScheme[];
  readonly maxClockSkewMs?: number;
  readonly headers: readonly string[];
}

const SCHEMES: readonly SignatureScheme[] = ['hmac-sha256', 'aws4-hmac-sha256', 'rfc9421'];

/**
 * Requires the request to be authenticated by a valid signature (per route or controller): any other
 * credential answers 401. Checked right after authentication.
 * @example @Post('payments') @Signed({ headers: ['content-type'] }) @RequirePermission('payments:write') pay() {}
 * @example @Post('webhooks') @Signed(false) receive() {} // exempt from signing.requireOnUnsafeMethods
 */
export function Signed(options: SignedOptions | false = {}): MethodDecorator & ClassDecorator {
  if (options === false) return SetMetadata(SIGNED, false);
  const fail = (message: string): never => {
    throw new SecurityConfigError('ERR_SECURITY_CONFIG_INVALID_SIGNED', '@Signed', message);
  };
  if (options.schemes && (options.schemes.length === 0 || options.schemes.some((s) => !SCHEMES.includes(s)))) {
    fail(`schemes must be a non-empty list of ${SCHEMES.join(', ')}`);
  }
  let maxClockSkewMs: number | undefined;
  if (options.maxClockSkew !== undefined) {
    maxClockSkewMs = parseDuration(options.maxClockSkew);
    if (maxClockSkewMs === undefined) fail(`maxClockSkew ${JSON.stringify(options.maxClockSkew)} is not a duration`);
  }
  const headers = (options.headers ?? []).map((name) => {
    if (typeof name !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
      fail(`${JSON.stringify(name)} is not a header name`);
    return name.toLowerCase();
  });
  const requirement: SignedRequirement = Object.freeze({
    schemes: options.schemes ? Object.freeze([...options.schemes]) : undefined,
    maxClockSkewMs,
    headers: Object.freeze(headers),
  });
  return SetMetadata(SIGNED, requirement);
}
