import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  Controller,
  Get,
  Module,
  Param,
  Version,
  VERSION_NEUTRAL,
  VersioningType,
  type DynamicModule,
  type INestApplication,
  type Type,
  type VersioningOptions,
} from '@nestjs/common';
import { NestFactory, type AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecurityLogger } from '../../src/audit/security-logger.js';
import { Clock, ManualClock } from '../../src/core/clock.js';
import { InvalidCredentialsError, SecurityConfigError } from '../../src/core/errors.js';
import type { HttpRequestLike } from '../../src/http/http-request.js';
import { ApiKeyAuthenticator } from '../../src/keys/api-key.authenticator.js';
import { ApiKeys } from '../../src/keys/api-keys.service.js';
import type { SecurityModuleOptions } from '../../src/options/security-options.js';
import { Authenticator } from '../../src/principals/authenticator.js';
import type { Principal } from '../../src/principals/principal.js';
import { PrincipalStore } from '../../src/principals/principal.store.js';
import { Principals } from '../../src/principals/principals.service.js';
import { Public } from '../../src/principals/public.decorator.js';
import { SecurityModule } from '../../src/security.module.js';
import { SECURITY_AUTHENTICATORS, SECURITY_LOGGER } from '../../src/security.constants.js';
import type { DeprecationSpec } from '../../src/versioning/core/deprecation.js';
import { Deprecated } from '../../src/versioning/deprecated.decorator.js';
import { DeprecationUsage } from '../../src/versioning/deprecation-usage.service.js';
import { PRESET, securityHeadersOf } from '../support/security-headers.js';

const ADAPTERS: ReadonlyArray<[string, () => AbstractHttpAdapter]> = [
  ['express', () => new ExpressAdapter()],
  ['fastify', () => new FastifyAdapter()],
];

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2030, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString();

/** A lifecycle in epoch ms, turned into a `DeprecationSpec` for the decorator and the options. */
interface Timeline {
  readonly deprecatedAt: number;
  readonly sunsetAt: number;
  readonly link: string;
  readonly successor?: string;
  readonly warningFrom?: number;
  readonly closedToNewClientsAt?: number;
}

const specOf = (timeline: Timeline): DeprecationSpec => ({
  deprecatedAt: iso(timeline.deprecatedAt),
  sunsetAt: iso(timeline.sunsetAt),
  link: timeline.link,
  ...(timeline.successor === undefined ? {} : { successor: timeline.successor }),
  ...(timeline.warningFrom === undefined ? {} : { warningFrom: iso(timeline.warningFrom) }),
  ...(timeline.closedToNewClientsAt === undefined ? {} : { closedToNewClientsAt: iso(timeline.closedToNewClientsAt) }),
});

/** A route's own lifecycle: deprecated from T0, Warning from T0+10d, gone at T0+100d. */
const ROUTE: Timeline = {
  deprecatedAt: T0,
  warningFrom: T0 + 10 * DAY,
  sunsetAt: T0 + 100 * DAY,
  link: 'https://docs.example.com/route-guide',
  successor: '/v2/route',
};
/** A controller's lifecycle, gone long before ROUTE; a path link and no successor. */
const CONTROLLER: Timeline = { deprecatedAt: T0 - 20 * DAY, sunsetAt: T0 + 5 * DAY, link: '/docs/whole' };
/** `deprecations.versions['1']`: gone at T0+3d. */
const V1: Timeline = {
  deprecatedAt: T0 - 30 * DAY,
  sunsetAt: T0 + 3 * DAY,
  link: 'https://docs.example.com/v1',
  successor: '/v2/things',
};
/** `deprecations.versions['2']` (header versioning only): announced until T0+50d. */
const V2: Timeline = {
  deprecatedAt: T0 + 50 * DAY,
  sunsetAt: T0 + 200 * DAY,
  link: 'https://docs.example.com/v2',
  successor: '/v3/things',
};
/** Closed to new clients from T0+10d, gone at T0+20d. */
const CLOSING: Timeline = {
  deprecatedAt: T0,
  closedToNewClientsAt: T0 + 10 * DAY,
  sunsetAt: T0 + 20 * DAY,
  link: 'https://docs.example.com/closing',
  successor: '/v2/closing',
};

