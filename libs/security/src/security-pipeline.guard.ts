import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { PermissionGuard } from './authz/permission.guard.js';
import { PolicyGuard } from './authz/policy.guard.js';
import { SecurityHeadersGuard } from './headers/security-headers.guard.js';
import { RequireMfaGuard } from './mfa/require-mfa.guard.js';
import { IpBlockGuard } from './monitoring/ip-block.guard.js';
import { AuthenticationGuard } from './principals/authentication.guard.js';
import { IpRateLimitGuard, PrincipalRateLimitGuard } from './rate-limit/rate-limit.guard.js';
import { SignedGuard } from './signing/signed.guard.js';
import { BodyLimitGuard } from './validation/body-limits.service.js';
import { DeprecationGuard } from './versioning/deprecation.guard.js';

interface Step {
  canActivate(context: ExecutionContext): boolean | Promise<boolean>;
}

/**
 * The module's one global guard: runs the pipeline's steps in the order of DESIGN.md (headers, body
 * limit, IP block, IP rate limit, authentication, signature requirement, principal rate limit,
 * deprecation, permission, policy, step-up MFA) and stops at the first refusal.
 *
 * One guard rather than eleven `APP_GUARD`s because Nest awaits every global guard in turn, even one that
 * answered synchronously: here a step that has nothing to do for a route returns `true` at once and the
 * next one runs in the same turn; only the steps that wait (store lookups, the rate-limit store) cost a
 * promise. Each step is still its own injectable class, usable alone with `@UseGuards()`.
 */
@Injectable()
export class SecurityPipelineGuard implements CanActivate {
  private readonly steps: readonly Step[];

  constructor(
    headers: SecurityHeadersGuard,
    bodyLimit: BodyLimitGuard,
    ipBlock: IpBlockGuard,
    ipRateLimit: IpRateLimitGuard,
    authentication: AuthenticationGuard,
    signed: SignedGuard,
    principalRateLimit: PrincipalRateLimitGuard,
    deprecation: DeprecationGuard,
    permission: PermissionGuard,
    policy: PolicyGuard,
    mfa: RequireMfaGuard,
  ) {
    this.steps = [
      headers,
      bodyLimit,
      ipBlock,
      ipRateLimit,
      authentication,
      signed,
      principalRateLimit,
      deprecation,
      permission,
      policy,
      mfa,
    ];
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    return this.runFrom(0, context);
  }

  private runFrom(first: number, context: ExecutionContext): boolean | Promise<boolean> {
    const steps = this.steps;
    for (let index = first; index < steps.length; index++) {
      const result = steps[index]!.canActivate(context);
      if (result === true) continue;
      if (result === false) return false;
      return result.then((allowed) => (allowed === true ? this.runFrom(index + 1, context) : false));
    }
    return true;
  }
}
