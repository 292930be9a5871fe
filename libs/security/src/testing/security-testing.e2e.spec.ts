import { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Body, Controller, Delete, Get, Post, type INestApplication } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { IsInt, Min } from 'class-validator';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { CurrentPrincipal } from '../principals/current-principal.decorator.js';
import type { Principal } from '../principals/principal.js';
import { Public } from '../principals/public.decorator.js';
import { RequirePermission } from '../authz/require-permission.decorator.js';
import { RequireMfa } from '../mfa/require-mfa.decorator.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { Signed } from '../signing/signed.decorator.js';
import type { SignatureScheme } from '../signing/core/signed-request.types.js';
import { SecurityTesting, SecurityTestingModule } from './index.js';

// Every ioredis client the process creates is counted: a test app must create none.
const created = vi.hoisted(() => ({ redis: 0 }));
vi.mock('ioredis', async (importOriginal) => {
  const actual = await importOriginal<typeof import('ioredis')>();
  class CountedRedis extends actual.Redis {
    constructor(...args: ConstructorParameters<typeof actual.Redis>) {
      super(...args);
      created.redis++;
    }
  }
  return { ...actual, Redis: CountedRedis, default: CountedRedis };
});

class PaymentDto {
  @IsInt() @Min(1) amount!: number;
}

@Controller()
class ShopController {
  @Get('status') @Public() status() {
    return { ok: true };
  }

  @Get('me') me(@CurrentPrincipal() principal: Principal) {
    return { id: principal.id, authMethod: principal.authMethod, attributes: principal.attributes };
  }

  @Get('reports') @RequirePermission('reports:read') reports() {
    return { items: [] };
  }

  @Post('payments') @Signed() @RequirePermission('payments:write') pay(@Body() payment: PaymentDto) {
    return { paid: payment.amount };
  }

  @Get('ping') @Public() @RateLimit('3/60s', { name: 'ping' }) ping() {
    return { pong: true };
  }

  @Delete('account') @RequireMfa({ maxAgeSec: 300 }) close() {
    return { closed: true };
  }
}

const ADAPTERS: ReadonlyArray<[string, () => AbstractHttpAdapter]> = [
  ['express', () => new ExpressAdapter()],
  ['fastify', () => new FastifyAdapter()],
];
const SCHEMES: readonly SignatureScheme[] = ['hmac-sha256', 'aws4-hmac-sha256', 'rfc9421'];

