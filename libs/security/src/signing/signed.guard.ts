import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Clock } from '../core/clock.js';
import { SignatureRejectedError } from '../core/errors.js';
import type { HttpRequestLike } from '../http/http-request.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { principalOf } from '../principals/current-principal.decorator.js';
import { IS_PUBLIC } from '../principals/public.decorator.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import { signatureOf } from './signature.authenticator.js';
import { SIGNED, type SignedRequirement } from './signed.decorator.js';
import { routeMetadata } from '../http/route-metadata.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const ANY: SignedRequirement = Object.freeze({ headers: Object.freeze([]) });

/**
 * Right after authentication: a route marked `@Signed()` (or, with `signing.requireOnUnsafeMethods`,
 * any authenticated route whose method is not GET, HEAD or OPTIONS) must have been authenticated by a
 * signature of an accepted scheme, within the route's clock window, covering the route's headers.
 * Otherwise 401 (`SIGNATURE_REJECTED` with the reason). `@Public()` routes have no principal and are
 * not concerned; `@Signed(false)` exempts a route from the module-wide requirement.
 */
@Injectable()
export class SignedGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    private readonly clock: Clock,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http' || !this.options.signing) return true;
    const declared = routeMetadata<SignedRequirement | false>(this.reflector, SIGNED, context);
    if (declared === false) return true;
    const request = context.switchToHttp().getRequest<HttpRequestLike>();
    let requirement = declared;
    if (requirement === undefined) {
      if (!this.options.signing.requireOnUnsafeMethods || SAFE_METHODS.has((request.method ?? 'GET').toUpperCase())) {
        return true;
      }
      if (routeMetadata<boolean>(this.reflector, IS_PUBLIC, context)) return true;
      requirement = ANY;
    }
    const signature = signatureOf(request);
    if (!signature || principalOf(request)?.authMethod !== 'signature') {
      throw new SignatureRejectedError('signature_required', { authMethod: principalOf(request)?.authMethod });
    }
    if (requirement.schemes && !requirement.schemes.includes(signature.scheme)) {
      throw new SignatureRejectedError('unsupported_algorithm', { scheme: signature.scheme });
    }
    if (requirement.maxClockSkewMs !== undefined) {
      const skew = Math.abs(this.clock.now() / 1000 - signature.created);
      if (skew > requirement.maxClockSkewMs / 1000) {
        throw new SignatureRejectedError(signature.created > this.clock.now() / 1000 ? 'not_yet_valid' : 'expired');
      }
    }
    const missing = requirement.headers.filter((name) => !signature.covered.includes(name));
    if (missing.length > 0) throw new SignatureRejectedError('header_not_signed', { missing });
    return true;
  }
}
