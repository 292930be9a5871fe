import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { RateLimits } from './rate-limits.service.js';

/**
 * The global IP rate limit and the route policies counted by IP, before authentication, so failed
 * logins and bad keys are counted too. Registered by `SecurityModule` right after the IP block guard.
 */
@Injectable()
export class IpRateLimitGuard implements CanActivate {
  constructor(private readonly rateLimits: RateLimits) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const pending = this.rateLimits.beforeAuthentication(context);
    return pending ? pending.then(allow) : true;
  }
}

/**
 * The global principal rate limit (per key when the key carries its own limit) and the route policies
 * counted by principal or by a tracker function, right after authentication.
 */
@Injectable()
export class PrincipalRateLimitGuard implements CanActivate {
  constructor(private readonly rateLimits: RateLimits) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const pending = this.rateLimits.afterAuthentication(context);
    return pending ? pending.then(allow) : true;
  }
}

// Refusals reject the phase's promise; a settled phase lets the request through.
function allow(): true {
  return true;
}
