/* oxlint-disable typescript/unbound-method -- handlers are passed by reference, as Nest hands them to the Reflector */
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { MfaRequiredError, SecurityConfigError } from '../core/errors.js';
import { setPrincipal } from '../principals/current-principal.decorator.js';
import type { Principal } from '../principals/principal.js';
import { REQUIRE_MFA, RequireMfa } from './require-mfa.decorator.js';
import { RequireMfaGuard } from './require-mfa.guard.js';

class Routes {
  @RequireMfa({ maxAgeSec: 300 }) remove() {}
  @RequireMfa() defaults() {}
  @RequireMfa({ maxAgeSec: 60, allowApiKeys: false }) peopleOnly() {}
  open() {}
}

@RequireMfa({ maxAgeSec: 120, allowApiKeys: false })
class StrictRoutes {
  inherited() {}
  @RequireMfa({ maxAgeSec: 600 }) relaxed() {}
}

const NOW = Date.UTC(2026, 2, 1, 10, 0, 0);
const SECOND = 1000;

function principal(authMethod: Principal['authMethod'], mfaAt?: Date): Principal {
  return {
    id: '11111111-1111-4111-8111-111111111111',
    kind: 'user',
    roles: [],
    permissions: ['*:*'],
    attributes: {},
    authMethod,
    ...(mfaAt ? { mfaAt } : {}),
  };
}