/** One instant in each stretch of the timelines above. */
const EARLY = T0 + HOUR; // ROUTE, CONTROLLER, V1, CLOSING deprecated; V2 announced
const MID = T0 + 11 * DAY; // ROUTE warning; CONTROLLER, V1 gone; CLOSING closed; V2 announced
const LATE = T0 + 150 * DAY; // everything gone but V2 (deprecated)

// Written out by hand (not with the library's formatters), so a formatting bug cannot hide here.
function lifecycleHeaders(timeline: Timeline, warning: string | null = null) {
  const links = [
    `<${timeline.link}>; rel="deprecation"; type="text/html"`,
    `<${timeline.link}>; rel="sunset"; type="text/html"`,
    ...(timeline.successor ? [`<${timeline.successor}>; rel="successor-version"`] : []),
  ];
  return {
    deprecation: `@${timeline.deprecatedAt / 1000}`,
    sunset: new Date(timeline.sunsetAt).toUTCString(),
    link: links.join(', '),
    warning,
  };
}
const NO_LIFECYCLE = { deprecation: null, sunset: null, link: null, warning: null };
const ROUTE_WARNING =
  `299 - "This API is deprecated and will be removed on ${new Date(ROUTE.sunsetAt).toUTCString()}; ` +
  `use /v2/route; see https://docs.example.com/route-guide"`;

const lifecycleHeadersOf = (response: Response) => ({
  deprecation: response.headers.get('deprecation'),
  sunset: response.headers.get('sunset'),
  link: response.headers.get('link'),
  warning: response.headers.get('warning'),
});

// ---------------------------------------------------------------------------------------------------------
// Routes

@Controller('single')
class SingleRouteController {
  @Get('old')
  @Deprecated(specOf(ROUTE))
  old(): { route: string } {
    return { route: 'old' };
  }

  @Get('new')
  fresh(): { route: string } {
    return { route: 'new' };
  }
}

@Controller('whole')
@Deprecated(specOf(CONTROLLER))
class WholeController {
  @Get('a')
  a(): { route: string } {
    return { route: 'a' };
  }

  @Get('b')
  b(): { route: string } {
    return { route: 'b' };
  }

  @Get('own')
  @Deprecated(specOf(ROUTE))
  own(): { route: string } {
    return { route: 'own' };
  }
}

/** One handler serving versions 1 and 2 (URI versioning: /v1/things and /v2/things). */
@Controller('things')
class ThingsController {
  @Get()
  @Version(['1', '2'])
  list(): { route: string } {
    return { route: 'things' };
  }

  @Get('special')
  @Version(['1', '2'])
  @Deprecated(specOf(ROUTE))
  special(): { route: string } {
    return { route: 'special' };
  }

  @Get(':id')
  @Version(['1', '2'])
  one(@Param('id') id: string): { route: string; id: string } {
    return { route: 'thing', id };
  }
}

@Controller('pub')
class PublicController {
  @Get('old')
  @Public()
  @Deprecated(specOf(CLOSING))
  old(): { route: string } {
    return { route: 'public' };
  }
}

@Controller('closing')
class ClosingController {
  @Get()
  @Deprecated(specOf(CLOSING))
  get(): { route: string } {
    return { route: 'closing' };
  }
}

/** One handler serving versions 1, 2 and 3 (header versioning: `X-API-Version`). */
@Controller('hv')
class HeaderVersionedController {
  @Get()
  @Version(['1', '2', '3'])
  list(): { route: string } {
    return { route: 'hv' };
  }

  @Get('special')
  @Version(['1', '2', '3'])
  @Deprecated(specOf(ROUTE))
  special(): { route: string } {
    return { route: 'hv-special' };
  }
}

const URI_CONTROLLERS = [SingleRouteController, WholeController, ThingsController, PublicController, ClosingController];

// ---------------------------------------------------------------------------------------------------------
// App

const STUB_HEADER = 'x-stub-principal';
const STUB_PRINCIPAL_ID = '00000000-0000-4000-8000-00000000de01';

/**
 * A principal whose creation time the test chooses, which no API key can give: `unknown` has no
 * `createdAt`, `old` was created before CLOSING closes, `at-close` exactly when it closes.
 */
class StubPrincipalAuthenticator extends Authenticator {
  readonly name = 'stub';
  readonly challenge = 'Stub realm="test"';

