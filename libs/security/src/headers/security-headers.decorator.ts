import { SetMetadata } from '@nestjs/common';
import { buildHeaderOverrides, type SecurityHeadersOverride } from './security-headers.js';

/** Metadata key of `@SecurityHeaders()`: the overrides as given (checked when the class is declared). */
export const SECURITY_HEADERS_OVERRIDE = Symbol.for('nest-api-security.securityHeaders');

/**
 * Changes the preset's Content-Security-Policy, Cache-Control, X-Frame-Options or Referrer-Policy for
 * this route, or every route of this controller (a route's own keys win over its controller's). The
 * values are checked with helmet when the class is declared; `false` leaves that header out. The headers
 * are written first among the guards, so a 401 or 403 of the route carries them too.
 * @example @Get('report.html') @SecurityHeaders({ contentSecurityPolicy: "default-src 'self'", cacheControl: 'private, max-age=60' })
 */
export function SecurityHeaders(overrides: SecurityHeadersOverride): ClassDecorator & MethodDecorator {
  buildHeaderOverrides(overrides);
  return SetMetadata(SECURITY_HEADERS_OVERRIDE, Object.freeze({ ...overrides }));
}
