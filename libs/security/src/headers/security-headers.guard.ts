import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';

/** Applies a route's `@SecurityHeaders()` overrides, first among the guards (stub: helper H1 implements). */
@Injectable()
export class SecurityHeadersGuard implements CanActivate {
  canActivate(_context: ExecutionContext): boolean {
    return true;
  }
}
