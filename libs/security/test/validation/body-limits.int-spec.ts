import { Body, Controller, HttpCode, type INestApplication, Module, Post } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { SecurityConfigError } from '../../src/core/errors.js';
import { Public } from '../../src/principals/public.decorator.js';
import { SecurityModule } from '../../src/security.module.js';
import { BodyLimit } from '../../src/validation/body-limit.decorator.js';

@Controller('echo')
@Public()
class EchoController {
  @Post() @HttpCode(200) echo(@Body() body: unknown): { body: unknown } {
    return { body };
  }

  @Post('big') @BodyLimit('8kb') @HttpCode(200) big(@Body() body: unknown): { size: number } {
    return { size: JSON.stringify(body).length };
  }

  @Post('tiny') @BodyLimit(100) @HttpCode(200) tiny(@Body() body: unknown): { body: unknown } {
    return { body };
  }
}

@Controller('uploads')
@Public()
@BodyLimit('4kb')
class UploadsController {
  @Post() @HttpCode(200) upload(@Body() body: unknown): { size: number } {
    return { size: JSON.stringify(body).length };
  }
}

@Module({
  imports: [
    SecurityModule.forRoot({
      environment: 'test',
      rateLimit: false,
      anomalies: false,
      audit: { log: false },
      limits: { body: '1kb', jsonDepth: 4, headerBytes: 4096 },
    }),
  ],
  controllers: [EchoController, UploadsController],
})
class LimitsFixtureModule {}

const ADAPTERS: ReadonlyArray<[string, () => AbstractHttpAdapter]> = [
  ['express', () => new ExpressAdapter()],
  ['fastify', () => new FastifyAdapter()],
];

// Created with Nest's own body parsers on (no `bodyParser: false`): the module must replace them.
describe.each(ADAPTERS)('limits options and @BodyLimit() on %s', (_, makeAdapter) => {
  let app: INestApplication;
  let baseUrl: string;

  beforeAll(async () => {
    app = await NestFactory.create(LimitsFixtureModule, makeAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const padded = (bytes: number) => ({ pad: 'x'.repeat(bytes) });

  it('applies limits.body to routes without @BodyLimit()', async () => {
    expect((await post('/echo', padded(900))).status).toBe(200);
    expect((await post('/echo', padded(2_000))).status).toBe(413);
  });

  it('lets a route take more, or less, than limits.body', async () => {
    expect((await post('/echo/big', padded(6_000))).status).toBe(200);
    expect((await post('/echo/big', padded(9_000))).status).toBe(413);
    expect((await post('/echo/tiny', padded(50))).status).toBe(200);
    expect((await post('/echo/tiny', padded(200))).status).toBe(413);
  });

  it('takes @BodyLimit() on a controller for all its routes', async () => {
    expect((await post('/uploads', padded(3_000))).status).toBe(200);
    expect((await post('/uploads', padded(5_000))).status).toBe(413);
  });

  it('applies limits.jsonDepth', async () => {
    expect((await post('/echo', { a: { b: { c: 1 } } })).status).toBe(200);
    const refused = await post('/echo', { a: { b: { c: { d: { e: 1 } } } } });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { invalid_params: unknown }).invalid_params).toEqual([
      { name: 'body.a.b.c.d', reason: expect.any(String) },
    ]);
  });

  it('applies limits.headerBytes (431 over it)', async () => {
    expect((await post('/echo', {}, { 'x-padding': 'a'.repeat(2_000) })).status).toBe(200);
    const refused = await post('/echo', {}, { 'x-padding': 'a'.repeat(6_000) });
    expect(refused.status).toBe(431);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('@BodyLimit()', () => {
  it.each(['10', '1gb', '0kb', 0, -5, 1.5])('refuses %j when the class is declared', (size) => {
    expect(() => BodyLimit(size)).toThrow(SecurityConfigError);
  });
});
