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
import { routeMetadata } from '../http/route-metadata.js';

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

  // Not `async`: a public route answers synchronously, so the pipeline goes on in the same turn.
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') {
      if (this.options.authentication.nonHttpContexts === 'skip') return true;
      throw new AuthenticationRequiredError({ contextType: context.getType() });
    }
    if (routeMetadata<boolean>(this.reflector, IS_PUBLIC, context)) {
      return true;
    }
    const request = context.switchToHttp().getRequest<HttpRequestLike>();
    let offered: Authenticator | undefined;
    for (const authenticator of this.authenticators) {
      if (!authenticator.present(request)) continue;
      if (offered) {
        const schemes = this.authenticators.filter((a) => a.present(request)).map((a) => a.name);
        throw new InvalidCredentialsError('ambiguous', { schemes });
      }
      offered = authenticator;
    }
    if (!offered) throw new AuthenticationRequiredError();
    return offered.authenticate(request).then((principal) => {
      setPrincipal(request, principal);
      this.metrics?.recordAuthenticationSuccess(principal.authMethod);
      return true;
    });
  }
}
