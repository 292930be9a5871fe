import { createHmac, randomBytes, sign, verify } from 'node:crypto';
import type { SecurityEvents } from '../audit/security-events.service.js';
import { MemorySecurityChangeBus, MemorySecurityChangeHub } from '../changes/adapters/memory-security-change.bus.js';
import { ManualClock } from '../core/clock.js';
import { SecurityOperationError, SecurityStoreUnavailableError } from '../core/errors.js';
import { MemoryApiKeyStore } from '../keys/adapters/memory-api-key.store.js';
import { MemoryPrincipalStore } from '../principals/adapters/memory-principal.store.js';
import { PASSWORD_HASH_TEST_COST, PasswordHasher } from '../principals/password-hasher.js';
import { Principals } from '../principals/principals.service.js';
import { MemorySigningKeyStore } from './adapters/memory-signing-key.store.js';
import { signRequest } from './client/sign-request.js';
import { generateMasterKey, parseMasterKeys, SecretUnreadableError, type MasterKeyRing } from './core/secret-box.js';
import { parseSignedRequest, SignatureVerificationError } from './core/signed-request.js';
import {
  ACCESS_KEY_ID_PATTERN,
  generateAccessKeyId,
  generateSigningSecret,
  SigningKeys,
} from './signing-keys.service.js';

const quiet = { log: () => undefined, warn: () => undefined };
const actor = { label: 'cli:test' };

async function setup({ ring = parseMasterKeys(generateMasterKey('v1')) as MasterKeyRing | null } = {}) {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const principals = new MemoryPrincipalStore();
  const store = new MemorySigningKeyStore(principals);
  const hub = new MemorySecurityChangeHub();
  const bus = () => {
    const created = new MemorySecurityChangeBus({ hub, logger: quiet });
    void created.start();
    return created;
  };
  const record = vi.fn(async () => ({}));
  const events = { record } as unknown as SecurityEvents;
  await principals.upsertRole('editor', ['payments:write', 'users:read']);
  const owner = await principals.create({
    kind: 'service',
    username: `owner-${randomBytes(4).toString('hex')}`,
    attributes: { rateLimit: '100/60s', department: 'finance' },
  });
  await principals.assignRole(owner.id, 'editor');
  /** One instance of the app: its own bus (on the shared hub) and its own cache, over the shared stores. */
  const instance = (withRing = ring) => new SigningKeys(store, withRing, principals, events, bus(), clock);
  const service = instance();
  return { clock, principals, store, record, owner, instance, service, bus };
}

const reasonOf = (promise: Promise<unknown>) =>
  promise.then(
    (value) => (value === undefined ? 'unknown' : 'resolved'),
    (error: unknown) =>
      error instanceof SignatureVerificationError ? error.reason : ((error as { code?: string }).code ?? String(error)),
  );

describe('key formats', () => {
  it('makes access key ids of 20 upper-case letters and digits starting with NAS', () => {
    const ids = Array.from({ length: 200 }, generateAccessKeyId);

    for (const id of ids) expect(id).toMatch(ACCESS_KEY_ID_PATTERN);
    expect(ids.every((id) => id.startsWith('NAS'))).toBe(true);
    expect(new Set(ids).size).toBe(200);
  });

  it('makes secrets of 40 base62 characters', () => {
    const secrets = Array.from({ length: 200 }, generateSigningSecret);

    for (const secret of secrets) expect(secret).toMatch(/^[0-9A-Za-z]{40}$/);
    expect(new Set(secrets).size).toBe(200);
  });
});

