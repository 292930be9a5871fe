import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory, type AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEventStore, type StoredAuditEvent } from '../../src/audit/audit-event.store.js';
import { createSecurityLogger } from '../../src/audit/security-logger.js';
import { SecurityEvents } from '../../src/audit/security-events.service.js';
import { SecurityConfigError } from '../../src/core/errors.js';
import type { ResolvedSecurityOptions } from '../../src/options/security-options.js';
import { SECURITY_AUTHENTICATORS, SECURITY_LOGGER, SECURITY_OPTIONS } from '../../src/security.constants.js';
import { ForRootAsyncFixtureModule, ForRootFixtureModule, HeaderAuthenticator } from './fixtures.js';

const ADAPTERS: ReadonlyArray<[string, () => AbstractHttpAdapter]> = [
  ['fastify', () => new FastifyAdapter()],
  ['express', () => new ExpressAdapter()],
];

interface FixtureCase {
  /** The module as the app would import it. */
  module: () => DynamicModule;
  /** The same module with `rateLimit.policies.ip` set to '10' (no window), however it gets its options. */
  invalid: () => DynamicModule;
  prefix: string;
  typeBaseUri: string;
  ipLimit: { limit: number; windowMs: number };
}

const FIXTURES: ReadonlyArray<[string, FixtureCase]> = [
  [
    'forRoot',
    {
      module: () =>
        ForRootFixtureModule.register({
          apiKeys: { prefix: 'root' },
          problems: { typeBaseUri: 'https://errors.root.example/' },
        }),
      invalid: () => ForRootFixtureModule.register({ rateLimit: { policies: { ip: '10' } } }),
      prefix: 'root',
      typeBaseUri: 'https://errors.root.example/',
      ipLimit: { limit: 1000, windowMs: 60_000 },
    },
  ],
  [
    'forRootAsync',
    {
      module: () =>
        ForRootAsyncFixtureModule.register({
          KEY_PREFIX: 'acme',
          PROBLEM_BASE: 'https://problems.acme.example/',
          RATE_LIMIT_IP: '50/10s',
        }),
      invalid: () => ForRootAsyncFixtureModule.register({ RATE_LIMIT_IP: '10' }),
      prefix: 'acme',
      typeBaseUri: 'https://problems.acme.example/',
      ipLimit: { limit: 50, windowMs: 10_000 },
    },
  ],
];

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: () => Record<string, unknown>;
}

