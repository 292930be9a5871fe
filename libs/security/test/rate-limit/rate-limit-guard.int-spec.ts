import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import {
  Controller,
  Get,
  Module,
  type DynamicModule,
  type ExecutionContext,
  type INestApplication,
  type Type,
} from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuditEventStore, type StoredAuditEvent } from '../../src/audit/audit-event.store.js';
import { SecurityEvents } from '../../src/audit/security-events.service.js';
import { createSecurityLogger } from '../../src/audit/security-logger.js';
import { Clock, ManualClock } from '../../src/core/clock.js';
import { InvalidCredentialsError, SecurityConfigError } from '../../src/core/errors.js';
import type { HttpRequestLike } from '../../src/http/http-request.js';
import type { SecurityModuleOptions } from '../../src/options/security-options.js';
import { Authenticator } from '../../src/principals/authenticator.js';
import type { Principal } from '../../src/principals/principal.js';
import { Public } from '../../src/principals/public.decorator.js';
import { RateLimit, SkipRateLimit } from '../../src/rate-limit/rate-limit.decorator.js';
import { RateLimitStore } from '../../src/rate-limit/rate-limit.store.js';
import { RateLimits } from '../../src/rate-limit/rate-limits.service.js';
import { SecurityModule } from '../../src/security.module.js';
import { SECURITY_AUTHENTICATORS, SECURITY_LOGGER } from '../../src/security.constants.js';

const ADAPTERS: ReadonlyArray<[string, () => AbstractHttpAdapter]> = [
  ['express', () => new ExpressAdapter()],
  ['fastify', () => new FastifyAdapter()],
];

// Aligned on every window used here (10 s, 60 s, 1 h): windows start at multiples of their length.
const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

/** Authenticates `x-user: <id>` as the principal `<id>`; `x-user: bad` is refused. */
class UserHeaderAuthenticator extends Authenticator {
  readonly name = 'user-header';
  readonly challenge = 'User realm="test"';

  present(request: HttpRequestLike): boolean {
    return request.headers['x-user'] !== undefined;
  }

  async authenticate(request: HttpRequestLike): Promise<Principal> {
    const id = String(request.headers['x-user']);
    if (id === 'bad') throw new InvalidCredentialsError('unknown');
    return { id, kind: 'user', roles: [], permissions: [], attributes: {}, authMethod: 'test' };
  }
}

const tenantOf = ({ request }: { request: HttpRequestLike }): string | undefined => {
  const tenant = request.headers['x-tenant'];
  return typeof tenant === 'string' ? tenant : undefined;
};

@Controller('rl')
class LimitsController {
  @Get('sliding')
  @Public()
  @RateLimit('3/10s')
  sliding(): { ok: true } {
    return { ok: true };
  }

  @Get('sliding-reset')
  @Public()
  @RateLimit('3/10s')
  slidingReset(): { ok: true } {
    return { ok: true };
  }

  @Get('block')
  @Public()
  @RateLimit('2/10s', { block: '1m' })
  block(): { ok: true } {
    return { ok: true };
  }

  @Get('cost')
  @Public()
  @RateLimit('10/60s', { cost: 4 })
  cost(): { ok: true } {
    return { ok: true };
  }

  @Get('tight')
  @Public()
  @RateLimit('1/60s', { name: 'tight' })
  tight(): { ok: true } {
    return { ok: true };
  }

  @Get('tenant')
  @Public()
  @RateLimit('2/60s', { by: tenantOf, name: 'tenant' })
  tenant(): { ok: true } {
    return { ok: true };
  }

  @Get('me')
  @RateLimit('2/60s', { by: 'principal', name: 'per-user' })
  me(): { ok: true } {
    return { ok: true };
  }

  @Get('export-a')
  @Public()
  @RateLimit('export')
  exportA(): { ok: true } {
    return { ok: true };
  }

  @Get('export-b')
  @Public()
  @RateLimit('export')
  exportB(): { ok: true } {
    return { ok: true };
  }

