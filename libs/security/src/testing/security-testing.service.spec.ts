import { Global, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditEventStore } from '../audit/audit-event.store.js';
import { SecurityEvents } from '../audit/security-events.service.js';
import { SecurityChangeBus } from '../changes/security-change.bus.js';
import { Clock, ManualClock } from '../core/clock.js';
import { ApiKeyStore } from '../keys/api-key.store.js';
import { AnomalyDetector } from '../monitoring/anomaly-detector.service.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { PrincipalStore } from '../principals/principal.store.js';
import { RateLimitStore } from '../rate-limit/rate-limit.store.js';
import { SecurityModule } from '../security.module.js';
import { SECURITY_LOGGER, SECURITY_OPTIONS, SECURITY_REDIS } from '../security.constants.js';
import { SessionStore } from '../sessions/session.store.js';
import { Sessions } from '../sessions/sessions.service.js';
import { MemoryNonceStore } from '../signing/adapters/memory-nonce.store.js';
import { NonceStore } from '../signing/nonce.store.js';
import { SecurityTesting, SecurityTestingModule, type SecurityTestingOptions } from './index.js';

const START = '2030-01-01T00:00:00.000Z';

// An application's TypeORM DataSource: the test module must not touch it.
const touched: string[] = [];
class UntouchableDataSource {}
for (const member of [
  'options',
  'manager',
  'driver',
  'isInitialized',
  'query',
  'getRepository',
  'createQueryRunner',
  'transaction',
]) {
  Object.defineProperty(UntouchableDataSource.prototype, member, {
    get() {
      touched.push(member);
      throw new Error(`the test module used the DataSource (${member})`);
    },
  });
}
const dataSource = new UntouchableDataSource();

@Global()
@Module({ providers: [{ provide: DataSource, useValue: dataSource }], exports: [DataSource] })
class FakeTypeOrmModule {}

async function boot(options: SecurityTestingOptions = {}): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [FakeTypeOrmModule, SecurityTestingModule.forRoot({ now: START, ...options })],
  }).compile();
  return moduleRef.init();
}

describe('SecurityTestingModule', () => {
  let moduleRef: TestingModule;

  afterEach(async () => {
    await moduleRef?.close();
  });

  it('puts every store in memory, even beside a DataSource, with no Redis and a test environment', async () => {
    moduleRef = await boot();

    for (const token of [
      PrincipalStore,
      ApiKeyStore,
      SessionStore,
      AuditEventStore,
      RateLimitStore,
      SecurityChangeBus,
    ]) {
      expect(moduleRef.get<{ kind: string }>(token).kind).toBe('memory');
    }
    expect(moduleRef.get(NonceStore)).toBeInstanceOf(MemoryNonceStore);
    expect(moduleRef.get(SECURITY_REDIS)).toBeNull();
    expect(moduleRef.get<ResolvedSecurityOptions>(SECURITY_OPTIONS)).toMatchObject({
      environment: 'test',
      redis: false,
      changes: { transport: 'memory' },
    });
    expect(touched).toEqual([]);
  });

  it('runs on a settable ManualClock that every service shares', async () => {
    moduleRef = await boot();
    const security = moduleRef.get(SecurityTesting);

    expect(moduleRef.get(Clock)).toBe(moduleRef.get(ManualClock));
    expect(security.clock).toBe(moduleRef.get(ManualClock));
    expect(security.now().toISOString()).toBe(START);
  });

  it('keeps the security event log quiet unless asked', async () => {
    moduleRef = await boot();
    expect(moduleRef.get<Logger>(SECURITY_LOGGER).level).toBe('silent');
    await moduleRef.close();

    moduleRef = await boot({ logSecurityEvents: true });
    expect(moduleRef.get<Logger>(SECURITY_LOGGER).level).toBe('info');
  });

  it("replaces an application's SecurityModule through overrideModule()", async () => {
    const security = SecurityModule.forRoot({ redis: 'redis://127.0.0.1:1', apiKeys: { prefix: 'app' } });
    @Module({ imports: [security] })
    class AppModule {}

    moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .overrideModule(security)
      .useModule(SecurityTestingModule.forRoot({ apiKeys: { prefix: 'app' } }))
      .compile()
      .then((compiled) => compiled.init());

    expect(moduleRef.get(SECURITY_REDIS)).toBeNull();
    expect(moduleRef.get(Clock)).toBeInstanceOf(ManualClock);
    const testing = moduleRef.get(SecurityTesting);
    expect(await testing.apiKeyFor(await testing.principal())).toMatch(/^app_live_/);
  });

  it('is also built by forRootAsync', async () => {
    moduleRef = await Test.createTestingModule({
      imports: [
        SecurityTestingModule.forRootAsync({
          useFactory: async () => ({ apiKeys: { prefix: 'acme' }, now: START }) as SecurityTestingOptions,
        }),
      ],
    })
      .compile()
      .then((compiled) => compiled.init());
    const security = moduleRef.get(SecurityTesting);

    expect(security.now().toISOString()).toBe(START);
    expect(moduleRef.get(PrincipalStore).kind).toBe('memory');
    expect(await security.apiKeyFor(await security.principal())).toMatch(/^acme_live_/);
  });
});

