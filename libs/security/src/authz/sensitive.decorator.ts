import { SetMetadata } from '@nestjs/common';

export const SENSITIVE = 'nest-api-security:sensitive';

/**
 * Records a `SENSITIVE_ACCESS` event whenever the route succeeds (denials are recorded anyway), with the
 * principal, the route and, under `@Authorize()`, the resource.
 * @example @Get(':id') @Sensitive() @RequirePermission('users:read') get() {}
 */
export const Sensitive = (): MethodDecorator & ClassDecorator => SetMetadata(SENSITIVE, true);
