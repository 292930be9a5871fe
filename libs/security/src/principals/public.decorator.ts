import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'nest-api-security:public';

/**
 * Marks a route or controller as reachable without credentials. Everything else needs an
 * authenticated principal once `SecurityModule` is imported.
 * @example @Post('login') @Public() login() {}
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