describe('SecurityTesting', () => {
  let moduleRef: TestingModule;
  let security: SecurityTesting;

  beforeEach(async () => {
    moduleRef = await boot();
    security = moduleRef.get(SecurityTesting);
  });

  afterEach(async () => {
    await moduleRef?.close();
  });

  describe('principal()', () => {
    it('creates a user with its roles, own permissions and attributes', async () => {
      await security.role('viewer', ['documents:read']);

      const alice = await security.principal({
        roles: ['viewer', 'auditor'],
        permissions: ['payments:write'],
        attributes: { department: 'sales' },
      });

      expect(alice).toEqual({
        id: expect.any(String),
        kind: 'user',
        username: 'test-user-1',
        roles: ['auditor', 'viewer'],
        permissions: ['documents:read', 'payments:write'],
        attributes: { department: 'sales' },
      });
      const stored = await moduleRef.get(PrincipalStore).findById(alice.id);
      expect(stored?.createdAt.toISOString()).toBe(START);
    });

    it('names services apart and takes a chosen username, id and password', async () => {
      const id = '6f1c1f52-4a43-4d5e-9d0b-0c3c8bd2f7a1';
      const service = await security.principal({ kind: 'service' });
      const bob = await security.principal({ username: 'bob', id, password: 'correct horse battery staple' });

      expect(service.username).toBe('test-service-1');
      expect(bob).toMatchObject({ id, username: 'bob' });
      expect((await moduleRef.get(PrincipalStore).findById(id))?.passwordHash).toMatch(/^\$argon2id\$/);
    });

    it('refuses a permission that does not parse', async () => {
      await expect(security.principal({ permissions: ['users'] })).rejects.toThrow(TypeError);
    });
  });

  it('role() changes what holders of the role may do', async () => {
    const alice = await security.principal({ roles: ['editor'] });
    await security.role('editor', ['documents:write']);

    expect((await moduleRef.get(PrincipalStore).accessOf(alice.id))?.permissions).toEqual(['documents:write']);
  });

  it('apiKeyFor() returns the full key, created at the test time', async () => {
    const alice = await security.principal();

    const key = await security.apiKeyFor(alice, { expiresIn: '1h', scopes: ['users:read'] });

    expect(key).toMatch(/^sk_live_[0-9A-Za-z]{40}$/);
    const [stored] = await moduleRef.get(ApiKeyStore).list({ principalId: alice.id });
    expect(stored).toMatchObject({ scopes: ['users:read'], expiresAt: new Date(Date.parse(START) + 3_600_000) });
  });

  it('sessionFor() opens a session, with a second factor at the test time when asked', async () => {
    const alice = await security.principal();
    const sessions = moduleRef.get(Sessions);

    const plain = await security.sessionFor(alice.id);
    const stepped = await security.sessionFor(alice, { mfa: true });

    expect(plain).toMatchObject({
      principalId: alice.id,
      token: expect.stringMatching(/^sess_/),
      authorization: `Bearer ${plain.token}`,
      headers: { authorization: `Bearer ${plain.token}` },
    });
    expect((await sessions.authenticate(plain.token)).principal.mfaAt).toBeUndefined();
    expect((await sessions.authenticate(stepped.token)).principal.mfaAt?.toISOString()).toBe(START);
  });

  describe('sign()', () => {
    const request = {
      method: 'POST',
      url: 'http://127.0.0.1:4000/payments?b=2&a=1',
      headers: { 'content-type': 'application/json' },
      body: '{"amount":5}',
    };

    it('signs with the seed HMAC scheme at the test time, with one key per principal', async () => {
      const payer = await security.principal();

      const first = await security.sign(request, { scheme: 'hmac-sha256', principal: payer });
      const second = await security.sign(request, { scheme: 'hmac-sha256', principal: payer.id });

      expect(first).toMatchObject({
        host: '127.0.0.1:4000',
        'x-timestamp': String(Date.parse(START) / 1000),
        'x-signed-headers': 'host;content-type',
        'x-signature': expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect(second['x-key-id']).toBe(first['x-key-id']);
      expect(second['x-nonce']).not.toBe(first['x-nonce']);
    });

    it('signs SigV4 with the configured credential scope', async () => {
      const headers = await security.sign(request, {
        scheme: 'aws4-hmac-sha256',
        principal: await security.principal(),
      });

      expect(headers['x-amz-date']).toBe('20300101T000000Z');
      expect(headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=[A-Z0-9]{20}\/20300101\/us-east-1\/api\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
      );
    });

    it('signs RFC 9421 with an HMAC key, or an Ed25519 key when asked', async () => {
      const payer = await security.principal();

      const hmac = await security.sign(request, { scheme: 'rfc9421', principal: payer, nonce: 'n'.repeat(24) });
      const ed25519 = await security.sign(request, { scheme: 'rfc9421', principal: payer, algorithm: 'ed25519' });

      expect(hmac['signature-input']).toMatch(
        /created=1893456000;keyid="[A-Z0-9]{20}";nonce="n{24}";alg="hmac-sha256"$/,
      );
      expect(hmac['content-digest']).toMatch(/^sha-256=:/);
      expect(ed25519['signature-input']).toContain('alg="ed25519"');
      const hmacKey = await security.signingKeyFor(payer);
      const edKey = await security.signingKeyFor(payer, { algorithm: 'ed25519' });
      expect(hmacKey.secret).toEqual(expect.any(String));
      expect(edKey.privateKey).toContain('BEGIN PRIVATE KEY');
    });

    it('says so when signing is switched off', async () => {
      await moduleRef.close();
      moduleRef = await boot({ signing: false });
      security = moduleRef.get(SecurityTesting);

      await expect(
        security.sign(request, { scheme: 'hmac-sha256', principal: await security.principal() }),
      ).rejects.toThrow(/signing is switched off/);
    });
  });

  describe('the clock', () => {
    it('is set and advanced by milliseconds or durations', () => {
      security.advance(1_500);
      expect(security.now().toISOString()).toBe('2030-01-01T00:00:01.500Z');
      security.advance('2h');
      expect(security.now().toISOString()).toBe('2030-01-01T02:00:01.500Z');
      security.setTime('2031-06-01T12:00:00Z');
      expect(moduleRef.get(Clock).now()).toBe(Date.parse('2031-06-01T12:00:00Z'));
      security.setTime(new Date(0));
      expect(security.now().getTime()).toBe(0);
    });

    it('refuses what is not a time or a forward duration', () => {
      expect(() => security.advance('soon')).toThrow(TypeError);
      expect(() => security.advance(-1)).toThrow(TypeError);
      expect(() => security.setTime('whenever')).toThrow(TypeError);
    });
  });

  describe('events()', () => {
    it("lists the application's events, filtered, without the helpers' own unless asked", async () => {
      const events = moduleRef.get(SecurityEvents);
      const alice = await security.principal();
      await security.apiKeyFor(alice);
      await events.record({ type: 'PERMISSION_DENIED', outcome: 'denied', principalId: alice.id });
      await events.record({ type: 'AUTH_FAILED', outcome: 'denied', details: { reason: 'unknown' } });

      expect(security.events().map((event) => event.type)).toEqual(['PERMISSION_DENIED', 'AUTH_FAILED']);
      expect(security.events('AUTH_FAILED')).toHaveLength(1);
      expect(security.events({ principalId: alice.id })).toMatchObject([{ type: 'PERMISSION_DENIED' }]);
      expect(security.events({ outcome: 'success' })).toEqual([]);
      expect(security.events({ type: 'KEY_CREATED', includeSetup: true })).toMatchObject([
        { type: 'KEY_CREATED', details: { actor: 'security-testing', ownerId: alice.id } },
      ]);
      expect(security.events()[0]?.at.toISOString()).toBe(START);

      security.clearEvents();
      expect(security.events({ includeSetup: true })).toEqual([]);
    });
  });

  describe('reset()', () => {
    it('empties the stores, forgets the events and puts the clock back', async () => {
      const alice = await security.principal();
      await security.apiKeyFor(alice);
      await moduleRef.get(SecurityEvents).record({ type: 'DATA_CHANGED', outcome: 'success' });
      security.advance('1d');

      await security.reset();

      expect(await moduleRef.get(PrincipalStore).findById(alice.id)).toBeNull();
      expect(await moduleRef.get(ApiKeyStore).list({})).toEqual([]);
      expect(await moduleRef.get(AuditEventStore).recent(10)).toEqual([]);
      expect(security.events({ includeSetup: true })).toEqual([]);
      expect(security.now().toISOString()).toBe(START);
      // Fresh usernames never collide with the ones before.
      expect((await security.principal()).username).toBe('test-user-2');
    });

    it('lifts IP blocks and starts the failed-authentication count again', async () => {
      const events = moduleRef.get(SecurityEvents);
      const failed = () =>
        events.record({
          type: 'AUTH_FAILED',
          outcome: 'denied',
          request: { ip: '203.0.113.9' },
          details: { reason: 'unknown' },
        });
      for (let i = 0; i < 20; i++) await failed();
      expect(moduleRef.get(AnomalyDetector).blockedUntil('203.0.113.9')).toBeDefined();

      await security.reset();

      expect(moduleRef.get(AnomalyDetector).blockedUntil('203.0.113.9')).toBeUndefined();
      await failed();
      expect(moduleRef.get(AnomalyDetector).blockedUntil('203.0.113.9')).toBeUndefined();
    });

    it('moves the clock to a given time', async () => {
      await security.reset({ now: Date.UTC(2040, 0, 1) });
      expect(security.now().toISOString()).toBe('2040-01-01T00:00:00.000Z');
    });
  });
});
