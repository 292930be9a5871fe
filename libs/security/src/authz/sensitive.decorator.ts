import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { SensitiveAccessInterceptor } from './sensitive-access.interceptor.js';

export const SENSITIVE = 'nest-api-security:sensitive';

/**
 * Records a `SENSITIVE_ACCESS` event whenever the route succeeds (denials are recorded anyway), with the
 * principal, the route and, under `@Authorize()`, the resource. Binds `SensitiveAccessInterceptor` to the
 * route (or controller) it decorates, so routes without it run no interceptor of this module.
 * @example @Get(':id') @Sensitive() @RequirePermission('users:read') get() {}
 */
export const Sensitive = (): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(SENSITIVE, true), UseInterceptors(SensitiveAccessInterceptor));
