import { CanActivate, ExecutionContext, Inject, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthenticationRequiredError, InvalidCredentialsError } from '../core/errors.js';
import type { HttpRequestLike } from '../http/http-request.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { SECURITY_AUTHENTICATORS, SECURITY_OPTIONS } from '../security.constants.js';
import { Authenticator } from './authenticator.js';
import { setPrincipal } from './current-principal.decorator.js';
import { IS_PUBLIC } from './public.decorator.js';
import { SecurityMetrics } from '../monitoring/security-metrics.service.js';

/**
 * Deny by default: every HTTP route needs exactly one valid credential unless it is `@Public()`.
 * Non-HTTP contexts are skipped or denied as `authentication.nonHttpContexts` says.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    @Inject(SECURITY_AUTHENTICATORS) private readonly authenticators: readonly Authenticator[],
    @Optional() private readonly metrics?: SecurityMetrics,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') {
      if (this.options.authentication.nonHttpContexts === 'skip') return true;
      throw new AuthenticationRequiredError({ contextType: context.getType() });
    }
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) {
      return true;
    }
    const request = context.switchToHttp().getRequest<HttpRequestLike>();
    const offered = this.authenticators.filter((authenticator) => authenticator.present(request));
    if (offered.length === 0) throw new AuthenticationRequiredError();
    if (offered.length > 1) {
      throw new InvalidCredentialsError('ambiguous', { schemes: offered.map((a) => a.name) });
    }
    const principal = await offered[0]!.authenticate(request);
    setPrincipal(request, principal);
    this.metrics?.recordAuthenticationSuccess(principal.authMethod);
    return true;
  }
}
