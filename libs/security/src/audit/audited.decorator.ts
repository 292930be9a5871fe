import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { AuditedInterceptor } from './audited.interceptor.js';

export const AUDITED = 'nest-api-security:audited';

/** What `@Audited()` records on a route. */
export interface AuditedMetadata {
  /** Entity name in the event, e.g. `document`. */
  readonly entity: string;
  /** Route parameter with the entity's id (default `id`); without one, the result's `id` is used. */
  readonly idParam: string;
}

/**
 * Records a `DATA_CHANGED` event when the route succeeds: who, when, `entity`, `entityId`, the action
 * (create, update, delete from the HTTP method) and the redacted `before` (the resource `@Authorize()`
 * loaded, when there is one) and `after` (what the handler returned). Binds `AuditedInterceptor` to the
 * route it decorates.
 * @example @Put(':id') @Authorize(DocumentPolicy, 'write') @Audited('document') update() {}
 */
export const Audited = (entity: string, options: { idParam?: string } = {}): MethodDecorator => {
  if (!/^[a-z][a-z0-9_-]{0,63}$/.test(entity)) throw new Error(`@Audited('${entity}'): use a lower-case entity name`);
  return applyDecorators(
    SetMetadata(AUDITED, { entity, idParam: options.idParam ?? 'id' } satisfies AuditedMetadata),
    UseInterceptors(AuditedInterceptor),
  );
};
