import { Body, Controller, Get, HttpCode, type INestApplication, Module, Post } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { ApiKeys } from '../../src/keys/api-keys.service.js';
import { Principals } from '../../src/principals/principals.service.js';
import { Public } from '../../src/principals/public.decorator.js';
import { SecurityModule } from '../../src/security.module.js';
import { signRequest } from '../../src/signing/client/sign-request.js';
import { Signed } from '../../src/signing/signed.decorator.js';
import { SigningKeys } from '../../src/signing/signing-keys.service.js';

@Controller('things')
class ThingsController {
  @Get() list(): { ok: true } {
    return { ok: true };
  }

  @Post() @HttpCode(200) create(@Body() body: unknown): { body: unknown } {
    return { body };
  }

  @Post('exempt') @Signed(false) @HttpCode(200) exempt(): { ok: true } {
    return { ok: true };
  }

  @Post('open') @Public() @HttpCode(200) open(): { ok: true } {
    return { ok: true };
  }

  @Post('strict') @Signed({ schemes: ['rfc9421'], headers: ['x-request-purpose'] }) @HttpCode(200) strict(): {
    ok: true;
  } {
    return { ok: true };
  }
}

@Module({
  imports: [
    SecurityModule.forRoot({
      environment: 'test',
      rateLimit: false,
      anomalies: false,
      audit: { log: false },
      signing: { masterKeys: `v1:${Buffer.alloc(32, 3).toString('base64')}`, requireOnUnsafeMethods: true },
    }),
  ],
  controllers: [ThingsController],
})
class SignedFixtureModule {}

const ADAPTERS: ReadonlyArray<[string, () => AbstractHttpAdapter]> = [
  ['express', () => new ExpressAdapter()],
  ['fastify', () => new FastifyAdapter()],
];
const actor = { label: 'test:setup' };

describe.each(ADAPTERS)('signing.requireOnUnsafeMethods and @Signed() options on %s', (_, makeAdapter) => {
  let app: INestApplication;
  let baseUrl: string;
  let apiKey: string;
  let credentials: { accessKeyId: string; secret: string };

  beforeAll(async () => {
    app = await NestFactory.create(SignedFixtureModule, makeAdapter(), { logger: false, bodyParser: false });
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const principal = await app.get(Principals).create({ username: `signer-${Date.now()}`, roles: [] }, actor);
    apiKey = (await app.get(ApiKeys).create({ name: 'k', ownerId: principal.id }, actor)).key;
    const issued = await app.get(SigningKeys).create({ ownerId: principal.id }, actor);
    credentials = { accessKeyId: issued.accessKeyId, secret: issued.secret! };
  });
  afterAll(async () => {
    await app?.close();
  });

  const withKey = (method: string, path: string) =>
    fetch(`${baseUrl}${path}`, {
      method,
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      body: method === 'GET' ? undefined : '{"a":1}',
    });
  const signed = (
    path: string,
    scheme: 'hmac-sha256' | 'rfc9421',
    extra: Record<string, string> = {},
    sign: string[] = [],
  ) => {
    const body = '{"a":1}';
    const headers = { 'content-type': 'application/json', ...extra };
    const url = `${baseUrl}${path}`;
    const added = signRequest({ method: 'POST', url, headers, body }, credentials, { scheme, headers: sign });
    return fetch(url, { method: 'POST', headers: { ...headers, ...added }, body });
  };

  it('refuses an unsafe method authenticated by an API key, and accepts it signed', async () => {
    expect((await withKey('POST', '/things')).status).toBe(401);
    const answer = await signed('/things', 'hmac-sha256');
    expect(answer.status).toBe(200);
    // The signature covered the bytes; the parsed JSON still reaches the handler.
    expect(await answer.json()).toEqual({ body: { a: 1 } });
  });

  it('lets safe methods, @Signed(false) routes and public routes through without a signature', async () => {
    expect((await withKey('GET', '/things')).status).toBe(200);
    expect((await withKey('POST', '/things/exempt')).status).toBe(200);
    expect((await fetch(`${baseUrl}/things/open`, { method: 'POST' })).status).toBe(200);
  });

  it("applies a route's own schemes and required headers", async () => {
    // The seed scheme is not among the route's schemes.
    expect(
      (await signed('/things/strict', 'hmac-sha256', { 'x-request-purpose': 'audit' }, ['x-request-purpose'])).status,
    ).toBe(401);
    // RFC 9421, but the required header is sent without being signed.
    expect((await signed('/things/strict', 'rfc9421', { 'x-request-purpose': 'audit' })).status).toBe(401);
    expect(
      (await signed('/things/strict', 'rfc9421', { 'x-request-purpose': 'audit' }, ['x-request-purpose'])).status,
    ).toBe(200);
  });
});
