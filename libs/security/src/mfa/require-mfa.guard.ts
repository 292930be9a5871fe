import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Clock } from '../core/clock.js';
import { MfaRequiredError } from '../core/errors.js';
import { principalOf } from '../principals/current-principal.decorator.js';
import type { Principal } from '../principals/principal.js';
import { REQUIRE_MFA, type RequireMfaRule } from './require-mfa.decorator.js';
import { routeMetadata } from '../http/route-metadata.js';

/**
 * Enforces `@RequireMfa()` after authentication and authorization (so a caller without the permission still
 * gets 403, not an invitation to step up). Applications (API keys, signatures) pass unless the route says
 * `allowApiKeys: false`; people (sessions, bearer tokens) need `principal.mfaAt` within `maxAgeSec`.
 */
@Injectable()
export class RequireMfaGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly clock: Clock,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const rule = routeMetadata<RequireMfaRule>(this.reflector, REQUIRE_MFA, context);
    if (!rule) return true;
    const principal = principalOf(context.switchToHttp().getRequest<object>());
    // A @Public() route with @RequireMfa has nobody to ask: refuse rather than let it through.
    if (!principal) throw new MfaRequiredError(rule.maxAgeSec, { authMethod: 'none' });
    if (isApplication(principal) && rule.allowApiKeys) return true;
    const mfaAt = principal.mfaAt?.getTime();
    const now = this.clock.now();
    if (mfaAt === undefined || !Number.isFinite(mfaAt) || now - mfaAt > rule.maxAgeSec * 1000 || mfaAt > now + 60_000) {
      throw new MfaRequiredError(rule.maxAgeSec, {
        authMethod: principal.authMethod,
        ...(mfaAt === undefined ? { mfa: 'none' } : { mfaAgeSec: Math.floor((now - mfaAt) / 1000) }),
      });
    }
    return true;
  }
}

function isApplication(principal: Principal): boolean {
  return principal.authMethod === 'api-key' || principal.authMethod === 'signature';
}