async function listen(app: INestApplication): Promise<string> {
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

async function call(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${baseUrl}${path}`, { headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

/** The audit row of one request, polled for a bounded time: the filter records events without awaiting them. */
async function eventOf(store: AuditEventStore, requestId: string): Promise<StoredAuditEvent> {
  let found: StoredAuditEvent | undefined;
  await expect
    .poll(async () => (found = (await store.recent(10)).find((event) => event.requestId === requestId)), {
      timeout: 2_000,
      interval: 10,
    })
    .toBeDefined();
  return found!;
}

let requestCounter = 0;
const nextRequestId = (label: string) => `${label}-${process.pid}-${++requestCounter}`;

describe.each(ADAPTERS)('SecurityModule on %s', (_adapterName, makeAdapter) => {
  describe.each(FIXTURES)('imported with %s', (_label, fixture) => {
    let app: INestApplication;
    let baseUrl: string;

    beforeAll(async () => {
      app = await NestFactory.create(fixture.module(), makeAdapter(), { logger: false, abortOnError: false });
      baseUrl = await listen(app);
    });

    afterAll(async () => {
      await app?.close();
    });

    it('answers the @Public() route without credentials', async () => {
      const answer = await call(baseUrl, '/public');

      expect(answer.status).toBe(200);
      expect(answer.json()).toEqual({ ok: true });
    });

    it('denies the protected route by default with a 401 problem and an ApiKey challenge', async () => {
      const answer = await call(baseUrl, '/protected');

      expect(answer.status).toBe(401);
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
      expect(answer.headers.get('www-authenticate')).toBe(
        'ApiKey realm="api", Signature realm="api", Bearer realm="api"',
      );
      expect(answer.headers.get('cache-control')).toBe('no-store');
      const body = answer.json();
      expect(body).toEqual({
        type: `${fixture.typeBaseUri}unauthenticated`,
        title: 'Unauthorized',
        status: 401,
        detail: 'Valid credentials are required to access this resource.',
        instance: '/protected',
        request_id: answer.headers.get('x-request-id'),
      });
      expect(body.request_id).toEqual(expect.any(String));
    });

    it("resolves the options the module was given (the factory's for forRootAsync), over the defaults", () => {
      const options = app.get<ResolvedSecurityOptions>(SECURITY_OPTIONS);

      expect(options.apiKeys).toMatchObject({ prefix: fixture.prefix, environment: 'live' });
      expect(options.problems.typeBaseUri).toBe(fixture.typeBaseUri);
      expect(options.rateLimit).toMatchObject({
        ip: fixture.ipLimit,
        principal: { limit: 100, windowMs: 60_000 },
        named: { login: { limit: 5, windowMs: 300_000 } },
      });
      expect(Object.isFrozen(options)).toBe(true);
    });

    it('keeps the audit trail in memory without a DataSource and records the 401 as AUTH_FAILED', async () => {
      const store = app.get(AuditEventStore);
      const requestId = nextRequestId('missing');

      const answer = await call(baseUrl, '/protected?page=2', { 'x-request-id': requestId, 'user-agent': 'fixture/1' });
      const event = await eventOf(store, requestId);

      expect(answer.status).toBe(401);
      expect(store.kind).toBe('memory');
      expect(event).toMatchObject({
        type: 'AUTH_FAILED',
        outcome: 'denied',
        status: 401,
        method: 'GET',
        path: '/protected',
        userAgent: 'fixture/1',
        principalId: null,
        details: { code: 'ERR_SECURITY_AUTHENTICATION_REQUIRED', reason: 'missing' },
      });
      expect(event.ip).toMatch(/127\.0\.0\.1$/);
    });

    it('fails app creation with a coded SecurityConfigError on a bad option', async () => {
      const creation = NestFactory.create(fixture.invalid(), makeAdapter(), { logger: false, abortOnError: false });

      await expect(creation).rejects.toBeInstanceOf(SecurityConfigError);
      await expect(creation).rejects.toMatchObject({
        code: 'ERR_SECURITY_CONFIG_INVALID_LIMIT',
        option: 'rateLimit.policies.ip',
      });
    });
  });

  describe('with registered authenticators', () => {
    const primary = new HeaderAuthenticator('fake', 'x-fake-auth');
    const secondary = new HeaderAuthenticator('other', 'x-other-auth');
    const logLines: string[] = [];
    let app: INestApplication;
    let baseUrl: string;
    let store: AuditEventStore;

    beforeAll(async () => {
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
          done();
        },
      });
      const moduleRef = await Test.createTestingModule({ imports: [ForRootFixtureModule.register()] })
        .overrideProvider(SECURITY_AUTHENTICATORS)
        .useValue([primary, secondary])
        .overrideProvider(SECURITY_LOGGER)
        .useValue(createSecurityLogger(sink))
        .compile();
      app = moduleRef.createNestApplication(makeAdapter(), { logger: false });
      baseUrl = await listen(app);
      store = app.get(AuditEventStore);
    });

    afterAll(async () => {
      await app?.close();
    });

    it('authenticates a request carrying the header and hands the principal to @CurrentPrincipal()', async () => {
      const requestId = nextRequestId('good');

      const answer = await call(baseUrl, '/protected', { 'x-fake-auth': 'good', 'x-request-id': requestId });

      expect(answer.status).toBe(200);
      expect(answer.json()).toEqual({
        principal: {
          id: '00000000-0000-4000-8000-000000000001',
          kind: 'service',
          roles: ['tester'],
          permissions: ['items:read'],
          attributes: { via: 'fake' },
          authMethod: 'test',
          keyId: 'fake-key',
        },
      });
      expect(primary.calls).toContain('good');
      // A successful ordinary request is not an audit row (once the writer has caught up).
      expect(await app.get(SecurityEvents).flush(10_000)).toBe(true);
      expect((await store.recent(50)).some((event) => event.requestId === requestId)).toBe(false);
    });

    it('refuses a request carrying two credentials as ambiguous, without trying either', async () => {
      const requestId = nextRequestId('ambiguous');
      const callsBefore = primary.calls.length + secondary.calls.length;

      const answer = await call(baseUrl, '/protected', {
        'x-fake-auth': 'good',
        'x-other-auth': 'good',
        'x-request-id': requestId,
      });
      const event = await eventOf(store, requestId);

      expect(answer.status).toBe(401);
      expect(answer.json()).toMatchObject({ status: 401, type: 'urn:problem-type:unauthenticated' });
      expect(primary.calls.length + secondary.calls.length).toBe(callsBefore);
      expect(event).toMatchObject({
        type: 'AUTH_FAILED',
        outcome: 'denied',
        details: { code: 'ERR_SECURITY_CREDENTIALS_INVALID', reason: 'ambiguous', schemes: ['fake', 'other'] },
      });
    });

    it('answers a revoked credential exactly like a missing one, keeping the reason in the event', async () => {
      const missingId = nextRequestId('missing');
      const revokedId = nextRequestId('revoked');

      const missing = await call(baseUrl, '/protected', { 'x-request-id': missingId });
      const revoked = await call(baseUrl, '/protected', { 'x-fake-auth': 'revoked', 'x-request-id': revokedId });
      const revokedEvent = await eventOf(store, revokedId);
      const missingEvent = await eventOf(store, missingId);

      expect(missing.status).toBe(401);
      expect(revoked.status).toBe(401);
      expect(missing.json().request_id).toBe(missingId);
      expect(revoked.json().request_id).toBe(revokedId);
      // Byte for byte, once each body's own request id is masked.
      const mask = (answer: Answer, id: string) => answer.text.replace(JSON.stringify(id), '"<request-id>"');
      expect(mask(revoked, revokedId)).toBe(mask(missing, missingId));
      expect(revoked.headers.get('www-authenticate')).toBe(missing.headers.get('www-authenticate'));
      expect(revoked.headers.get('content-type')).toBe(missing.headers.get('content-type'));
      expect(revokedEvent).toMatchObject({
        type: 'AUTH_FAILED',
        keyId: 'fake-key',
        details: { code: 'ERR_SECURITY_CREDENTIALS_INVALID', reason: 'revoked' },
      });
      expect(missingEvent.details).toEqual({ code: 'ERR_SECURITY_AUTHENTICATION_REQUIRED', reason: 'missing' });
      const logged = logLines.map((line) => JSON.parse(line)).find((line) => line.event?.requestId === revokedId);
      expect(logged?.event.details.reason).toBe('revoked');
    });
  });
});
