import { SetMetadata } from '@nestjs/common';
import { SecurityConfigError } from '../core/errors.js';

export const REQUIRE_MFA = 'nest-api-security:require-mfa';

/** Options of `@RequireMfa()`. */
export interface RequireMfaOptions {
  /** How recent the second factor must be, in seconds (default 300). */
  readonly maxAgeSec?: number;
  /**
   * Whether API keys and request signatures pass without MFA (default true: they identify applications, not
   * people, and cannot do a second factor). `false` refuses them on this route.
   */
  readonly allowApiKeys?: boolean;
}

/** `@RequireMfa()` as stored in metadata. */
export interface RequireMfaRule {
  readonly maxAgeSec: number;
  readonly allowApiKeys: boolean;
}

/**
 * Step-up for a sensitive route or controller: a session or bearer token must carry a second factor proved
 * within `maxAgeSec`, else 401 with `WWW-Authenticate: Bearer error="insufficient_user_authentication",
 * max_age=<maxAgeSec>` (RFC 9470). Sessions step up with `POST /mfa/verify` (`Mfa.verify`); bearer tokens count
 * when `amr` holds `mfa` or `otp` and `auth_time` is recent enough.
 * @example @Delete(':id') @RequireMfa({ maxAgeSec: 300 }) remove() {}
 */
export function RequireMfa(options: RequireMfaOptions = {}): MethodDecorator & ClassDecorator {
  const maxAgeSec = options.maxAgeSec ?? 300;
  if (!Number.isSafeInteger(maxAgeSec) || maxAgeSec < 1) {
    throw new SecurityConfigError(
      'ERR_SECURITY_CONFIG_INVALID_VALUE',
      '@RequireMfa',
      'maxAgeSec must be a whole number of seconds >= 1',
    );
  }
  const rule: RequireMfaRule = Object.freeze({ maxAgeSec, allowApiKeys: options.allowApiKeys ?? true });
  return SetMetadata(REQUIRE_MFA, rule);
}
