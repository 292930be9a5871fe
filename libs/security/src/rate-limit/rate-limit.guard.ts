import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { RateLimits } from './rate-limits.service.js';

/**
 * The global IP rate limit and the route policies counted by IP, before authentication, so failed
 * logins and bad keys are counted too. Registered by `SecurityModule` right after the IP block guard.
 */
@Injectable()
export class IpRateLimitGuard implements CanActivate {
  constructor(private readonly rateLimits: RateLimits) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await this.rateLimits.beforeAuthentication(context);
    return true;
  }
}

/**
 * The global principal rate limit (per key when the key carries its own limit) and the route policies
 * counted by principal or by a tracker function, right after authentication.
 */
@Injectable()
export class PrincipalRateLimitGuard implements CanActivate {
  constructor(private readonly rateLimits: RateLimits) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await this.rateLimits.afterAuthentication(context);
    return true;
  }
}
