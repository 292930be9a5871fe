import { SetMetadata } from '@nestjs/common';
import { parseDeprecation, type DeprecationSpec } from './core/deprecation.js';

export const DEPRECATED = 'nest-api-security:deprecated';

/**
 * Puts a route or a controller on a deprecation timeline: `Deprecation`, `Sunset` and `Link` headers,
 * `Warning: 299` from `warningFrom`, a 403 for principals created on or after `closedToNewClientsAt`,
 * `410 Gone` in brownout windows and after `sunsetAt`, all after authentication; calls are counted per
 * principal and key. A route's own `@Deprecated()` wins over its controller's and over
 * `deprecations.versions`. Bad dates or links throw `SecurityConfigError` when the class is loaded.
 * @example @Deprecated({ deprecatedAt: '2027-01-01T00:00:00Z', sunsetAt: '2027-07-01T00:00:00Z', link: 'https://example.com/migrate', successor: '/v2/items' })
 */
export function Deprecated(spec: DeprecationSpec): MethodDecorator & ClassDecorator {
  return SetMetadata(DEPRECATED, parseDeprecation(spec, '@Deprecated'));
}