function contextFor(handler: () => void, cls: object, who?: Principal, type = 'http'): ExecutionContext {
  const request = {};
  if (who) setPrincipal(request, who);
  return {
    getType: () => type,
    getHandler: () => handler,
    getClass: () => cls,
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
}

function setup() {
  const clock = new ManualClock(NOW);
  const guard = new RequireMfaGuard(new Reflector(), clock);
  /** The MfaRequiredError the guard throws, or undefined when it lets the request through. */
  const refusal = (handler: () => void, cls: object, who?: Principal): MfaRequiredError | undefined => {
    try {
      expect(guard.canActivate(contextFor(handler, cls, who))).toBe(true);
      return undefined;
    } catch (error) {
      expect(error).toBeInstanceOf(MfaRequiredError);
      return error as MfaRequiredError;
    }
  };
  return { clock, guard, refusal };
}

const routes = Routes.prototype;
const strict = StrictRoutes.prototype;
const ago = (seconds: number) => new Date(NOW - seconds * SECOND);

describe('RequireMfaGuard', () => {
  it('lets a route without @RequireMfa through, with or without a principal and second factor', () => {
    const { refusal } = setup();

    expect(refusal(routes.open, Routes)).toBeUndefined();
    expect(refusal(routes.open, Routes, principal('session'))).toBeUndefined();
    expect(refusal(routes.open, Routes, principal('oauth'))).toBeUndefined();
  });

  it('leaves non-HTTP contexts alone', () => {
    const { guard } = setup();

    expect(guard.canActivate(contextFor(routes.remove, Routes, undefined, 'rpc'))).toBe(true);
  });

  it('lets API keys and request signatures through by default: they identify applications', () => {
    const { refusal } = setup();

    expect(refusal(routes.remove, Routes, principal('api-key'))).toBeUndefined();
    expect(refusal(routes.remove, Routes, principal('signature'))).toBeUndefined();
    expect(refusal(routes.defaults, Routes, principal('api-key'))).toBeUndefined();
  });

  it('refuses API keys and signatures with allowApiKeys: false, saying how recent the factor must be', () => {
    const { refusal } = setup();

    for (const method of ['api-key', 'signature'] as const) {
      const error = refusal(routes.peopleOnly, Routes, principal(method));
      expect(error, method).toBeInstanceOf(MfaRequiredError);
      expect(error!.maxAgeSec).toBe(60);
      expect(error!.code).toBe('ERR_SECURITY_MFA_REQUIRED');
      expect(error!.context).toMatchObject({ maxAgeSec: 60, authMethod: method, mfa: 'none' });
    }
  });

  it('lets an API key through with allowApiKeys: false when its principal carries a recent second factor', () => {
    const { refusal } = setup();

    expect(refusal(routes.peopleOnly, Routes, principal('api-key', ago(10)))).toBeUndefined();
  });

  it('refuses a session or bearer token without a second factor', () => {
    const { refusal } = setup();

    for (const method of ['session', 'oauth', 'test'] as const) {
      const error = refusal(routes.remove, Routes, principal(method));
      expect(error, method).toBeInstanceOf(MfaRequiredError);
      expect(error!.maxAgeSec).toBe(300);
      expect(error!.context).toMatchObject({ authMethod: method, mfa: 'none' });
    }
  });

  it('lets a session or bearer token with a second factor within maxAgeSec through', () => {
    const { refusal } = setup();

    for (const method of ['session', 'oauth'] as const) {
      expect(refusal(routes.remove, Routes, principal(method, ago(0))), method).toBeUndefined();
      expect(refusal(routes.remove, Routes, principal(method, ago(1))), method).toBeUndefined();
      expect(refusal(routes.remove, Routes, principal(method, ago(299))), method).toBeUndefined();
    }
  });

  it('refuses a second factor older than maxAgeSec, with its age', () => {
    const { refusal } = setup();

    for (const method of ['session', 'oauth'] as const) {
      const error = refusal(routes.remove, Routes, principal(method, ago(301)));
      expect(error, method).toBeInstanceOf(MfaRequiredError);
      expect(error!.context).toMatchObject({ maxAgeSec: 300, authMethod: method, mfaAgeSec: 301 });
      expect(refusal(routes.remove, Routes, principal(method, ago(3600)))).toBeInstanceOf(MfaRequiredError);
    }
  });

  it('counts a factor exactly maxAgeSec old as recent enough, and one a millisecond older as stale', () => {
    const { refusal } = setup();
    const at = (ms: number) => principal('session', new Date(NOW - ms));

    expect(refusal(routes.remove, Routes, at(300 * SECOND))).toBeUndefined();
    expect(refusal(routes.remove, Routes, at(300 * SECOND + 1))).toBeInstanceOf(MfaRequiredError);
  });

  it('judges age by the injected clock: the same factor turns stale as the clock moves', () => {
    const { refusal, clock } = setup();
    const who = principal('session', new Date(NOW));

    expect(refusal(routes.remove, Routes, who)).toBeUndefined();
    clock.advance(300 * SECOND);
    expect(refusal(routes.remove, Routes, who)).toBeUndefined();
    clock.advance(1);
    expect(refusal(routes.remove, Routes, who)).toBeInstanceOf(MfaRequiredError);
  });

  it('defaults maxAgeSec to 300', () => {
    const { refusal } = setup();

    expect(refusal(routes.defaults, Routes, principal('session', ago(300)))).toBeUndefined();
    expect(refusal(routes.defaults, Routes, principal('session', ago(301)))?.maxAgeSec).toBe(300);
  });

  it('tolerates a minute of clock skew into the future and refuses a factor further ahead', () => {
    const { refusal } = setup();
    const ahead = (ms: number) => principal('oauth', new Date(NOW + ms));

    expect(refusal(routes.remove, Routes, ahead(60 * SECOND))).toBeUndefined();
    expect(refusal(routes.remove, Routes, ahead(60 * SECOND + 1))).toBeInstanceOf(MfaRequiredError);
  });
  // guard lets the request through. mfaAtOf() filters NaN today, but the guard should fail closed by itself.
  it('refuses a principal whose mfaAt is an invalid date (fail closed)', () => {
    const { refusal } = setup();

    expect(refusal(routes.remove, Routes, principal('session', new Date(Number.NaN)))).toBeInstanceOf(MfaRequiredError);
  });

  it('refuses when no principal was authenticated (a @Public route with @RequireMfa)', () => {
    const { refusal } = setup();

    const error = refusal(routes.remove, Routes);
    expect(error).toBeInstanceOf(MfaRequiredError);
    expect(error!.context).toMatchObject({ maxAgeSec: 300, authMethod: 'none' });
  });

  it('applies a rule set on the controller, and a handler’s own rule over it', () => {
    const { refusal } = setup();

    expect(refusal(strict.inherited, StrictRoutes, principal('api-key'))?.maxAgeSec).toBe(120);
    expect(refusal(strict.inherited, StrictRoutes, principal('session', ago(121)))?.maxAgeSec).toBe(120);
    expect(refusal(strict.inherited, StrictRoutes, principal('session', ago(120)))).toBeUndefined();
    expect(refusal(strict.relaxed, StrictRoutes, principal('api-key'))).toBeUndefined();
    expect(refusal(strict.relaxed, StrictRoutes, principal('session', ago(600)))).toBeUndefined();
    expect(refusal(strict.relaxed, StrictRoutes, principal('session', ago(601)))?.maxAgeSec).toBe(600);
  });
});

describe('@RequireMfa', () => {
  it('stores a frozen rule with the defaults filled in', () => {
    const rule = new Reflector().get(REQUIRE_MFA, routes.defaults);

    expect(rule).toEqual({ maxAgeSec: 300, allowApiKeys: true });
    expect(Object.isFrozen(rule)).toBe(true);
    expect(new Reflector().get(REQUIRE_MFA, routes.peopleOnly)).toEqual({ maxAgeSec: 60, allowApiKeys: false });
  });

  it('refuses a maxAgeSec that is not a whole number of seconds >= 1 at decoration time', () => {
    for (const maxAgeSec of [0, -1, 1.5, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      let thrown: unknown;
      try {
        RequireMfa({ maxAgeSec });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, String(maxAgeSec)).toBeInstanceOf(SecurityConfigError);
      expect(thrown).toMatchObject({ code: 'ERR_SECURITY_CONFIG_INVALID_VALUE', option: '@RequireMfa' });
    }
  });

  it('accepts 1 second, the smallest maxAgeSec', () => {
    expect(() => RequireMfa({ maxAgeSec: 1 })).not.toThrow();
  });
});
