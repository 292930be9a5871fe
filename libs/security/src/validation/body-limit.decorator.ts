import { SetMetadata } from '@nestjs/common';
import { parseSize } from '../core/durations.js';
import { SecurityConfigError } from '../core/errors.js';

/** Metadata key of `@BodyLimit()`: the route's largest body in bytes. */
export const BODY_LIMIT = Symbol.for('nest-api-security.bodyLimit');

/**
 * The largest body this route (or every route of this controller) takes, instead of `limits.body`:
 * a size such as `'256kb'` or `'2mb'`, or a number of bytes. Checked at decoration time.
 * @example @Post() @BodyLimit('256kb') create(@Body() body: DocumentDto) {}
 */
export function BodyLimit(size: string | number): ClassDecorator & MethodDecorator {
  const bytes = typeof size === 'number' ? size : parseSize(size);
  if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new SecurityConfigError(
      'ERR_SECURITY_CONFIG_INVALID_SIZE',
      '@BodyLimit()',
      `"${String(size)}" is not a size; use a number and a unit (b, kb, mb), e.g. "256kb", or a number of bytes`,
    );
  }
  return SetMetadata(BODY_LIMIT, bytes);
}