  present(request: HttpRequestLike): boolean {
    return request.headers[STUB_HEADER] !== undefined;
  }

  async authenticate(request: HttpRequestLike): Promise<Principal> {
    const value = request.headers[STUB_HEADER];
    const createdAt =
      value === 'unknown'
        ? undefined
        : value === 'old'
          ? new Date(CLOSING.closedToNewClientsAt! - 30 * DAY)
          : value === 'at-close'
            ? new Date(CLOSING.closedToNewClientsAt!)
            : null;
    if (createdAt === null) throw new InvalidCredentialsError('unknown');
    return {
      id: STUB_PRINCIPAL_ID,
      kind: 'service',
      roles: [],
      permissions: [],
      attributes: {},
      authMethod: 'test',
      keyId: `stub-${String(value)}`,
      ...(createdAt ? { createdAt } : {}),
    };
  }
}

@Module({})
class DeprecationFixtureModule {
  static register(options: SecurityModuleOptions, controllers: Type[]): DynamicModule {
    return {
      module: DeprecationFixtureModule,
      imports: [
        SecurityModule.forRoot({
          environment: 'test',
          rateLimit: false,
          anomalies: false,
          audit: { log: false },
          ...options,
        }),
      ],
      controllers,
    };
  }
}

const discard = () =>
  createSecurityLogger(
    new Writable({
      write(_chunk, _encoding, done) {
        done();
      },
    }),
  );

interface Running {
  readonly app: INestApplication;
  readonly baseUrl: string;
}

async function start(
  makeAdapter: () => AbstractHttpAdapter,
  clock: ManualClock,
  options: SecurityModuleOptions,
  controllers: Type[],
  versioning: VersioningOptions,
): Promise<Running> {
  const moduleRef = await Test.createTestingModule({
    imports: [DeprecationFixtureModule.register(options, controllers)],
  })
    .overrideProvider(Clock)
    .useValue(clock)
    // API keys as the module makes them, plus the stub for principals of a chosen (or no) creation time.
    .overrideProvider(SECURITY_AUTHENTICATORS)
    .useFactory({
      factory: (apiKeys: ApiKeyAuthenticator) => [apiKeys, new StubPrincipalAuthenticator()],
      inject: [ApiKeyAuthenticator],
    })
    .overrideProvider(SECURITY_LOGGER)
    .useValue(discard())
    .compile();
  const app = moduleRef.createNestApplication(makeAdapter(), { logger: false });
  app.enableVersioning(versioning);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, baseUrl: `http://127.0.0.1:${port}` };
}

const URI_VERSIONING: VersioningOptions = { type: VersioningType.URI, defaultVersion: VERSION_NEUTRAL };
const HEADER_VERSIONING: VersioningOptions = { type: VersioningType.HEADER, header: 'X-API-Version' };

interface Identity {
  readonly id: string;
  readonly key: string;
  readonly keyId: string;
}

const actor = { label: 'test:setup' };

/**
 * A principal with one API key, made through the library's services. With `createdAt`, the principal
 * is written through the `PrincipalStore` port with that creation time (the e2e suite backdates
 * `principals.created_at` in SQL; the memory store takes it on create).
 */
async function identity(app: INestApplication, createdAt?: Date): Promise<Identity> {
  const username = `dep-${randomBytes(6).toString('hex')}`;
  const id = createdAt
    ? (await app.get(PrincipalStore).create({ kind: 'service', username, createdAt })).id
    : (await app.get(Principals).create({ username, kind: 'service' }, actor)).id;
  const issued = await app.get(ApiKeys).create({ name: 'deprecation test', ownerId: id }, actor);
  return { id, key: issued.key, keyId: issued.id };
}

let requestCounter = 0;
const nextRequestId = (label: string) => `dep-${label}-${process.pid}-${++requestCounter}`;

// Bodies are checked field by field.
const jsonOf = async (response: Response): Promise<Record<string, unknown>> =>
  (await response.json()) as Record<string, unknown>;

async function routeOf(app: INestApplication, path: string, version: string | null = null) {
  const report = await app.get(DeprecationUsage).report();
  return report.routes.find((route) => route.path === path && route.version === version);
}

// ---------------------------------------------------------------------------------------------------------

