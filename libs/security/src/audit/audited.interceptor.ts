import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { tap, type Observable } from 'rxjs';
import { authorizedResourceOf } from '../authz/authorize.decorator.js';
import { summarizeRequest, type HttpRequestLike } from '../http/http-request.js';
import { principalOf } from '../principals/current-principal.decorator.js';
import { AUDITED, type AuditedMetadata } from './audited.decorator.js';
import { SecurityEvents } from './security-events.service.js';

const ACTION_OF_METHOD: Readonly<Record<string, string>> = {
  POST: 'create',
  PUT: 'update',
  PATCH: 'update',
  DELETE: 'delete',
};

/** Records `DATA_CHANGED` for `@Audited()` routes once the handler has succeeded. */
@Injectable()
export class AuditedInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly events: SecurityEvents,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const meta =
      context.getType() === 'http'
        ? this.reflector.get<AuditedMetadata | undefined>(AUDITED, context.getHandler())
        : undefined;
    if (!meta) return next.handle();
    const request = context.switchToHttp().getRequest<HttpRequestLike & { params?: Record<string, string> }>();
    // Copied now: the handler may change the loaded entity in place before it saves it.
    const before = snapshot(authorizedResourceOf(request));
    return next.handle().pipe(
      tap((result: unknown) => {
        const principal = principalOf(request);
        const after = snapshot(result);
        const fromResult = (after as { id?: unknown } | null)?.id;
        const entityId =
          request.params?.[meta.idParam] ??
          (typeof fromResult === 'string' || typeof fromResult === 'number' ? String(fromResult) : null);
        void this.events.record({
          type: 'DATA_CHANGED',
          outcome: 'success',
          principalId: principal?.id,
          keyId: principal?.keyId,
          request: summarizeRequest(request),
          details: {
            entity: meta.entity,
            entityId: entityId?.slice(0, 128) ?? null,
            action: ACTION_OF_METHOD[request.method ?? ''] ?? 'change',
            before,
            after,
          },
        });
      }),
    );
  }
}

// A plain JSON copy (class instances, dates); secrets are redacted when the event is recorded.
function snapshot(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return null;
  }
}
