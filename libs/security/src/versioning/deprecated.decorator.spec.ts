// Nest loads it with @nestjs/common; this spec applies the decorator without Nest.
import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { SecurityConfigError } from '../core/errors.js';
import { parseDeprecation, type DeprecationLifecycle, type DeprecationSpec } from './core/deprecation.js';
import { DEPRECATED, Deprecated } from './deprecated.decorator.js';

const SPEC: DeprecationSpec = {
  deprecatedAt: '2027-01-01T00:00:00Z',
  sunsetAt: '2027-07-01T00:00:00Z',
  link: 'https://example.com/migrate',
  successor: '/v2/items',
  brownouts: ['2027-03-01T10:00:00Z/2027-03-01T11:00:00Z'],
};

const lifecycleOf = (target: object): DeprecationLifecycle | undefined =>
  Reflect.getMetadata(DEPRECATED, target) as DeprecationLifecycle | undefined;
/** A method as the decorator saw it (the function itself, where the metadata is). */
const method = (type: { prototype: object }, name: string): object =>
  Object.getOwnPropertyDescriptor(type.prototype, name)!.value as object;

describe('@Deprecated', () => {
  it('stores the parsed lifecycle on a method, and nothing on its neighbours or the class', () => {
    class Items {
      @Deprecated(SPEC)
      list(): void {}

      get(): void {}
    }
    expect(lifecycleOf(method(Items, 'list'))).toStrictEqual(parseDeprecation(SPEC, '@Deprecated'));
    expect(lifecycleOf(method(Items, 'list'))).toMatchObject({
      deprecatedAt: Date.UTC(2027, 0, 1),
      sunsetAt: Date.UTC(2027, 6, 1),
      brownouts: [{ start: Date.UTC(2027, 2, 1, 10), end: Date.UTC(2027, 2, 1, 11) }],
    });
    expect(lifecycleOf(method(Items, 'get'))).toBeUndefined();
    expect(lifecycleOf(Items)).toBeUndefined();
  });

  it('stores the parsed lifecycle on a class, apart from a method with its own', () => {
    const own: DeprecationSpec = { ...SPEC, sunsetAt: '2027-03-31T00:00:00Z', brownouts: [] };
    @Deprecated(SPEC)
    class Reports {
      @Deprecated(own)
      export(): void {}

      list(): void {}
    }
    expect(lifecycleOf(Reports)).toStrictEqual(parseDeprecation(SPEC, '@Deprecated'));
    expect(lifecycleOf(method(Reports, 'export'))).toMatchObject({ sunsetAt: Date.UTC(2027, 2, 31), brownouts: [] });
    expect(lifecycleOf(method(Reports, 'list'))).toBeUndefined();
  });

  it('stores a frozen lifecycle in epoch milliseconds, not the spec as written', () => {
    class Items {
      @Deprecated(SPEC)
      list(): void {}
    }
    const stored = lifecycleOf(method(Items, 'list'))!;
    expect(typeof stored.deprecatedAt).toBe('number');
    expect(Object.isFrozen(stored)).toBe(true);
  });

  it.each<[string, unknown, RegExp]>([
    ['a date without a zone', { ...SPEC, sunsetAt: '2027-07-01T00:00:00' }, /sunsetAt must be an ISO 8601 instant/],
    ['a sunset before the deprecation', { ...SPEC, sunsetAt: '2026-01-01T00:00:00Z' }, /sunsetAt is before/],
    ['a javascript: link', { ...SPEC, link: 'javascript:alert(1)' }, /link must be an http\(s\) URL/],
    ['an unknown key', { ...SPEC, removedAt: '2027-07-01T00:00:00Z' }, /unknown key "removedAt"/],
  ])('throws SecurityConfigError naming @Deprecated when applied with %s', (_label, spec, message) => {
    let error: unknown;
    try {
      class Items {
        @Deprecated(spec as DeprecationSpec)
        list(): void {}
      }
      void Items;
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SecurityConfigError);
    expect(error).toMatchObject({ code: 'ERR_SECURITY_CONFIG_INVALID_DEPRECATION', option: '@Deprecated' });
    expect((error as Error).message).toMatch(/^@Deprecated: /);
    expect((error as Error).message).toMatch(message);
  });

  it('throws when a class is decorated with a bad spec', () => {
    expect(() => {
      @Deprecated({ ...SPEC, link: '//evil.example' })
      class Items {}
      return Items;
    }).toThrow(SecurityConfigError);
  });
});