describe.each(ADAPTERS)('SecurityTestingModule in an app on %s', (_name, makeAdapter) => {
  const savedEnv = { REDIS_URL: process.env.REDIS_URL, DATABASE_URL: process.env.DATABASE_URL };
  let connects: MockInstance<Socket['connect']>;
  let app: INestApplication;
  let security: SecurityTesting;
  let baseUrl: string;
  let port: number;

  beforeAll(async () => {
    delete process.env.REDIS_URL;
    delete process.env.DATABASE_URL;
    // Called through: the spy only records where each socket connects.
    connects = vi.spyOn(Socket.prototype, 'connect');
    const moduleRef = await Test.createTestingModule({
      imports: [SecurityTestingModule.forRoot()],
      controllers: [ShopController],
    }).compile();
    app = moduleRef.createNestApplication(makeAdapter(), { bodyParser: false });
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
    baseUrl = `http://127.0.0.1:${port}`;
    security = app.get(SecurityTesting);
  });

  afterAll(async () => {
    await app?.close();
    vi.restoreAllMocks();
    for (const [name, value] of Object.entries(savedEnv)) if (value !== undefined) process.env[name] = value;
  });

  beforeEach(async () => {
    await security.reset();
  });

  afterEach(() => {
    // Only the test's own HTTP connections to the app: no Redis, no PostgreSQL, nothing else.
    const targets = connects.mock.calls.map((args: unknown[]) => {
      // net.connect() passes its normalized arguments as one array.
      const first = (Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0]) as {
        port?: unknown;
        path?: unknown;
      };
      const target = first?.port ?? first?.path;
      return typeof target === 'number' || typeof target === 'string' ? String(target) : JSON.stringify(first);
    });
    expect(targets.filter((target) => target !== String(port))).toEqual([]);
    expect(created.redis).toBe(0);
  });

  it('serves public routes and refuses anonymous calls to the others', async () => {
    expect((await fetch(`${baseUrl}/status`)).status).toBe(200);
    expect((await fetch(`${baseUrl}/me`)).status).toBe(401);
  });

  it('accepts a minted API key and enforces its permissions', async () => {
    const reader = await security.principal({ permissions: ['reports:read'], attributes: { department: 'sales' } });
    const stranger = await security.principal({ roles: ['viewer'] });
    const readerKey = await security.apiKeyFor(reader);
    const strangerKey = await security.apiKeyFor(stranger);

    const me = await fetch(`${baseUrl}/me`, { headers: { 'x-api-key': readerKey } });
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ id: reader.id, authMethod: 'api-key', attributes: { department: 'sales' } });
    expect((await fetch(`${baseUrl}/reports`, { headers: { 'x-api-key': readerKey } })).status).toBe(200);
    expect((await fetch(`${baseUrl}/reports`, { headers: { 'x-api-key': strangerKey } })).status).toBe(403);
    expect(security.events('PERMISSION_DENIED')).toMatchObject([{ principalId: stranger.id, outcome: 'denied' }]);
  });

  it('narrows a key to its scopes and lets it expire with the clock', async () => {
    const admin = await security.principal({ permissions: ['*:*'] });
    const scoped = await security.apiKeyFor(admin, { scopes: ['users:read'], expiresIn: '1h' });

    expect((await fetch(`${baseUrl}/reports`, { headers: { 'x-api-key': scoped } })).status).toBe(403);
    expect((await fetch(`${baseUrl}/me`, { headers: { 'x-api-key': scoped } })).status).toBe(200);
    security.advance('61m');
    expect((await fetch(`${baseUrl}/me`, { headers: { 'x-api-key': scoped } })).status).toBe(401);
  });

  it.each(SCHEMES)('accepts a request signed with %s once and refuses its replay', async (scheme) => {
    const payer = await security.principal({ kind: 'service', permissions: ['payments:write'] });
    const request = {
      method: 'POST',
      url: `${baseUrl}/payments`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ amount: 5 }),
    };
    const signature = await security.sign(request, { scheme, principal: payer });
    const send = () =>
      fetch(request.url, { method: 'POST', headers: { ...request.headers, ...signature }, body: request.body });

    const first = await send();
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ paid: 5 });
    expect((await send()).status).toBe(401);
    expect(security.events('SIGNATURE_REJECTED')).toMatchObject([{ details: { reason: 'replayed' } }]);
  });

  it('refuses an API key on a @Signed() route', async () => {
    const payer = await security.principal({ permissions: ['payments:write'] });
    const answer = await fetch(`${baseUrl}/payments`, {
      method: 'POST',
      headers: { 'x-api-key': await security.apiKeyFor(payer), 'content-type': 'application/json' },
      body: JSON.stringify({ amount: 5 }),
    });
    expect(answer.status).toBe(401);
  });

  it('lets a session with MFA through @RequireMfa() and asks one without to step up', async () => {
    const user = await security.principal();
    const withMfa = await security.sessionFor(user, { mfa: true });
    const withoutMfa = await security.sessionFor(user);

    expect((await fetch(`${baseUrl}/account`, { method: 'DELETE', headers: withMfa.headers })).status).toBe(200);
    const stepUp = await fetch(`${baseUrl}/account`, { method: 'DELETE', headers: withoutMfa.headers });
    expect(stepUp.status).toBe(401);
    expect(stepUp.headers.get('www-authenticate')).toContain('insufficient_user_authentication');
    // The second factor ages with the clock.
    security.advance('301s');
    expect((await fetch(`${baseUrl}/account`, { method: 'DELETE', headers: withMfa.headers })).status).toBe(401);
  });

  it('answers 429 after the limit and again 200 once the clock has moved on', async () => {
    for (let i = 0; i < 3; i++) expect((await fetch(`${baseUrl}/ping`)).status).toBe(200);
    const refused = await fetch(`${baseUrl}/ping`);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(security.events('RATE_LIMIT_EXCEEDED')).toHaveLength(1);

    security.advance('120s');
    expect((await fetch(`${baseUrl}/ping`)).status).toBe(200);
  });

  it('starts each test from an empty world after reset()', async () => {
    const user = await security.principal({ permissions: ['reports:read'] });
    const key = await security.apiKeyFor(user);
    for (let i = 0; i < 3; i++) await fetch(`${baseUrl}/ping`);
    expect((await fetch(`${baseUrl}/reports`, { headers: { 'x-api-key': key } })).status).toBe(200);

    await security.reset();

    expect((await fetch(`${baseUrl}/ping`)).status).toBe(200);
    expect((await fetch(`${baseUrl}/reports`, { headers: { 'x-api-key': key } })).status).toBe(401);
    expect(security.events({ type: 'AUTH_FAILED' })).toHaveLength(1);
  });
});