  @Get('export-c')
  @Public()
  @RateLimit('export', { name: 'export-csv' })
  exportC(): { ok: true } {
    return { ok: true };
  }

  @Get('inline-a')
  @Public()
  @RateLimit('2/60s')
  inlineA(): { ok: true } {
    return { ok: true };
  }

  @Get('inline-b')
  @Public()
  @RateLimit('2/60s')
  inlineB(): { ok: true } {
    return { ok: true };
  }

  @Get('health')
  @Public()
  @SkipRateLimit('ip')
  @RateLimit('5/60s', { name: 'health' })
  health(): { ok: true } {
    return { ok: true };
  }

  @Get('bare')
  @Public()
  @SkipRateLimit('ip')
  bare(): { ok: true } {
    return { ok: true };
  }

  @Get('events')
  @Public()
  @RateLimit('1/10s', { name: 'events' })
  events(): { ok: true } {
    return { ok: true };
  }

  @Get('shutdown')
  @Public()
  @RateLimit('1/10s', { name: 'shutdown' })
  shutdown(): { ok: true } {
    return { ok: true };
  }
}

@Controller('multi')
@RateLimit('5/60s', { name: 'controller', by: 'principal' })
class MultiController {
  @Get()
  @RateLimit('2/60s', { name: 'method', by: 'principal' })
  get(): { ok: true } {
    return { ok: true };
  }
}

@Controller('bad')
class UnknownPolicyController {
  @Get()
  @Public()
  @RateLimit('nosuch')
  get(): { ok: true } {
    return { ok: true };
  }
}

@Controller('bad')
class PrototypeNameController {
  @Get()
  @Public()
  @RateLimit('constructor')
  get(): { ok: true } {
    return { ok: true };
  }
}

@Controller('bad')
class CostlyNamedPolicyController {
  @Get()
  @Public()
  @RateLimit('export', { cost: 3 })
  get(): { ok: true } {
    return { ok: true };
  }
}

@Controller('bad')
class DuplicateNameController {
  @Get()
  @Public()
  @RateLimit('2/60s')
  @RateLimit('5/60s')
  get(): { ok: true } {
    return { ok: true };
  }
}

@Controller('bad')
class DuplicateNamedPolicyController {
  @Get()
  @Public()
  @RateLimit('export')
  @RateLimit('5/60s', { name: 'export' })
  get(): { ok: true } {
    return { ok: true };
  }
}

// Base and subclasses share the handler function: their plans must still be their own.
class BaseItemsController {
  @Get()
  @Public()
  list(): { ok: true } {
    return { ok: true };
  }
}

@Controller('items-one')
@RateLimit('1/60s', { name: 'items' })
class ItemsOneController extends BaseItemsController {}

@Controller('items-two')
@RateLimit('3/60s', { name: 'items' })
class ItemsTwoController extends BaseItemsController {}

@Module({})
class RateLimitFixtureModule {
  static register(options: SecurityModuleOptions, controllers: Type[]): DynamicModule {
    return { module: RateLimitFixtureModule, imports: [SecurityModule.forRoot(options)], controllers };
  }
}

const OPTIONS: SecurityModuleOptions = {
  rateLimit: { policies: { ip: '50/60s', principal: '20/60s', export: '2/60s' } },
};

const discard = () =>
  createSecurityLogger(
    new Writable({
      write(_chunk, _encoding, done) {
        done();
      },
    }),
  );

async function createApp(
  makeAdapter: () => AbstractHttpAdapter,
  clock: ManualClock,
  options: SecurityModuleOptions,
  controllers: Type[],
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({ imports: [RateLimitFixtureModule.register(options, controllers)] })
    .overrideProvider(Clock)
    .useValue(clock)
    .overrideProvider(SECURITY_AUTHENTICATORS)
    .useValue([new UserHeaderAuthenticator()])
    .overrideProvider(SECURITY_LOGGER)
    .useValue(discard())
    .compile();
  return moduleRef.createNestApplication(makeAdapter(), { logger: false });
}