describe.each(ADAPTERS)('DeprecationGuard on %s', (_adapterName, makeAdapter) => {
  describe('with URI versioning and deprecations.versions { 1 }', () => {
    const clock = new ManualClock(EARLY);
    let running: Running;
    let caller: Identity;
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${running.baseUrl}${path}`, { headers: { 'x-api-key': caller.key, ...headers } });
    const anonymous = (path: string) => fetch(`${running.baseUrl}${path}`);

    beforeAll(async () => {
      running = await start(
        makeAdapter,
        clock,
        { deprecations: { versions: { '1': specOf(V1) } } },
        URI_CONTROLLERS,
        URI_VERSIONING,
      );
      caller = await identity(running.app);
    });

    afterAll(async () => {
      await running?.app.close();
    });

    it('@Deprecated on one route: its headers on that route only, not on a sibling of the same controller', async () => {
      clock.set(EARLY);
      const old = await get('/single/old');
      const sibling = await get('/single/new');

      expect(old.status).toBe(200);
      expect(await jsonOf(old)).toEqual({ route: 'old' });
      expect(lifecycleHeadersOf(old)).toEqual(lifecycleHeaders(ROUTE));
      expect(sibling.status).toBe(200);
      expect(lifecycleHeadersOf(sibling)).toEqual(NO_LIFECYCLE);

      // From warningFrom on, Warning: 299 too; the sibling still carries nothing.
      clock.set(MID);
      const warned = await get('/single/old');
      const siblingLater = await get('/single/new');
      expect(warned.status).toBe(200);
      expect(lifecycleHeadersOf(warned)).toEqual(lifecycleHeaders(ROUTE, ROUTE_WARNING));
      expect(lifecycleHeadersOf(siblingLater)).toEqual(NO_LIFECYCLE);

      // After the route's sunset: 410, the sibling unaffected.
      clock.set(LATE);
      expect((await get('/single/old')).status).toBe(410);
      expect((await get('/single/new')).status).toBe(200);
    });

    it("@Deprecated on a controller covers all its routes; a route's own @Deprecated wins over it", async () => {
      clock.set(EARLY);
      const a = await get('/whole/a');
      const b = await get('/whole/b');
      const own = await get('/whole/own');

      expect([a.status, b.status, own.status]).toEqual([200, 200, 200]);
      expect(lifecycleHeadersOf(a)).toEqual(lifecycleHeaders(CONTROLLER));
      expect(lifecycleHeadersOf(b)).toEqual(lifecycleHeaders(CONTROLLER));
      expect(lifecycleHeadersOf(own)).toEqual(lifecycleHeaders(ROUTE));

      // Past the controller's sunset: its routes are gone, the route with its own lifecycle is not.
      clock.set(MID);
      const goneA = await get('/whole/a');
      const goneB = await get('/whole/b');
      const ownLater = await get('/whole/own');
      expect([goneA.status, goneB.status, ownLater.status]).toEqual([410, 410, 200]);
      expect(lifecycleHeadersOf(goneA)).toEqual(lifecycleHeaders(CONTROLLER));
      expect(lifecycleHeadersOf(ownLater)).toEqual(lifecycleHeaders(ROUTE, ROUTE_WARNING));
    });

    it('deprecations.versions: a handler serving 1 and 2 is deprecated as /v1/… only; @Deprecated wins over the map', async () => {
      clock.set(EARLY);
      const v1 = await get('/v1/things');
      const v2 = await get('/v2/things');
      const v1Special = await get('/v1/things/special');
      const v2Special = await get('/v2/things/special');

      expect([v1.status, v2.status, v1Special.status, v2Special.status]).toEqual([200, 200, 200, 200]);
      expect(await jsonOf(v1)).toEqual({ route: 'things' });
      expect(await jsonOf(v2)).toEqual({ route: 'things' });
      expect(lifecycleHeadersOf(v1)).toEqual(lifecycleHeaders(V1));
      expect(lifecycleHeadersOf(v2)).toEqual(NO_LIFECYCLE);
      expect(lifecycleHeadersOf(v1Special)).toEqual(lifecycleHeaders(ROUTE));
      expect(lifecycleHeadersOf(v2Special)).toEqual(lifecycleHeaders(ROUTE));
      // Unversioned routes are not touched by the map.
      expect(lifecycleHeadersOf(await get('/single/new'))).toEqual(NO_LIFECYCLE);

      // v1 past its sunset: /v1/things is gone, /v2/things and the route with its own lifecycle answer.
      clock.set(MID);
      const goneV1 = await get('/v1/things');
      const stillV2 = await get('/v2/things');
      const specialV1 = await get('/v1/things/special');
      expect([goneV1.status, stillV2.status, specialV1.status]).toEqual([410, 200, 200]);
      expect(lifecycleHeadersOf(goneV1)).toEqual(lifecycleHeaders(V1));
      expect(lifecycleHeadersOf(stillV2)).toEqual(NO_LIFECYCLE);
      expect(lifecycleHeadersOf(specialV1)).toEqual(lifecycleHeaders(ROUTE, ROUTE_WARNING));

      // Counted under the version the request was routed by; v2 never.
      const counted = await routeOf(running.app, '/v1/things', '1');
      expect(counted?.callers).toEqual([
        expect.objectContaining({
          principalId: caller.id,
          keyId: caller.keyId,
          count: 2,
          refused: 1,
          lastPhase: 'gone',
        }),
      ]);
      const report = await running.app.get(DeprecationUsage).report();
      expect(report.routes.filter((route) => route.path === '/v2/things')).toEqual([]);
      // The route's own lifecycle is counted under the version it was called with.
      expect(await routeOf(running.app, '/v2/things/special', '2')).toMatchObject({
        callers: [{ principalId: caller.id, count: 1, refused: 0, lastPhase: 'deprecated' }],
      });
    });

    // The version is read from the matched route template, never from a path parameter that looks like one.
    it('URI versioning: judges a call by its version prefix, not by a path parameter that looks like one', async () => {
      clock.set(MID);
      const v2 = await get('/v2/things/v1');
      const v1 = await get('/v1/things/v2');

      expect(v1.status).toBe(410);
      expect(lifecycleHeadersOf(v1)).toEqual(lifecycleHeaders(V1));
      expect(v2.status).toBe(200);
      expect(await jsonOf(v2)).toEqual({ route: 'thing', id: 'v1' });
      expect(lifecycleHeadersOf(v2)).toEqual(NO_LIFECYCLE);
    });

    it('@Public() deprecated route: 200 with headers for anonymous callers, not refused when closed, 410 after the sunset; counted with principalId null', async () => {
      clock.set(EARLY);
      const deprecated = await anonymous('/pub/old');
      clock.set(MID);
      const closed = await anonymous('/pub/old');
      clock.set(LATE);
      const gone = await anonymous('/pub/old');

      expect([deprecated.status, closed.status, gone.status]).toEqual([200, 200, 410]);
      expect(await jsonOf(closed)).toEqual({ route: 'public' });
      for (const response of [deprecated, closed, gone]) {
        expect(lifecycleHeadersOf(response)).toEqual(lifecycleHeaders(CLOSING));
      }
      expect(await jsonOf(gone)).toMatchObject({
        status: 410,
        type: 'urn:problem-type:gone',
        successor: '/v2/closing',
      });

      const counted = await routeOf(running.app, '/pub/old');
      expect(counted).toEqual({
        version: null,
        method: 'GET',
        path: '/pub/old',
        callers: [
          {
            principalId: null,
            keyId: null,
            count: 3,
            refused: 1,
            firstSeenAt: iso(EARLY),
            lastSeenAt: iso(LATE),
            lastPhase: 'gone',
          },
        ],
      });
    });

    it('closed to new clients: fails closed on a principal without createdAt (403), judges the others by createdAt', async () => {
      const existing = await identity(running.app, new Date(CLOSING.closedToNewClientsAt! - 30 * DAY));
      const newcomer = await identity(running.app, new Date(CLOSING.closedToNewClientsAt! + HOUR));
      clock.set(MID);
      const stub = (value: string) => fetch(`${running.baseUrl}/closing`, { headers: { [STUB_HEADER]: value } });
      const byKey = (who: Identity) => fetch(`${running.baseUrl}/closing`, { headers: { 'x-api-key': who.key } });

      const unknown = await stub('unknown');
      const atClose = await stub('at-close');
      const old = await stub('old');
      const oldByKey = await byKey(existing);
      const newByKey = await byKey(newcomer);

      expect([unknown.status, atClose.status, old.status, oldByKey.status, newByKey.status]).toEqual([
        403, 403, 200, 200, 403,
      ]);
      const body = await jsonOf(unknown);
      expect(body).toMatchObject({
        type: 'urn:problem-type:deprecated-closed',
        status: 403,
        successor: '/v2/closing',
      });
      expect(lifecycleHeadersOf(unknown)).toEqual(lifecycleHeaders(CLOSING));
      expect(await jsonOf(old)).toEqual({ route: 'closing' });

      const counted = await routeOf(running.app, '/closing');
      expect(counted?.callers).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ principalId: STUB_PRINCIPAL_ID, keyId: 'stub-unknown', count: 1, refused: 1 }),
          expect.objectContaining({ principalId: STUB_PRINCIPAL_ID, keyId: 'stub-old', count: 1, refused: 0 }),
          expect.objectContaining({ principalId: existing.id, keyId: existing.keyId, count: 1, refused: 0 }),
          expect.objectContaining({ principalId: newcomer.id, keyId: newcomer.keyId, count: 1, refused: 1 }),
        ]),
      );
    });

    it('problems: 410 names the successor only when the lifecycle has one; 403/410 keep the security headers and X-Request-Id', async () => {
      clock.set(MID);
      const ids = { noSuccessor: nextRequestId('gone'), successor: nextRequestId('gone-v1') };
      const closedId = nextRequestId('closed');
      const noSuccessor = await get('/whole/a', { 'x-request-id': ids.noSuccessor });
      const withSuccessor = await get('/v1/things', { 'x-request-id': ids.successor });
      const closed = await fetch(`${running.baseUrl}/closing`, {
        headers: { [STUB_HEADER]: 'unknown', 'x-request-id': closedId },
      });

      expect(await jsonOf(noSuccessor)).toEqual({
        type: 'urn:problem-type:gone',
        title: 'Gone',
        status: 410,
        detail: 'This API has been retired; use its successor.',
        instance: '/whole/a',
        request_id: ids.noSuccessor,
      });
      expect(await jsonOf(withSuccessor)).toEqual({
        type: 'urn:problem-type:gone',
        title: 'Gone',
        status: 410,
        detail: 'This API has been retired; use its successor.',
        instance: '/v1/things',
        request_id: ids.successor,
        successor: '/v2/things',
      });
      expect(await jsonOf(closed)).toEqual({
        type: 'urn:problem-type:deprecated-closed',
        title: 'Forbidden',
        status: 403,
        detail: 'This deprecated API no longer accepts new clients; use its successor.',
        instance: '/closing',
        request_id: closedId,
        successor: '/v2/closing',
      });

      for (const [response, requestId, status] of [
        [noSuccessor, ids.noSuccessor, 410],
        [withSuccessor, ids.successor, 410],
        [closed, closedId, 403],
      ] as const) {
        expect(response.status).toBe(status);
        expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
        expect(response.headers.get('x-request-id')).toBe(requestId);
        expect(securityHeadersOf(response)).toEqual(PRESET);
        // After the sunset (no brownout) there is nothing to wait for.
        expect(response.headers.get('retry-after')).toBeNull();
      }
      expect(lifecycleHeadersOf(noSuccessor)).toEqual(lifecycleHeaders(CONTROLLER));
      expect(lifecycleHeadersOf(withSuccessor)).toEqual(lifecycleHeaders(V1));
    });
  });

  describe('with header versioning (X-API-Version) and deprecations.versions { 1, 2 }', () => {
    const clock = new ManualClock(EARLY);
    let running: Running;
    let caller: Identity;
    const get = (path: string, version: string) =>
      fetch(`${running.baseUrl}${path}`, { headers: { 'x-api-key': caller.key, 'X-API-Version': version } });

    beforeAll(async () => {
      running = await start(
        makeAdapter,
        clock,
        { deprecations: { versions: { '1': specOf(V1), '2': specOf(V2) } } },
        [HeaderVersionedController],
        HEADER_VERSIONING,
      );
      caller = await identity(running.app);
    });

    afterAll(async () => {
      await running?.app.close();
    });

    it('applies the lifecycle of the version named in the header', async () => {
      clock.set(EARLY);
      const v1 = await get('/hv', '1');
      const v2 = await get('/hv', '2');
      const v3 = await get('/hv', '3');

      expect([v1.status, v2.status, v3.status]).toEqual([200, 200, 200]);
      expect(await jsonOf(v3)).toEqual({ route: 'hv' });
      expect(lifecycleHeadersOf(v1)).toEqual(lifecycleHeaders(V1));
      // Announced: the Deprecation date lies ahead.
      expect(lifecycleHeadersOf(v2)).toEqual(lifecycleHeaders(V2));
      expect(lifecycleHeadersOf(v3)).toEqual(NO_LIFECYCLE);

      clock.set(MID);
      const goneV1 = await get('/hv', '1');
      const stillV2 = await get('/hv', '2');
      const stillV3 = await get('/hv', '3');
      expect([goneV1.status, stillV2.status, stillV3.status]).toEqual([410, 200, 200]);
      expect(await jsonOf(goneV1)).toMatchObject({ status: 410, successor: '/v2/things' });
      expect(lifecycleHeadersOf(stillV2)).toEqual(lifecycleHeaders(V2));

      // The route's own lifecycle, whatever the header says.
      for (const version of ['1', '2', '3']) {
        const special = await get('/hv/special', version);
        expect(special.status).toBe(200);
        expect(lifecycleHeadersOf(special)).toEqual(lifecycleHeaders(ROUTE, ROUTE_WARNING));
      }

      // v1 counted under its version; v2 only announced, so not counted.
      const report = await running.app.get(DeprecationUsage).report();
      const ofHv = report.routes.filter((route) => route.path === '/hv');
      expect(ofHv).toHaveLength(1);
      expect(ofHv[0]).toMatchObject({ version: '1', method: 'GET' });
      expect(ofHv[0]!.callers).toEqual([
        expect.objectContaining({
          principalId: caller.id,
          keyId: caller.keyId,
          count: 2,
          refused: 1,
          lastPhase: 'gone',
        }),
      ]);
    });
  });

  describe('with deprecations: false', () => {
    const clock = new ManualClock(LATE);
    let running: Running;
    let caller: Identity;

    beforeAll(async () => {
      running = await start(makeAdapter, clock, { deprecations: false }, URI_CONTROLLERS, URI_VERSIONING);
      caller = await identity(running.app);
    });

    afterAll(async () => {
      await running?.app.close();
    });

    it('answers @Deprecated routes with 200 and no lifecycle headers, even after the sunset, and counts nothing', async () => {
      clock.set(LATE);
      for (const path of ['/single/old', '/whole/a', '/whole/own', '/v1/things', '/v1/things/special', '/closing']) {
        const response = await fetch(`${running.baseUrl}${path}`, { headers: { 'x-api-key': caller.key } });
        expect({ path, status: response.status }).toEqual({ path, status: 200 });
        expect(lifecycleHeadersOf(response)).toEqual(NO_LIFECYCLE);
      }
      const anonymous = await fetch(`${running.baseUrl}/pub/old`);
      expect(anonymous.status).toBe(200);
      expect(lifecycleHeadersOf(anonymous)).toEqual(NO_LIFECYCLE);

      expect((await running.app.get(DeprecationUsage).report()).routes).toEqual([]);
    });
  });

  describe('at boot', () => {
    it.each([
      ['1', { deprecatedAt: iso(T0), sunsetAt: iso(T0 - DAY), link: '/docs/v1' }, 'sunsetAt is before deprecatedAt'],
      [
        '2',
        { deprecatedAt: iso(T0), sunsetAt: iso(T0 + DAY), closedToNewClientsAt: iso(T0 + 2 * DAY), link: '/docs/v2' },
        'closedToNewClientsAt must lie between deprecatedAt and sunsetAt',
      ],
    ])('refuses a bad deprecations.versions.%s with a SecurityConfigError naming it', async (version, spec, why) => {
      const creation = NestFactory.create(
        DeprecationFixtureModule.register({ deprecations: { versions: { [version]: spec } } }, URI_CONTROLLERS),
        makeAdapter(),
        { logger: false, abortOnError: false },
      );

      await expect(creation).rejects.toBeInstanceOf(SecurityConfigError);
      await expect(creation).rejects.toMatchObject({
        code: 'ERR_SECURITY_CONFIG_INVALID_DEPRECATION',
        option: `deprecations.versions.${version}`,
      });
      await expect(creation).rejects.toThrow(`deprecations.versions.${version}: ${why}`);
    });
  });
});
