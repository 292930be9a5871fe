import type { ExecutionContext, Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { describe, expect, it, vi } from 'vitest';
import { AuthenticationRequiredError, InvalidCredentialsError } from '../core/errors.js';
import type { HttpRequestLike } from '../http/http-request.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import type { SecurityModuleOptions } from '../options/security-options.js';
import { AuthenticationGuard } from './authentication.guard.js';
import { Authenticator } from './authenticator.js';
import { principalOf } from './current-principal.decorator.js';
import type { Principal } from './principal.js';
import { Public } from './public.decorator.js';

// The guard answers synchronously where it has nothing to wait for (non-HTTP, public routes, refusals
// before any authenticator runs); as a promise either way, for the assertions below.
const activate = (guard: AuthenticationGuard, context: ExecutionContext): Promise<boolean> =>
  Promise.resolve().then(() => guard.canActivate(context));

class ItemsController {
  list(): void {}

  @Public()
  health(): void {}
}

@Public()
class OpenController {
  anything(): void {}
}

const PRINCIPAL: Principal = {
  id: 'p-1',
  kind: 'service',
  roles: [],
  permissions: ['items:read'],
  attributes: {},
  authMethod: 'test',
};

/** An authenticator that offers itself when its header is present and records every call. */
class SpyAuthenticator extends Authenticator {
  readonly challenge = 'ApiKey realm="api"';
  readonly present = vi.fn((request: HttpRequestLike) => request.headers[this.header] !== undefined);
  readonly authenticate = vi.fn(async (_request: HttpRequestLike) => PRINCIPAL);

  constructor(
    readonly name: string,
    private readonly header: string,
  ) {
    super();
  }
}

function guardWith(authenticators: Authenticator[], options: SecurityModuleOptions = {}): AuthenticationGuard {
  return new AuthenticationGuard(new Reflector(), resolveSecurityOptions(options), authenticators);
}

/** The handler function, as Nest's router hands it to the execution context. */
function handlerOf(controller: Type, name: string): (...args: unknown[]) => unknown {
  return (controller.prototype as Record<string, (...args: unknown[]) => unknown>)[name]!;
}

/** A hand-built HTTP execution context for one handler of one controller. */
function httpContext(
  controller: Type,
  handler: string,
  request: HttpRequestLike = { headers: {} },
): ExecutionContext & { request: HttpRequestLike } {
  const method = handlerOf(controller, handler);
  return {
    request,
    getType: <T extends string>() => 'http' as T,
    getClass: <T>() => controller as Type<T>,
    getHandler: () => method,
    getArgs: <T extends unknown[]>() => [request, {}, undefined] as unknown as T,
    getArgByIndex: <T>(index: number) => [request, {}, undefined][index] as T,
    switchToHttp: () => ({
      getRequest: <T>() => request as T,
      getResponse: <T>() => ({}) as T,
      getNext: <T>() => undefined as T,
    }),
    switchToRpc: () => {
      throw new Error('not an rpc context');
    },
    switchToWs: () => {
      throw new Error('not a ws context');
    },
  };
}

/** A non-HTTP context whose HTTP accessors fail the test if the guard touches them. */
function nonHttpContext(type: 'rpc' | 'ws'): ExecutionContext {
  const touched = () => {
    throw new Error(`the guard read HTTP data from a ${type} context`);
  };
  return {
    getType: <T extends string>() => type as T,
    getClass: <T>() => ItemsController as Type<T>,
    getHandler: () => handlerOf(ItemsController, 'list'),
    getArgs: <T extends unknown[]>() => [{}, {}] as unknown as T,
    getArgByIndex: <T>() => ({}) as T,
    switchToHttp: touched,
    switchToRpc: () => ({ getData: <T>() => ({}) as T, getContext: <T>() => ({}) as T }),
    switchToWs: () => ({
      getData: <T>() => ({}) as T,
      getClient: <T>() => ({}) as T,
      getPattern: () => 'event',
    }),
  };
}

describe('AuthenticationGuard', () => {
  describe.each(['rpc', 'ws'] as const)('on a %s context', (type) => {
    it("lets it through untouched with nonHttpContexts: 'skip'", async () => {
      const authenticator = new SpyAuthenticator('spy', 'x-spy');
      const guard = guardWith([authenticator], { authentication: { nonHttpContexts: 'skip' } });

      await expect(activate(guard, nonHttpContext(type))).resolves.toBe(true);
      expect(authenticator.present).not.toHaveBeenCalled();
    });

    it("refuses it with AuthenticationRequiredError under nonHttpContexts: 'deny'", async () => {
      const guard = guardWith([new SpyAuthenticator('spy', 'x-spy')], { authentication: { nonHttpContexts: 'deny' } });

      const result = activate(guard, nonHttpContext(type));

      await expect(result).rejects.toBeInstanceOf(AuthenticationRequiredError);
      await expect(result).rejects.toMatchObject({
        code: 'ERR_SECURITY_AUTHENTICATION_REQUIRED',
        context: { contextType: type },
      });
    });
  });

  it('skips non-HTTP contexts by default', async () => {
    await expect(activate(guardWith([]), nonHttpContext('ws'))).resolves.toBe(true);
  });

  it('allows a @Public() handler without asking any authenticator, even with a credential present', async () => {
    const authenticator = new SpyAuthenticator('spy', 'x-spy');
    const context = httpContext(ItemsController, 'health', { headers: { 'x-spy': 'anything' } });

    await expect(activate(guardWith([authenticator]), context)).resolves.toBe(true);
    expect(authenticator.present).not.toHaveBeenCalled();
    expect(authenticator.authenticate).not.toHaveBeenCalled();
    expect(principalOf(context.request)).toBeUndefined();
  });

  it('allows every handler of a @Public() class without asking any authenticator', async () => {
    const authenticator = new SpyAuthenticator('spy', 'x-spy');

    await expect(activate(guardWith([authenticator]), httpContext(OpenController, 'anything'))).resolves.toBe(true);
    expect(authenticator.present).not.toHaveBeenCalled();
    expect(authenticator.authenticate).not.toHaveBeenCalled();
  });

  it('refuses a protected handler without a credential with AuthenticationRequiredError', async () => {
    const authenticator = new SpyAuthenticator('spy', 'x-spy');

    const result = activate(guardWith([authenticator]), httpContext(ItemsController, 'list'));

    await expect(result).rejects.toBeInstanceOf(AuthenticationRequiredError);
    expect(authenticator.present).toHaveBeenCalledTimes(1);
    expect(authenticator.authenticate).not.toHaveBeenCalled();
  });

  it('refuses a protected handler when no authenticator is registered at all', async () => {
    const context = httpContext(ItemsController, 'list', { headers: { 'x-api-key': 'sk_live_whatever' } });

    await expect(activate(guardWith([]), context)).rejects.toBeInstanceOf(AuthenticationRequiredError);
  });

  it('authenticates through the one authenticator whose credential is present and attaches the principal', async () => {
    const absent = new SpyAuthenticator('absent', 'x-absent');
    const offered = new SpyAuthenticator('offered', 'x-offered');
    const raw: HttpRequestLike = { headers: {} };
    const context = httpContext(ItemsController, 'list', { headers: { 'x-offered': 'v' }, raw });

    await expect(activate(guardWith([absent, offered]), context)).resolves.toBe(true);
    expect(offered.authenticate).toHaveBeenCalledWith(context.request);
    expect(absent.authenticate).not.toHaveBeenCalled();
    expect(principalOf(context.request)).toBe(PRINCIPAL);
    expect(principalOf(raw)).toBe(PRINCIPAL);
  });

  it('refuses two credentials as ambiguous without verifying either', async () => {
    const first = new SpyAuthenticator('first', 'x-first');
    const second = new SpyAuthenticator('second', 'x-second');
    const context = httpContext(ItemsController, 'list', { headers: { 'x-first': '1', 'x-second': '2' } });

    const result = activate(guardWith([first, second]), context);

    await expect(result).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(result).rejects.toMatchObject({ reason: 'ambiguous', context: { schemes: ['first', 'second'] } });
    expect(first.authenticate).not.toHaveBeenCalled();
    expect(second.authenticate).not.toHaveBeenCalled();
  });

  it("passes the authenticator's refusal through unchanged", async () => {
    const authenticator = new SpyAuthenticator('spy', 'x-spy');
    authenticator.authenticate.mockRejectedValueOnce(new InvalidCredentialsError('revoked'));
    const context = httpContext(ItemsController, 'list', { headers: { 'x-spy': 'old' } });

    await expect(activate(guardWith([authenticator]), context)).rejects.toMatchObject({ reason: 'revoked' });
    expect(principalOf(context.request)).toBeUndefined();
  });
});
