import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { tap, type Observable } from 'rxjs';
import { SecurityEvents } from '../audit/security-events.service.js';
import { summarizeRequest, type HttpRequestLike } from '../http/http-request.js';
import { principalOf } from '../principals/current-principal.decorator.js';
import { AUTHORIZE, type AuthorizeMetadata } from './authorize.decorator.js';
import { SENSITIVE } from './sensitive.decorator.js';

/** Records `SENSITIVE_ACCESS` when a `@Sensitive()` route succeeds. */
@Injectable()
export class SensitiveAccessInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly events: SecurityEvents,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (
      context.getType() !== 'http' ||
      !this.reflector.getAllAndOverride<boolean>(SENSITIVE, [context.getHandler(), context.getClass()])
    ) {
      return next.handle();
    }
    const request = context.switchToHttp().getRequest<HttpRequestLike & { params?: Record<string, string> }>();
    const authorize = this.reflector.get<AuthorizeMetadata | undefined>(AUTHORIZE, context.getHandler());
    return next.handle().pipe(
      tap(() => {
        const principal = principalOf(request);
        void this.events.record({
          type: 'SENSITIVE_ACCESS',
          outcome: 'success',
          principalId: principal?.id,
          keyId: principal?.keyId,
          request: summarizeRequest(request),
          details: {
            handler: `${context.getClass().name}.${context.getHandler().name}`,
            ...(authorize ? { resourceId: request.params?.[authorize.param]?.slice(0, 128) } : {}),
          },
        });
      }),
    );
  }
}
