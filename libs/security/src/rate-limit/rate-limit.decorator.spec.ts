// Nest loads it with @nestjs/common; this spec applies the decorators without Nest.
import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { SecurityConfigError } from '../core/errors.js';
import {
  RATE_LIMITS,
  RateLimit,
  SKIP_RATE_LIMIT,
  SkipRateLimit,
  type RateLimitRouteOptions,
  type RouteRateLimit,
} from './rate-limit.decorator.js';

const rateLimitsOf = (target: object): RouteRateLimit[] | undefined =>
  Reflect.getOwnMetadata(RATE_LIMITS, target) as RouteRateLimit[] | undefined;
const skippedOf = (target: object): string[] | undefined =>
  Reflect.getOwnMetadata(SKIP_RATE_LIMIT, target) as string[] | undefined;
/** A method as the decorators saw it (the function itself, where the metadata is). */
const method = (type: { prototype: object }, name: string): object =>
  Object.getOwnPropertyDescriptor(type.prototype, name)!.value as object;

function expectInvalid(make: () => unknown, message: RegExp): void {
  let error: unknown;
  try {
    make();
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(SecurityConfigError);
  expect(error).toMatchObject({ code: 'ERR_SECURITY_CONFIG_INVALID_RATE_LIMIT', option: '@RateLimit' });
  expect((error as Error).message).toMatch(message);
}

describe('@RateLimit', () => {
  it.each(['5/0s', '0/10s', '5/0ms'])('refuses the limit %s when it is decorated', (limit) => {
    expectInvalid(() => RateLimit(limit), /is not a limit/);
  });

  it.each(['Login', '5/10', '5 / 10s', '', 'a'.repeat(33), '1login', 'log in'])(
    'refuses %j, neither a limit nor a policy name',
    (policy) => {
      expectInvalid(() => RateLimit(policy), /neither a limit/);
    },
  );

  it('refuses a policy that is not a string', () => {
    expectInvalid(() => RateLimit(5 as unknown as string), /use a limit such as/);
  });

  it('accepts limits and policy names', () => {
    expect(() => RateLimit('5/300s')).not.toThrow();
    expect(() => RateLimit('1000/1h', { by: 'ip', name: 'bulk-export_2', cost: 0, block: '15m' })).not.toThrow();
    expect(() => RateLimit('login')).not.toThrow();
    expect(() => RateLimit('export', { by: () => 'tenant', onStoreError: 'closed' })).not.toThrow();
  });

  it.each<[string, RateLimitRouteOptions, RegExp]>([
    ['ip', { name: 'ip' }, /name "ip"/],
    ['principal', { name: 'principal' }, /name "principal"/],
    ['upper case', { name: 'Export' }, /name "Export"/],
    ['empty', { name: '' }, /name ""/],
    ['too long', { name: 'x'.repeat(33) }, /use lower-case letters/],
    ['not a string', { name: 5 as unknown as string }, /name 5/],
  ])('refuses a bad name (%s)', (_label, options, message) => {
    expectInvalid(() => RateLimit('5/60s', options), message);
  });

  it('refuses a cost above the inline limit, since every request would be refused', () => {
    expectInvalid(() => RateLimit('3/60s', { cost: 4 }), /cost 4 is above the limit of "3\/60s"/);
    expect(() => RateLimit('3/60s', { cost: 3 })).not.toThrow();
    // A configured policy's limit is known at boot only; the module checks the cost then.
    expect(() => RateLimit('export', { cost: 1_000 })).not.toThrow();
  });

  it.each([-1, 1.5, Number.NaN, '2' as unknown as number])('refuses the cost %s', (cost) => {
    expectInvalid(() => RateLimit('5/60s', { cost }), /cost must be a whole number/);
  });

  it.each(['1 minute', '0s', '15', 15 as unknown as string, ''])('refuses the block %j', (block) => {
    expectInvalid(() => RateLimit('5/60s', { block }), /is not a duration/);
  });

  it.each(['tenant', 'IP', null, 42])('refuses by: %j', (by) => {
    expectInvalid(
      () => RateLimit('5/60s', { by: by as unknown as 'ip' }),
      /by must be 'ip', 'principal' or a function/,
    );
  });

  it('refuses an unknown onStoreError', () => {
    expectInvalid(
      () => RateLimit('5/60s', { onStoreError: 'fail' as unknown as 'open' }),
      /onStoreError must be 'open', 'closed' or 'local'/,
    );
  });

  it('keeps stacked decorators in the order they are written, with frozen copies of their options', () => {
    const options = { name: 'burst', cost: 2 };
    class Items {
      @RateLimit('10/1s', options)
      @RateLimit('login', { by: 'ip' })
      @RateLimit('1000/1h', { name: 'hourly' })
      list(): void {}
    }
    options.cost = 5;

    const stored = rateLimitsOf(method(Items, 'list'))!;
    expect(stored.map((entry) => entry.policy)).toEqual(['10/1s', 'login', '1000/1h']);
    expect(stored[0]).toEqual({ policy: '10/1s', options: { name: 'burst', cost: 2 } });
    expect(stored[1]!.options).toEqual({ by: 'ip' });
    expect(Object.isFrozen(stored[0])).toBe(true);
    expect(Object.isFrozen(stored[0]!.options)).toBe(true);
  });

  it('stores class-level policies on the class, apart from the methods', () => {
    const byTenant = () => 'acme';
    @RateLimit('100/60s', { name: 'controller', by: byTenant })
    @RateLimit('export')
    class Reports {
      @RateLimit('5/60s', { name: 'method' })
      run(): void {}
      other(): void {}
    }

    expect(rateLimitsOf(Reports)).toEqual([
      { policy: '100/60s', options: { name: 'controller', by: byTenant } },
      { policy: 'export', options: {} },
    ]);
    expect(rateLimitsOf(method(Reports, 'run'))).toEqual([{ policy: '5/60s', options: { name: 'method' } }]);
    expect(rateLimitsOf(method(Reports, 'other'))).toBeUndefined();
  });

  it("does not add to a parent class's list when a subclass declares its own", () => {
    @RateLimit('10/60s', { name: 'parent' })
    class Parent {}
    @RateLimit('20/60s', { name: 'child' })
    class Child extends Parent {}

    expect(rateLimitsOf(Parent)!.map((entry) => entry.options.name)).toEqual(['parent']);
    expect(rateLimitsOf(Child)!.map((entry) => entry.options.name)).toEqual(['child']);
  });
});

describe('@SkipRateLimit', () => {
  it('skips both global policies when none is named', () => {
    class Health {
      @SkipRateLimit()
      check(): void {}
    }

    expect(skippedOf(method(Health, 'check'))).toEqual(['ip', 'principal']);
  });

  it('stores the named policies on a method or a class', () => {
    @SkipRateLimit('principal')
    class Probes {
      @SkipRateLimit('ip')
      live(): void {}
    }

    expect(skippedOf(Probes)).toEqual(['principal']);
    expect(skippedOf(method(Probes, 'live'))).toEqual(['ip']);
    expect(Object.isFrozen(skippedOf(Probes))).toBe(true);
  });

  it('adds up stacked decorators', () => {
    class Probes {
      @SkipRateLimit('ip')
      @SkipRateLimit('principal')
      ready(): void {}
    }

    expect([...skippedOf(method(Probes, 'ready'))!].sort()).toEqual(['ip', 'principal']);
  });

  it.each(['login', 'IP', '', 'route'])('refuses %j, which is not a global policy', (name) => {
    let error: unknown;
    try {
      SkipRateLimit(name as 'ip');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SecurityConfigError);
    expect(error).toMatchObject({ code: 'ERR_SECURITY_CONFIG_INVALID_VALUE', option: '@SkipRateLimit' });
    expect((error as Error).message).toMatch(/is not a global policy; use 'ip' or 'principal'/);
  });

  it('refuses a bad name among good ones', () => {
    expect(() => SkipRateLimit('ip', 'login' as 'ip')).toThrow(SecurityConfigError);
  });
});