async function listen(app: INestApplication): Promise<string> {
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  /** `RateLimit` per policy name. */
  state: Record<string, { r: number; t: number }>;
  /** `RateLimit-Policy` names in order. */
  policies: string[];
}

async function call(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${baseUrl}${path}`, { headers });
  const text = await response.text();
  const state: Answer['state'] = {};
  for (const item of (response.headers.get('ratelimit') ?? '').split(', ').filter(Boolean)) {
    const match = /^"([^"]+)";r=(\d+);t=(\d+)$/.exec(item);
    if (!match) throw new Error(`unexpected RateLimit item ${item}`);
    state[match[1]!] = { r: Number(match[2]), t: Number(match[3]) };
  }
  const policies = (response.headers.get('ratelimit-policy') ?? '')
    .split(', ')
    .filter(Boolean)
    .map((item) => /^"([^"]+)"/.exec(item)![1]!);
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {}, state, policies };
}

async function statuses(baseUrl: string, path: string, count: number, headers: Record<string, string> = {}) {
  const answers: Answer[] = [];
  for (let i = 0; i < count; i++) answers.push(await call(baseUrl, path, headers));
  return answers.map((answer) => answer.status);
}

async function rateLimitEvents(app: INestApplication): Promise<StoredAuditEvent[]> {
  expect(await app.get(SecurityEvents).flush(5_000)).toBe(true);
  return app.get(AuditEventStore).query({ type: 'RATE_LIMIT_EXCEEDED', limit: 1_000 });
}

let requestCounter = 0;
const nextRequestId = (label: string) => `rl-${label}-${process.pid}-${++requestCounter}`;

describe.each(ADAPTERS)('rate limiting on %s', (_adapterName, makeAdapter) => {
  describe('with rate limits configured', () => {
    const clock = new ManualClock(T0);
    let epoch = 0;
    // Each test starts at a fresh hour: every counter of the earlier tests (ip included) has expired.
    const freshWindow = () => clock.set(T0 + ++epoch * HOUR);
    let app: INestApplication;
    let baseUrl: string;

    beforeAll(async () => {
      app = await createApp(makeAdapter, clock, OPTIONS, [LimitsController, MultiController]);
      baseUrl = await listen(app);
    });

    afterAll(async () => {
      await app?.close();
    });

    it('slides the window: 3 allowed, then the previous window fades in proportion to the time passed', async () => {
      freshWindow();
      const first = [];
      for (let i = 0; i < 3; i++) first.push(await call(baseUrl, '/rl/sliding'));

      expect(first.map((answer) => answer.status)).toEqual([200, 200, 200]);
      expect(first.map((answer) => answer.state.route!.r)).toEqual([2, 1, 0]);
      expect(first[0]!.headers.get('ratelimit-policy')).toBe('"ip";q=50;w=60, "route";q=3;w=10');
      // Full at the start of a window: the estimate falls to 2 only 1/3 into the next window (10 s + 3.334 s).
      expect(first[2]!.state.route).toEqual({ r: 0, t: 14 });
      expect(first[2]!.headers.get('x-ratelimit-limit')).toBe('3');
      expect(first[2]!.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(first[2]!.headers.get('x-ratelimit-reset')).toBe('14');

      const refused = await call(baseUrl, '/rl/sliding');
      expect(refused.status).toBe(429);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
      expect(refused.headers.get('retry-after')).toBe('14');
      expect(refused.body).toMatchObject({ status: 429, retry_after: 14 });
      expect(refused.state.route).toEqual({ r: 0, t: 14 });

      // Exactly one window later the previous window still weighs 3 × (1 − 0/10) = 3: nothing more yet.
      clock.advance(10_000);
      const atOneWindow = await call(baseUrl, '/rl/sliding');
      expect(atOneWindow.status).toBe(429);
      // 3 × (1 − s/10 s) ≤ 2 once s ≥ 3.334 s.
      expect(atOneWindow.headers.get('retry-after')).toBe('4');
      expect(atOneWindow.state.route).toEqual({ r: 0, t: 4 });

      // 7 s into the next window: 3 × 0.3 = 0.9, so two more fit (0.9 + 2 ≤ 3), not a third.
      clock.advance(7_000);
      const partial = [];
      for (let i = 0; i < 3; i++) partial.push(await call(baseUrl, '/rl/sliding'));
      expect(partial.map((answer) => answer.status)).toEqual([200, 200, 429]);
      expect(partial[0]!.state.route).toEqual({ r: 1, t: 0 });
      // 0.9 + 2 = 2.9: back to ≤ 2 when the previous share has faded to 0 (3 s left in the window).
      expect(partial[1]!.state.route).toEqual({ r: 0, t: 3 });
      expect(partial[2]!.headers.get('retry-after')).toBe('3');
    });

    it('is fully available again once two windows have passed without requests', async () => {
      freshWindow();
      expect(await statuses(baseUrl, '/rl/sliding-reset', 4)).toEqual([200, 200, 200, 429]);

      clock.advance(20_000);
      const again = [];
      for (let i = 0; i < 3; i++) again.push(await call(baseUrl, '/rl/sliding-reset'));
      expect(again.map((answer) => answer.status)).toEqual([200, 200, 200]);
      expect(again.map((answer) => answer.state.route!.r)).toEqual([2, 1, 0]);
    });

    it('keeps refusing a blocked client after the window has passed, until the block ends', async () => {
      freshWindow();
      expect(await statuses(baseUrl, '/rl/block', 2)).toEqual([200, 200]);
      const refused = await call(baseUrl, '/rl/block');
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('60');

      clock.advance(30_000);
      const stillBlocked = await call(baseUrl, '/rl/block');
      expect(stillBlocked.status).toBe(429);
      // Retries do not extend the block.
      expect(stillBlocked.headers.get('retry-after')).toBe('30');
      expect(stillBlocked.state.route!.r).toBe(0);

      clock.advance(31_000);
      const free = await call(baseUrl, '/rl/block');
      expect(free.status).toBe(200);
      expect(free.state.route!.r).toBe(1);
    });

    it('charges the cost of a request: 10/60s at cost 4 allows 2, refuses the 3rd (2 left < 4)', async () => {
      freshWindow();
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await call(baseUrl, '/rl/cost'));

      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 429]);
      expect(answers.map((answer) => answer.state.route!.r)).toEqual([6, 2, 2]);
      // 8 in the window, 6 needed: 8 × (1 − s/60 s) ≤ 6 at s = 15 s into the next window.
      expect(answers[2]!.headers.get('retry-after')).toBe('75');
    });

    it('lists global and route policies in order, and a refusal consumes none of the same phase', async () => {
      freshWindow();
      const user = { 'x-user': 'carol' };
      const first = await call(baseUrl, '/multi', user);
      const second = await call(baseUrl, '/multi', user);
      const refused = await call(baseUrl, '/multi', user);

      expect([first.status, second.status, refused.status]).toEqual([200, 200, 429]);
      expect(first.headers.get('ratelimit-policy')).toBe(
        '"ip";q=50;w=60, "principal";q=20;w=60, "controller";q=5;w=60, "method";q=2;w=60',
      );
      expect(first.policies).toEqual(['ip', 'principal', 'controller', 'method']);
      expect(second.state).toMatchObject({
        ip: { r: 48 },
        principal: { r: 18 },
        controller: { r: 3 },
        method: { r: 0 },
      });
      expect(refused.policies).toEqual(['ip', 'principal', 'controller', 'method']);
      // The principal-phase policies that allowed are left as they were.
      expect(refused.state).toMatchObject({ principal: { r: 18 }, controller: { r: 3 }, method: { r: 0 } });
      // The IP policy is decided (and consumed) before authentication, in its own phase.
      expect(refused.state.ip!.r).toBe(47);

      const after = await call(baseUrl, '/multi', user);
      expect(after.status).toBe(429);
      expect(after.state).toMatchObject({ principal: { r: 18 }, controller: { r: 3 } });
    });

    it('refuses by an IP route policy without consuming the global IP policy or reaching authentication', async () => {
      freshWindow();
      const first = await call(baseUrl, '/rl/tight');
      const refused = await call(baseUrl, '/rl/tight');

      expect([first.status, refused.status]).toEqual([200, 429]);
      expect(first.state).toEqual({ ip: { r: 49, t: 0 }, tight: { r: 0, t: 120 } });
      expect(refused.state.ip).toEqual({ r: 49, t: 0 });
      expect(refused.policies).toEqual(['ip', 'tight']);
    });

    it('counts a tracker function per returned value and skips the policy when it returns undefined', async () => {
      freshWindow();
      expect(await statuses(baseUrl, '/rl/tenant', 3, { 'x-tenant': 'acme' })).toEqual([200, 200, 429]);
      const other = await call(baseUrl, '/rl/tenant', { 'x-tenant': 'globex' });
      expect(other.status).toBe(200);
      expect(other.state.tenant).toEqual({ r: 1, t: 0 });

      const untracked = [];
      for (let i = 0; i < 3; i++) untracked.push(await call(baseUrl, '/rl/tenant'));
      expect(untracked.map((answer) => answer.status)).toEqual([200, 200, 200]);
      expect(untracked[2]!.policies).toEqual(['ip']);
      expect(untracked[2]!.headers.get('ratelimit')).not.toContain('tenant');
    });

    it('counts by: principal per authenticated principal', async () => {
      freshWindow();
      expect(await statuses(baseUrl, '/rl/me', 3, { 'x-user': 'alice' })).toEqual([200, 200, 429]);
      const bob = await call(baseUrl, '/rl/me', { 'x-user': 'bob' });

      expect(bob.status).toBe(200);
      expect(bob.policies).toEqual(['ip', 'principal', 'per-user']);
      expect(bob.state).toMatchObject({ principal: { r: 19 }, 'per-user': { r: 1 } });
    });

    it('shares a configured policy across the routes naming it; an inline limit counts per route', async () => {
      freshWindow();
      const a = await call(baseUrl, '/rl/export-a');
      const b = await call(baseUrl, '/rl/export-b');
      const third = await call(baseUrl, '/rl/export-a');
      expect([a.status, b.status, third.status]).toEqual([200, 200, 429]);
      expect(a.headers.get('ratelimit-policy')).toBe('"ip";q=50;w=60, "export";q=2;w=60');
      expect(b.state.export!.r).toBe(0);
      expect(await call(baseUrl, '/rl/export-b').then((answer) => answer.status)).toBe(429);

      // Shown under another name, still the same budget.
      freshWindow();
      expect((await call(baseUrl, '/rl/export-a')).state.export!.r).toBe(1);
      const renamed = await call(baseUrl, '/rl/export-c');
      expect(renamed.status).toBe(200);
      expect(renamed.headers.get('ratelimit-policy')).toBe('"ip";q=50;w=60, "export-csv";q=2;w=60');
      expect(renamed.state['export-csv']!.r).toBe(0);
      expect(await statuses(baseUrl, '/rl/export-b', 1)).toEqual([429]);

      expect(await statuses(baseUrl, '/rl/inline-a', 2)).toEqual([200, 200]);
      expect(await statuses(baseUrl, '/rl/inline-b', 2)).toEqual([200, 200]);
      expect(await statuses(baseUrl, '/rl/inline-a', 1)).toEqual([429]);
    });

    it('leaves out the global policies a route skips', async () => {
      freshWindow();
      const health = await call(baseUrl, '/rl/health');
      expect(health.status).toBe(200);
      expect(health.headers.get('ratelimit-policy')).toBe('"health";q=5;w=60');
      expect(health.state).toEqual({ health: { r: 4, t: 0 } });

      const bare = await call(baseUrl, '/rl/bare');
      expect(bare.status).toBe(200);
      expect(bare.headers.get('ratelimit-policy')).toBeNull();
      expect(bare.headers.get('ratelimit')).toBeNull();
      expect(bare.headers.get('x-ratelimit-limit')).toBeNull();
    });

    it('reports the first refusal of a counter at once and the repeated ones in one summary after the window', async () => {
      freshWindow();
      expect((await call(baseUrl, '/rl/events')).status).toBe(200);
      const refusedIds: string[] = [];
      for (let i = 0; i < 4; i++) {
        const requestId = nextRequestId('events');
        refusedIds.push(requestId);
        expect((await call(baseUrl, '/rl/events', { 'x-request-id': requestId })).status).toBe(429);
      }
      const ofPolicy = (events: StoredAuditEvent[]) => events.filter((event) => event.details.policy === 'events');

      const immediate = ofPolicy(await rateLimitEvents(app));
      expect(immediate).toHaveLength(1);
      expect(immediate[0]).toMatchObject({
        type: 'RATE_LIMIT_EXCEEDED',
        outcome: 'denied',
        status: 429,
        requestId: refusedIds[0],
        path: '/rl/events',
        details: {
          code: 'ERR_SECURITY_RATE_LIMITED',
          policy: 'events',
          limit: 1,
          windowSeconds: 10,
          retryAfterSeconds: 20,
        },
      });
      const counter = immediate[0]!.details.counter as string;
      expect(counter).toMatch(/^route:LimitsController\.events:events:ip:(::ffff:)?127\.0\.0\.1$/);
      expect(immediate[0]!.details.summary).toBeUndefined();
      // No event of the problem filter for any of the 429s.
      const all = await app.get(AuditEventStore).recent(1_000);
      expect(all.filter((event) => refusedIds.includes(event.requestId ?? ''))).toHaveLength(1);

      // The summary is written by the once-a-second timer, once the window has passed on the clock.
      clock.advance(10_000);
      let summaries: StoredAuditEvent[] = [];
      await vi.waitFor(
        async () => {
          summaries = ofPolicy(await rateLimitEvents(app)).filter((event) => event.details.summary === true);
          expect(summaries).toHaveLength(1);
        },
        { timeout: 3_000, interval: 100 },
      );
      expect(summaries[0]).toMatchObject({
        type: 'RATE_LIMIT_EXCEEDED',
        outcome: 'denied',
        details: { summary: true, policy: 'events', counter, limit: 1, refused: 3 },
      });
      expect(ofPolicy(await rateLimitEvents(app))).toHaveLength(2);
    });

    it('does not rate limit non-HTTP contexts', async () => {
      const rateLimits = app.get(RateLimits);
      const consume = vi.spyOn(app.get(RateLimitStore), 'consume');
      const context = {
        getType: () => 'rpc',
        getHandler: () => Object.getOwnPropertyDescriptor(LimitsController.prototype, 'tight')!.value as object,
        getClass: () => LimitsController,
        switchToHttp: () => {
          throw new Error('not an HTTP context');
        },
      } as unknown as ExecutionContext;
      try {
        // Nothing to wait for: no promise at all, so the guard goes on in the same turn.
        expect(rateLimits.beforeAuthentication(context)).toBeUndefined();
        expect(rateLimits.afterAuthentication(context)).toBeUndefined();
        expect(consume).not.toHaveBeenCalled();
      } finally {
        consume.mockRestore();
      }
    });
  });

  describe('at shutdown', () => {
    it('writes the pending summaries to the audit trail', async () => {
      const clock = new ManualClock(T0);
      const app = await createApp(makeAdapter, clock, OPTIONS, [LimitsController]);
      const baseUrl = await listen(app);
      const store = app.get(AuditEventStore);
      expect(await statuses(baseUrl, '/rl/shutdown', 4)).toEqual([200, 429, 429, 429]);

      await app.close();

      const events = (await store.query({ type: 'RATE_LIMIT_EXCEEDED', limit: 100 })).filter(
        (event) => event.details.policy === 'shutdown',
      );
      expect(events).toHaveLength(2);
      expect(events.find((event) => event.details.summary === true)?.details).toMatchObject({ refused: 2 });
    });
  });

  describe('with inherited handlers', () => {
    it('plans each controller with its own class-level policies', async () => {
      const clock = new ManualClock(T0);
      const app = await createApp(makeAdapter, clock, OPTIONS, [ItemsOneController, ItemsTwoController]);
      try {
        const baseUrl = await listen(app);
        const one = await call(baseUrl, '/items-one');
        const two = await call(baseUrl, '/items-two');

        expect(one.headers.get('ratelimit-policy')).toBe('"ip";q=50;w=60, "items";q=1;w=60');
        expect(two.headers.get('ratelimit-policy')).toBe('"ip";q=50;w=60, "items";q=3;w=60');
        expect(await statuses(baseUrl, '/items-one', 1)).toEqual([429]);
        expect(await statuses(baseUrl, '/items-two', 2)).toEqual([200, 200]);
      } finally {
        await app.close();
      }
    });
  });

  describe('with rateLimit: false', () => {
    let app: INestApplication;
    let baseUrl: string;

    beforeAll(async () => {
      app = await createApp(makeAdapter, new ManualClock(T0), { rateLimit: false }, [LimitsController]);
      baseUrl = await listen(app);
    });

    afterAll(async () => {
      await app?.close();
    });

    it('boots despite route policies naming unconfigured policies and sends no rate-limit headers', async () => {
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await call(baseUrl, '/rl/tight'));
      answers.push(await call(baseUrl, '/rl/export-a'));
      answers.push(await call(baseUrl, '/rl/me', { 'x-user': 'alice' }));

      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
      for (const answer of answers) {
        expect(answer.headers.get('ratelimit-policy')).toBeNull();
        expect(answer.headers.get('ratelimit')).toBeNull();
        expect(answer.headers.get('x-ratelimit-limit')).toBeNull();
      }
    });
  });

  describe('at boot', () => {
    const bootFailure = async (controller: Type): Promise<unknown> => {
      const app = await createApp(makeAdapter, new ManualClock(T0), OPTIONS, [controller]);
      try {
        await app.init();
        return undefined;
      } catch (error) {
        return error;
      } finally {
        await app.close().catch(() => undefined);
      }
    };

    it('rejects a @RateLimit() naming an unknown policy', async () => {
      const error = await bootFailure(UnknownPolicyController);

      expect(error).toBeInstanceOf(SecurityConfigError);
      expect(error).toMatchObject({ code: 'ERR_SECURITY_CONFIG_UNKNOWN_RATE_LIMIT_POLICY' });
      expect((error as Error).message).toContain('UnknownPolicyController.get');
    });

    it('does not take a name inherited from Object.prototype for a configured policy', async () => {
      const error = await bootFailure(PrototypeNameController);

      expect(error).toBeInstanceOf(SecurityConfigError);
      expect(error).toMatchObject({ code: 'ERR_SECURITY_CONFIG_UNKNOWN_RATE_LIMIT_POLICY' });
    });

    it('rejects a cost above the limit of the configured policy it names', async () => {
      const error = await bootFailure(CostlyNamedPolicyController);

      expect(error).toBeInstanceOf(SecurityConfigError);
      expect(error).toMatchObject({ code: 'ERR_SECURITY_CONFIG_INVALID_RATE_LIMIT' });
      expect((error as Error).message).toContain('cost 3 is above the limit 2');
    });

    it('rejects two policies of one route with the same name', async () => {
      for (const controller of [DuplicateNameController, DuplicateNamedPolicyController]) {
        const error = await bootFailure(controller);

        expect(error).toBeInstanceOf(SecurityConfigError);
        expect(error).toMatchObject({ code: 'ERR_SECURITY_CONFIG_DUPLICATE_RATE_LIMIT_POLICY' });
      }
    });
  });
});
