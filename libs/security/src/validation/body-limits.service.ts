import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { PayloadTooLargeError } from '../core/errors.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import { rawBodyOf } from '../signing/raw-body.js';
import { BODY_LIMIT } from './body-limit.decorator.js';

type Handler = (...args: unknown[]) => unknown;

/**
 * Body limits per route. The parsers read every body under one cap, the largest limit of any route (found
 * at boot from `@BodyLimit()`); `BodyLimitGuard` then refuses, first among the guards, a body over its own
 * route's smaller limit. Without `@BodyLimit()` anywhere the cap is `limits.body` and the guard does nothing.
 */
@Injectable()
export class BodyLimits {
  /** The largest body any route takes. */
  readonly capBytes: number;
  /** Some route takes less than the cap: the guard has to look. */
  readonly perRoute: boolean;
  private readonly defaultBytes: number;
  private readonly limits = new WeakMap<Handler, number>();

  constructor(
    @Inject(SECURITY_OPTIONS) options: ResolvedSecurityOptions,
    discovery: DiscoveryService,
    scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {
    this.defaultBytes = options.limits.bodyBytes;
    const seen = new Set<number>([this.defaultBytes]);
    for (const wrapper of discovery.getControllers()) {
      const controller = wrapper.metatype as (new (...args: never[]) => unknown) | null;
      if (!controller) continue;
      for (const name of scanner.getAllMethodNames(controller.prototype as object)) {
        const handler = (controller.prototype as Record<string, Handler>)[name]!;
        seen.add(this.limitOf(handler, controller));
      }
    }
    this.capBytes = Math.max(...seen);
    this.perRoute = [...seen].some((bytes) => bytes < this.capBytes);
  }

  /** The route's limit: its own `@BodyLimit()`, its controller's, or `limits.body`. */
  limitOf(handler: Handler, controller: object): number {
    let bytes = this.limits.get(handler);
    if (bytes === undefined) {
      bytes =
        this.reflector.getAllAndOverride<number | undefined>(BODY_LIMIT, [handler, controller as Handler]) ??
        this.defaultBytes;
      this.limits.set(handler, bytes);
    }
    return bytes;
  }
}

/** Refuses with 413 a body over its route's `@BodyLimit()` when that is below the parsers' cap. */
@Injectable()
export class BodyLimitGuard implements CanActivate {
  constructor(private readonly limits: BodyLimits) {}

  canActivate(context: ExecutionContext): boolean {
    if (!this.limits.perRoute || context.getType() !== 'http') return true;
    const size = rawBodyOf(context.switchToHttp().getRequest())?.length ?? 0;
    if (size > this.limits.limitOf(context.getHandler() as Handler, context.getClass())) {
      throw new PayloadTooLargeError({ size });
    }
    return true;
  }
}
