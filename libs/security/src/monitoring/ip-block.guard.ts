import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Clock } from '../core/clock.js';
import { RateLimitExceededError } from '../core/errors.js';
import { clientIpOf, type HttpRequestLike } from '../http/http-request.js';
import { AnomalyDetector } from './anomaly-detector.service.js';

/**
 * Refuses every request from an IP that `AnomalyDetector` blocked, with 429 and `Retry-After`, before
 * authentication (first in the pipeline, `@Public()` routes included). Non-HTTP contexts are skipped:
 * they have no client address to go by.
 */
@Injectable()
export class IpBlockGuard implements CanActivate {
  constructor(
    private readonly detector: AnomalyDetector,
    private readonly clock: Clock,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<HttpRequestLike>();
    // The same address the events record (summarizeRequest), so a block matches what was counted.
    const ip = clientIpOf(request);
    if (!ip) return true;
    const now = this.clock.now();
    const until = this.detector.blockedUntil(ip, now);
    if (until === undefined) return true;
    throw new RateLimitExceededError(Math.max(1, Math.ceil((until - now) / 1000)), {
      reason: 'ip_blocked',
      blockedUntil: new Date(until).toISOString(),
    });
  }
}