describe('SigningKeys', () => {
  describe('create', () => {
    it('shows an HMAC secret once and stores it only sealed under the current master key', async () => {
      const { service, store, owner, record } = await setup();

      const issued = await service.create({ ownerId: owner.id, name: 'payments' }, actor);

      expect(issued).toEqual({
        accessKeyId: expect.stringMatching(ACCESS_KEY_ID_PATTERN),
        algorithm: 'hmac-sha256',
        secret: expect.stringMatching(/^[0-9A-Za-z]{40}$/),
      });
      const stored = (await store.findById(issued.accessKeyId))!;
      expect(stored).toMatchObject({
        principalId: owner.id,
        name: 'payments',
        algorithm: 'hmac-sha256',
        masterKeyVersion: 'v1',
        publicKey: null,
        revokedAt: null,
      });
      expect(JSON.stringify(stored)).not.toContain(issued.secret);
      expect(JSON.stringify(await service.list(owner.id))).not.toContain(issued.secret);
      expect(record).toHaveBeenCalledWith(
        expect.objectContaining({
          type: 'KEY_CREATED',
          keyId: issued.accessKeyId,
          actor: 'cli:test',
          details: { kind: 'signing', ownerId: owner.id, name: 'payments', algorithm: 'hmac-sha256' },
        }),
      );
      expect(JSON.stringify(record.mock.calls)).not.toContain(issued.secret);
    });

    it('creates an ed25519 key: returns the private key once, stores the public key', async () => {
      const { service, store, owner } = await setup();

      const issued = await service.create({ ownerId: owner.id, algorithm: 'ed25519' }, actor);

      expect(issued).toEqual({
        accessKeyId: expect.stringMatching(ACCESS_KEY_ID_PATTERN),
        algorithm: 'ed25519',
        privateKey: expect.stringContaining('-----BEGIN PRIVATE KEY-----'),
      });
      expect(await store.findById(issued.accessKeyId)).toMatchObject({
        name: 'signing key',
        publicKey: expect.stringContaining('-----BEGIN PUBLIC KEY-----'),
        secretCiphertext: null,
        masterKeyVersion: null,
      });
    });

    it.each<[string, object, string]>([
      ['an unknown algorithm', { algorithm: 'rsa' }, 'ERR_SECURITY_INVALID_SIGNING_ALGORITHM'],
      ['an invalid name', { name: '<script>' }, 'ERR_SECURITY_INVALID_KEY_NAME'],
      ['an unknown owner', { ownerId: '00000000-0000-4000-8000-000000000000' }, 'ERR_SECURITY_UNKNOWN_PRINCIPAL'],
    ])('refuses %s, storing nothing', async (_, extra, code) => {
      const { service, store, owner } = await setup();

      await expect(service.create({ ownerId: owner.id, ...extra }, actor)).rejects.toMatchObject({ code });
      expect(await store.list()).toEqual([]);
    });

    it('refuses a disabled owner', async () => {
      const { service, principals, owner } = await setup();
      await principals.disable(owner.id, new Date());

      await expect(service.create({ ownerId: owner.id }, actor)).rejects.toMatchObject({
        code: 'ERR_SECURITY_PRINCIPAL_DISABLED',
      });
    });

    it('refuses an HMAC key without master keys, and still creates ed25519 keys', async () => {
      const { instance, owner } = await setup();
      const service = instance(null);

      const refusal = service.create({ ownerId: owner.id }, actor);

      await expect(refusal).rejects.toBeInstanceOf(SecurityOperationError);
      await expect(refusal).rejects.toMatchObject({
        code: 'ERR_SECURITY_SIGNING_MASTER_KEYS_MISSING',
        kind: 'conflict',
      });
      expect((await service.create({ ownerId: owner.id, algorithm: 'ed25519' }, actor)).algorithm).toBe('ed25519');
    });
  });

  describe('resolve', () => {
    it('answers material that verifies an HMAC made with the issued secret, and the principal', async () => {
      const { service, owner } = await setup();
      const issued = await service.create({ ownerId: owner.id }, actor);

      const resolved = (await service.resolve(issued.accessKeyId))!;

      expect(resolved.material.algorithm).toBe('hmac-sha256');
      const made = createHmac('sha256', issued.secret!).update('payload').digest('hex');
      expect(createHmac('sha256', resolved.material.secret!).update('payload').digest('hex')).toBe(made);
      expect(resolved.principal).toEqual({
        id: owner.id,
        kind: 'service',
        roles: ['editor'],
        permissions: ['payments:write', 'users:read'],
        attributes: { rateLimit: '100/60s', department: 'finance' },
        authMethod: 'signature',
        keyId: issued.accessKeyId,
        createdAt: owner.createdAt,
        rateLimit: { limit: '100/60s', per: 'principal' },
      });
      expect(Object.isFrozen(resolved.principal)).toBe(true);
    });

    it('verifies a request our client signs with the issued secret (seed scheme)', async () => {
      const { service, owner, clock } = await setup();
      const issued = await service.create({ ownerId: owner.id }, actor);
      const body = '{"amount":10}';
      const headers = signRequest(
        { method: 'POST', url: 'http://api.test/payments', headers: { 'content-type': 'application/json' }, body },
        { accessKeyId: issued.accessKeyId, secret: issued.secret! },
        { scheme: 'hmac-sha256', now: new Date(clock.now()) },
      );
      const parsed = parseSignedRequest(
        {
          method: 'POST',
          path: '/payments',
          query: '',
          headers: { 'content-type': 'application/json', ...lowerCase(headers) },
          body: Buffer.from(body),
        },
        { sigv4: { region: 'us-east-1', service: 'api' } },
      );

      expect(parsed.keyId).toBe(issued.accessKeyId);
      expect(parsed.verify((await service.resolve(parsed.keyId))!.material)).toBe(true);
    });

    it('answers an ed25519 public key that verifies what the issued private key signs', async () => {
      const { service, owner } = await setup();
      const issued = await service.create({ ownerId: owner.id, algorithm: 'ed25519' }, actor);

      const { material } = (await service.resolve(issued.accessKeyId))!;

      expect(material.algorithm).toBe('ed25519');
      expect(material.secret).toBeUndefined();
      const signature = sign(null, Buffer.from('payload'), issued.privateKey!);
      expect(material.publicKey!.type).toBe('public');
      expect(verify(null, Buffer.from('payload'), material.publicKey!, signature)).toBe(true);
    });

    it('answers undefined for an unknown or malformed access key id, without asking the store for garbage', async () => {
      const { service, store } = await setup();
      const findById = vi.spyOn(store, 'findById');

      expect(await service.resolve(generateAccessKeyId())).toBeUndefined();
      expect(await service.resolve('nas-lower-case')).toBeUndefined();
      expect(await service.resolve('x'.repeat(5_000))).toBeUndefined();
      expect(findById).toHaveBeenCalledTimes(1);
    });

    it('remembers an unknown id for a while, until a broadcast names it', async () => {
      const { service, store, owner, bus } = await setup();
      const accessKeyId = generateAccessKeyId();
      expect(await service.resolve(accessKeyId)).toBeUndefined();
      // Created meanwhile by another instance, whose broadcast has not arrived yet.
      await store.create({
        accessKeyId,
        principalId: owner.id,
        algorithm: 'ed25519',
        publicKey: (await service.get(
          (await service.create({ ownerId: owner.id, algorithm: 'ed25519' }, actor)).accessKeyId,
        ))!.publicKey,
        secretCiphertext: null,
        masterKeyVersion: null,
        name: 'elsewhere',
      });
      const findById = vi.spyOn(store, 'findById');

      expect(await service.resolve(accessKeyId)).toBeUndefined();
      expect(findById).not.toHaveBeenCalled();
      await bus().publish({ kind: 'signing-key', id: accessKeyId });

      expect((await service.resolve(accessKeyId))?.record.name).toBe('elsewhere');
    });

    it('throws revoked_key once the key is revoked, on every instance, and says so in the event', async () => {
      const { service, owner, instance, record } = await setup();
      const other = instance();
      const issued = await service.create({ ownerId: owner.id }, actor);
      expect(await other.resolve(issued.accessKeyId)).toBeDefined();

      const revoked = await service.revoke(issued.accessKeyId, actor);

      expect(revoked).toEqual({ accessKeyId: issued.accessKeyId, revokedAt: '2026-06-01T00:00:00.000Z' });
      expect(await reasonOf(service.resolve(issued.accessKeyId))).toBe('revoked_key');
      expect(await reasonOf(other.resolve(issued.accessKeyId))).toBe('revoked_key');
      expect(record).toHaveBeenCalledWith(
        expect.objectContaining({
          type: 'KEY_REVOKED',
          keyId: issued.accessKeyId,
          details: { kind: 'signing', ownerId: owner.id },
        }),
      );
    });

    it('serves a key from its cache until a broadcast drops it', async () => {
      const { service, store, owner, instance, bus, principals } = await setup();
      const other = instance();
      const issued = await service.create({ ownerId: owner.id }, actor);
      await other.resolve(issued.accessKeyId);
      const findById = vi.spyOn(store, 'findById');

      await other.resolve(issued.accessKeyId);
      expect(findById).not.toHaveBeenCalled();

      // A role change made elsewhere: the permissions it caches are stale.
      await principals.upsertRole('editor', ['payments:write']);
      expect((await other.resolve(issued.accessKeyId))!.principal.permissions).toEqual([
        'payments:write',
        'users:read',
      ]);
      await bus().publish({ kind: 'role', id: 'editor' });

      expect((await other.resolve(issued.accessKeyId))!.principal.permissions).toEqual(['payments:write']);
      expect(findById).toHaveBeenCalledTimes(1);
    });

    it('drops a key changed directly in the store on a signing-key broadcast, a principal broadcast and a resync', async () => {
      const { service, store, owner, bus } = await setup();
      const issued = await service.create({ ownerId: owner.id }, actor);
      await service.resolve(issued.accessKeyId);
      const findById = vi.spyOn(store, 'findById');
      const publisher = bus();

      await publisher.publish({ kind: 'signing-key', id: issued.accessKeyId });
      await service.resolve(issued.accessKeyId);
      await publisher.publish({ kind: 'principal', id: owner.id });
      await service.resolve(issued.accessKeyId);
      await publisher.publish({ kind: 'all', id: '*' });
      await service.resolve(issued.accessKeyId);

      expect(findById).toHaveBeenCalledTimes(3);
    });

    it('refuses an HMAC key when the ring no longer holds its master key, naming the version', async () => {
      const { service, owner, instance } = await setup();
      const issued = await service.create({ ownerId: owner.id }, actor);
      const rotatedAway = instance(parseMasterKeys(generateMasterKey('v2')));

      const refusal = rotatedAway.resolve(issued.accessKeyId);

      await expect(refusal).rejects.toBeInstanceOf(SecretUnreadableError);
      await expect(refusal).rejects.toMatchObject({
        reason: 'unknown_version',
        message: expect.stringContaining('v1'),
      });
    });

    it('opens a secret sealed under v1 after the ring rotates to v2:…,v1:…', async () => {
      const v1 = generateMasterKey('v1');
      const { service, owner, instance } = await setup({ ring: parseMasterKeys(v1) });
      const issued = await service.create({ ownerId: owner.id }, actor);
      const rotated = instance(parseMasterKeys(`${generateMasterKey('v2')},${v1}`));

      const { material } = (await rotated.resolve(issued.accessKeyId))!;

      expect(material.secret!.toString('utf8')).toBe(issued.secret);
    });

    it('refuses an HMAC key with unsupported_algorithm when no master keys are configured', async () => {
      const { service, owner, instance } = await setup();
      const issued = await service.create({ ownerId: owner.id }, actor);

      expect(await reasonOf(instance(null).resolve(issued.accessKeyId))).toBe('unsupported_algorithm');
    });

    it('answers store-unavailable, never a key, when the store cannot answer', async () => {
      const { service, store, owner } = await setup();
      const issued = await service.create({ ownerId: owner.id }, actor);
      vi.spyOn(store, 'findById').mockRejectedValueOnce(new Error('connection reset'));

      await expect(service.resolve(issued.accessKeyId)).rejects.toBeInstanceOf(SecurityStoreUnavailableError);
      expect(await service.resolve(issued.accessKeyId)).toBeDefined();
    });
  });

  describe('list and revoke', () => {
    it('lists views without secrets, newest first, revoked included', async () => {
      const { service, owner, clock } = await setup();
      const first = await service.create({ ownerId: owner.id, name: 'one' }, actor);
      clock.advance(1_000);
      const second = await service.create({ ownerId: owner.id, name: 'two', algorithm: 'ed25519' }, actor);
      await service.revoke(first.accessKeyId, actor);

      const views = await service.list(owner.id);

      expect(views).toEqual([
        {
          accessKeyId: second.accessKeyId,
          ownerId: owner.id,
          name: 'two',
          algorithm: 'ed25519',
          publicKey: expect.stringContaining('PUBLIC KEY'),
          masterKeyVersion: null,
          createdAt: '2026-06-01T00:00:01.000Z',
          revokedAt: null,
          status: 'active',
        },
        {
          accessKeyId: first.accessKeyId,
          ownerId: owner.id,
          name: 'one',
          algorithm: 'hmac-sha256',
          publicKey: null,
          masterKeyVersion: 'v1',
          createdAt: '2026-06-01T00:00:00.000Z',
          revokedAt: '2026-06-01T00:00:01.000Z',
          status: 'revoked',
        },
      ]);
      expect(await service.list()).toHaveLength(2);
      expect(await service.get(first.accessKeyId)).toEqual(views[1]);
    });

    it('keeps the first revokedAt when revoked again, and refuses an unknown key', async () => {
      const { service, owner, clock } = await setup();
      const issued = await service.create({ ownerId: owner.id }, actor);
      const first = await service.revoke(issued.accessKeyId, actor);
      clock.advance(5_000);

      expect(await service.revoke(issued.accessKeyId, actor)).toEqual(first);
      await expect(service.revoke(generateAccessKeyId(), actor)).rejects.toMatchObject({
        code: 'ERR_SECURITY_UNKNOWN_SIGNING_KEY',
        kind: 'not_found',
      });
    });
  });

  describe('disabling the principal', () => {
    it('revokes its signing keys with its API keys, audits each, and refuses them on every instance', async () => {
      const { service, store, owner, principals, record, instance, bus, clock } = await setup();
      const other = instance();
      const hmac = await service.create({ ownerId: owner.id }, actor);
      const ed25519 = await service.create({ ownerId: owner.id, algorithm: 'ed25519' }, actor);
      await other.resolve(hmac.accessKeyId);
      const events = { record } as unknown as SecurityEvents;
      const admin = new Principals(
        principals,
        new MemoryApiKeyStore(principals),
        new PasswordHasher(PASSWORD_HASH_TEST_COST),
        bus(),
        events,
        clock,
        store,
      );

      const disabled = await admin.disable(owner.id, actor);

      expect(disabled.revokedSigningKeys).toEqual([hmac.accessKeyId, ed25519.accessKeyId].sort());
      expect(disabled.revokedKeys).toEqual([]);
      for (const { accessKeyId } of [hmac, ed25519]) {
        expect((await store.findById(accessKeyId))!.revokedAt).toEqual(new Date(clock.now()));
        expect(await reasonOf(other.resolve(accessKeyId))).toBe('revoked_key');
        expect(record).toHaveBeenCalledWith(
          expect.objectContaining({
            type: 'KEY_REVOKED',
            keyId: accessKeyId,
            details: { kind: 'signing', ownerId: owner.id, reason: 'principal_disabled' },
          }),
        );
      }
      expect(record).toHaveBeenCalledWith(
        expect.objectContaining({
          type: 'ADMIN_ACTION',
          details: expect.objectContaining({
            action: 'principal.disable',
            revokedSigningKeys: disabled.revokedSigningKeys,
          }),
        }),
      );
    });

    it('refuses a key of a disabled principal even before its revocation is stored', async () => {
      const { service, owner, principals, bus } = await setup();
      const issued = await service.create({ ownerId: owner.id }, actor);
      await principals.disable(owner.id, new Date());
      await bus().publish({ kind: 'principal', id: owner.id });

      expect(await reasonOf(service.resolve(issued.accessKeyId))).toBe('revoked_key');
    });

    it('still works without a signing key store (an application without request signing)', async () => {
      const { principals, owner, bus, clock, record } = await setup();
      const admin = new Principals(
        principals,
        new MemoryApiKeyStore(principals),
        new PasswordHasher(PASSWORD_HASH_TEST_COST),
        bus(),
        { record } as unknown as SecurityEvents,
        clock,
      );

      expect(await admin.disable(owner.id, actor)).toMatchObject({ revokedKeys: [], revokedSigningKeys: [] });
    });
  });
});

function lowerCase(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
