import { randomBytes } from 'node:crypto';
import { MemorySecurityChangeBus } from '../changes/adapters/memory-security-change.bus.js';
import { ManualClock } from '../core/clock.js';
import { InvalidCredentialsError, SecurityStoreUnavailableError } from '../core/errors.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import type { SecurityModuleOptions } from '../options/security-options.js';
import { MemoryPrincipalStore } from '../principals/adapters/memory-principal.store.js';
import { MemoryApiKeyStore } from './adapters/memory-api-key.store.js';
import { ApiKeyUsageRecorder } from './api-key-usage.recorder.js';
import { ApiKeyVerifier } from './api-key.verifier.js';
import { generateApiKey } from './core/api-key-format.js';
import { hashSecret, parsePepperRing, type PepperRing } from './core/secret-hashing.js';

const quiet = { log: () => undefined, warn: () => undefined };

async function setup(ring: PepperRing = parsePepperRing(undefined), options: SecurityModuleOptions = {}) {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const principals = new MemoryPrincipalStore();
  const keys = new MemoryApiKeyStore(principals);
  const bus = new MemorySecurityChangeBus({ logger: quiet });
  await bus.start();
  await principals.upsertRole('viewer', ['users:read', 'documents:read']);
  const owner = await principals.create({ kind: 'user', username: `owner-${randomBytes(4).toString('hex')}` });
  await principals.assignRole(owner.id, 'viewer');
  const usage = new ApiKeyUsageRecorder(keys);
  const verifier = (withRing = ring) =>
    new ApiKeyVerifier(resolveSecurityOptions(options), withRing, keys, principals, usage, clock, bus);
  const issue = async (
    extra: {
      expiresAt?: Date | null;
      scopes?: string[] | null;
      metadata?: Record<string, unknown>;
      principalId?: string;
    } = {},
    withRing = ring,
  ) => {
    const generated = generateApiKey();
    await keys.create({
      id: generated.id,
      principalId: extra.principalId ?? owner.id,
      name: 'k',
      environment: 'live',
      secretHash: hashSecret(generated.secret, withRing),
      hashVersion: withRing.current,
      scopes: extra.scopes ?? null,
      allowedCidrs: null,
      expiresAt: extra.expiresAt ?? null,
      rotatedFrom: null,
      metadata: extra.metadata ?? {},
      createdAt: new Date(clock.now()),
    });
    return generated;
  };
  /** A viewer whose stored attributes are `attributes`. */
  const principalWith = async (attributes: Record<string, unknown>) => {
    const created = await principals.create({
      kind: 'user',
      username: `limited-${randomBytes(4).toString('hex')}`,
      attributes,
    });
    await principals.assignRole(created.id, 'viewer');
    return created;
  };
  return { clock, principals, keys, bus, usage, verifier, issue, owner, principalWith };
}

const reasonOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: unknown) =>
      error instanceof InvalidCredentialsError
        ? error.reason
        : error instanceof SecurityStoreUnavailableError
          ? 'unavailable'
          : String(error),
  );

describe('ApiKeyVerifier', () => {
  it('authenticates the principal with its role permissions narrowed by the key scopes', async () => {
    const { verifier, issue, owner } = await setup();
    const key = await issue({ scopes: ['users:read', 'payments:write'] });
    const { principal } = await verifier().verify(key.key);
    expect(principal).toMatchObject({ id: owner.id, roles: ['viewer'], permissions: ['users:read'], keyId: key.id });
  });

  it('serves a verified key from its cache until a broadcast drops it', async () => {
    const { verifier, issue, keys, bus, clock } = await setup();
    const subject = verifier();
    const key = await issue();
    await subject.verify(key.key);
    const lookups = vi.spyOn(keys, 'findById');
    await keys.revoke(key.id, new Date(clock.now()));

    // Revoked in the store behind the cache's back: still accepted, which is why changes are broadcast.
    expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
    expect(lookups).not.toHaveBeenCalled();
    await bus.publish({ kind: 'api-key', id: key.id });
    expect(await reasonOf(subject.verify(key.key))).toBe('revoked');
    expect(lookups).toHaveBeenCalledTimes(1);
  });

  it('drops a principal’s keys on a principal change, and everything on a resync', async () => {
    const { verifier, issue, principals, bus, clock, owner } = await setup();
    const subject = verifier();
    const [first, second] = [await issue(), await issue()];
    await subject.verify(first.key);
    await subject.verify(second.key);
    await principals.disable(owner.id, new Date(clock.now()));
    await bus.publish({ kind: 'principal', id: owner.id });
    expect(await reasonOf(subject.verify(first.key))).toBe('principal_disabled');
    expect(await reasonOf(subject.verify(second.key))).toBe('principal_disabled');
  });

  it('never accepts a cached key past its expiry', async () => {
    const { verifier, issue, clock } = await setup();
    const subject = verifier();
    const key = await issue({ expiresAt: new Date(clock.now() + 60_000) });
    expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
    clock.advance(60_000);
    expect(await reasonOf(subject.verify(key.key))).toBe('expired');
  });

  it('remembers unknown key ids for a while instead of asking the store each time', async () => {
    const { verifier, keys } = await setup();
    const subject = verifier();
    const lookups = vi.spyOn(keys, 'findById');
    const stranger = generateApiKey().key;
    expect(await reasonOf(subject.verify(stranger))).toBe('unknown');
    expect(await reasonOf(subject.verify(stranger))).toBe('unknown');
    expect(lookups).toHaveBeenCalledTimes(1);
  });

  it('checks the secret in constant time against the stored hash and refuses another secret', async () => {
    const { verifier, issue } = await setup();
    const key = await issue();
    const other = generateApiKey();
    const forged = key.key.slice(0, 20) + other.key.slice(20, 42);
    // The checksum is recomputed, so the forged key passes the format check and reaches the comparison.
    const { apiKeyChecksum } = await import('./core/api-key-format.js');
    expect(await reasonOf(verifier().verify(forged + apiKeyChecksum(forged)))).toBe('mismatch');
  });

  it('refuses another secret for a cached key whose own secret was already verified', async () => {
    const { verifier, issue } = await setup();
    const subject = verifier();
    const key = await issue();
    const { apiKeyChecksum } = await import('./core/api-key-format.js');
    const forgedBody = key.key.slice(0, 20) + generateApiKey().key.slice(20, 42);
    const forged = forgedBody + apiKeyChecksum(forgedBody);
    // The first success remembers a digest of the secret; it must match only that secret.
    expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
    expect(await reasonOf(subject.verify(forged))).toBe('mismatch');
    expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
    expect(await reasonOf(subject.verify(forged))).toBe('mismatch');
  });

  it('checks a cached key against its stored hash again once a change drops the entry', async () => {
    const { verifier, issue, keys, bus } = await setup();
    const subject = verifier();
    const key = await issue();
    expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
    // The stored hash replaced (as a rehash or a repair would) and the change broadcast: the remembered
    // digest goes with the entry, so the old secret no longer passes.
    const record = (await keys.findById(key.id))!;
    await keys.updateHash(
      key.id,
      record.secretHash,
      hashSecret('another secret', parsePepperRing(undefined)),
      'sha256',
    );
    await bus.publish({ kind: 'api-key', id: key.id });
    expect(await reasonOf(subject.verify(key.key))).toBe('mismatch');
  });

  it('upgrades a hash made under an older pepper version the first time the key is used', async () => {
    const pepper = (n: number) => Buffer.alloc(32, n).toString('base64');
    const oldRing = parsePepperRing(`v1:${pepper(1)}`);
    const newRing = parsePepperRing(`v2:${pepper(2)},v1:${pepper(1)}`);
    const { verifier, issue, keys } = await setup(oldRing);
    const key = await issue({}, oldRing);
    expect((await keys.findById(key.id))!.hashVersion).toBe(oldRing.current);

    expect(await reasonOf(verifier(newRing).verify(key.key))).toBe('accepted');
    await expect.poll(async () => (await keys.findById(key.id))!.hashVersion).toBe(newRing.current);
    expect((await keys.findById(key.id))!.secretHash).toBe(hashSecret(key.secret, newRing));
    // Once the old pepper is gone from the ring, the upgraded key still works.
    expect(await reasonOf(verifier(parsePepperRing(`v2:${pepper(2)}`)).verify(key.key))).toBe('accepted');
  });

  it('records usage in a batch', async () => {
    const { verifier, issue, keys, usage, clock } = await setup();
    const key = await issue();
    await verifier().verify(key.key);
    expect((await keys.findById(key.id))!.lastUsedAt).toBeNull();
    await usage.flush();
    expect((await keys.findById(key.id))!.lastUsedAt).toEqual(new Date(clock.now()));
    await usage.onModuleDestroy();
  });

  describe('while the key store does not answer', () => {
    const TTL_MS = 1_000;
    const STALE_MS = 3_000;
    const staleSetup = async (apiKeys: SecurityModuleOptions['apiKeys'] = { cacheTtl: '1s', staleIfError: '3s' }) => {
      const context = await setup(undefined, { apiKeys });
      const subject = context.verifier();
      /** The store goes away: every look-up rejects, as a cut connection does. */
      const cut = () => {
        vi.spyOn(context.keys, 'findById').mockRejectedValue(new Error('connect ECONNREFUSED'));
        vi.spyOn(context.principals, 'accessOf').mockRejectedValue(new Error('connect ECONNREFUSED'));
      };
      return { ...context, subject, cut };
    };

    it('serves a cached key past its TTL within the stale window, then refuses it as unavailable', async () => {
      const { subject, issue, clock, cut } = await staleSetup();
      const key = await issue();
      expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
      cut();
      clock.advance(TTL_MS);
      expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
      clock.advance(STALE_MS - 1);
      expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
      clock.advance(1);
      expect(await reasonOf(subject.verify(key.key))).toBe('unavailable');
    });

    it('gives up on a silent store after lookupTimeout: the stale entry within its window, else unavailable', async () => {
      const context = await setup(undefined, {
        apiKeys: { cacheTtl: '1s', staleIfError: '3s', lookupTimeout: '50ms' },
      });
      const subject = context.verifier();
      const key = await context.issue();
      expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
      // A partition: the look-ups never settle.
      const silent = () => new Promise<never>(() => undefined);
      vi.spyOn(context.keys, 'findById').mockImplementation(silent);
      vi.spyOn(context.principals, 'accessOf').mockImplementation(silent);
      context.clock.advance(TTL_MS);
      expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
      const unseen = await subject.verify(generateApiKey().key).catch((caught: unknown) => caught);
      expect(unseen).toBeInstanceOf(SecurityStoreUnavailableError);
      expect((unseen as Error).cause).toMatchObject({ message: 'no answer from the database within 50 ms' });
    });

    it('answers unavailable (503), never unknown, for a key it has not seen', async () => {
      const { subject, cut } = await staleSetup();
      cut();
      const error = await subject.verify(generateApiKey().key).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SecurityStoreUnavailableError);
      expect(error).toMatchObject({ code: 'ERR_SECURITY_STORE_UNAVAILABLE', retryAfterSeconds: 2 });
    });

    it('refuses a stale key from its expiry on, inside the stale window', async () => {
      const { subject, issue, clock, cut } = await staleSetup();
      const key = await issue({ expiresAt: new Date(clock.now() + TTL_MS + 500) });
      expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
      cut();
      clock.advance(TTL_MS + 499);
      expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
      clock.advance(1);
      expect(await reasonOf(subject.verify(key.key))).not.toBe('accepted');
    });

    it('checks the secret, revocation time and environment of a stale entry as of a fresh one', async () => {
      const { subject, issue, keys, clock, cut } = await staleSetup();
      const key = await issue();
      // A rotation's grace: revoked two seconds from now, known to the cached record.
      await keys.revoke(key.id, new Date(clock.now() + 2_000));
      expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
      cut();
      clock.advance(TTL_MS);
      const { apiKeyChecksum } = await import('./core/api-key-format.js');
      const forgedBody = key.key.slice(0, 20) + generateApiKey().key.slice(20, 42);
      expect(await reasonOf(subject.verify(forgedBody + apiKeyChecksum(forgedBody)))).toBe('mismatch');
      const otherEnvironment = key.key.replace('_live_', '_test_').slice(0, 42);
      expect(await reasonOf(subject.verify(otherEnvironment + apiKeyChecksum(otherEnvironment)))).toBe('mismatch');
      expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
      clock.advance(1_000);
      expect(await reasonOf(subject.verify(key.key))).toBe('revoked');
    });

    it('honours a change that never reached this instance at most the stale window late (the trade-off)', async () => {
      const { subject, principalWith, issue, principals, clock, keys } = await staleSetup();
      const owner = await principalWith({});
      const key = await issue({ principalId: owner.id });
      expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
      // Disabled by another instance while this one is cut off from the store and from its broadcasts.
      await principals.disable(owner.id, new Date(clock.now()));
      clock.advance(TTL_MS);
      const lookups = vi.spyOn(keys, 'findById').mockRejectedValue(new Error('connect ECONNREFUSED'));
      expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
      clock.advance(STALE_MS);
      expect(await reasonOf(subject.verify(key.key))).toBe('unavailable');
      // The store back: the reload sees the change.
      lookups.mockRestore();
      expect(await reasonOf(subject.verify(key.key))).toBe('principal_disabled');
    });

    it.each<[string, (context: Awaited<ReturnType<typeof setup>>, keyId: string, ownerId: string) => unknown]>([
      ['a broadcast revocation', ({ bus }, keyId) => bus.publish({ kind: 'api-key', id: keyId })],
      [
        'a broadcast change of its principal',
        ({ bus }, _keyId, ownerId) => bus.publish({ kind: 'principal', id: ownerId }),
      ],
      ['a resync of the change bus', ({ bus }) => (bus as unknown as { resync(): void }).resync()],
    ])('never serves stale a key dropped by %s', async (_name, invalidate) => {
      const context = await staleSetup();
      const key = await context.issue();
      expect(await reasonOf(context.subject.verify(key.key))).toBe('accepted');
      context.cut();
      await invalidate(context, key.id, context.owner.id);
      expect(await reasonOf(context.subject.verify(key.key))).toBe('unavailable');
      context.clock.advance(TTL_MS);
      expect(await reasonOf(context.subject.verify(key.key))).toBe('unavailable');
    });

    it('refuses as unavailable as soon as the TTL is over when the stale window is off (the default)', async () => {
      const { subject, issue, clock, cut } = await staleSetup({ cacheTtl: '1s' });
      const key = await issue();
      expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
      cut();
      clock.advance(TTL_MS - 1);
      expect(await reasonOf(subject.verify(key.key))).toBe('accepted');
      clock.advance(1);
      expect(await reasonOf(subject.verify(key.key))).toBe('unavailable');
    });
  });

  describe('rate-limit override', () => {
    it('exposes the key’s own limit, counted per key, ahead of the principal’s', async () => {
      const { verifier, issue, principalWith } = await setup();
      const owner = await principalWith({ rateLimit: '10/60s' });
      const key = await issue({ principalId: owner.id, metadata: { rateLimit: '5000/60s' } });
      const { principal } = await verifier().verify(key.key);
      expect(principal.rateLimit).toEqual({ limit: '5000/60s', per: 'key' });
      expect(Object.isFrozen(principal)).toBe(true);
      expect(Object.isFrozen(principal.rateLimit)).toBe(true);
    });

    it('falls back to the principal’s rateLimit attribute, counted per principal', async () => {
      const { verifier, issue, principalWith } = await setup();
      const owner = await principalWith({ rateLimit: '10/60s', department: 'ops' });
      const key = await issue({ principalId: owner.id });
      const { principal } = await verifier().verify(key.key);
      expect(principal.rateLimit).toEqual({ limit: '10/60s', per: 'principal' });
      expect(principal.attributes).toMatchObject({ rateLimit: '10/60s', department: 'ops' });
    });

    it('has none when neither the key nor the principal has one', async () => {
      const { verifier, issue } = await setup();
      const { principal } = await verifier().verify((await issue()).key);
      expect(principal).not.toHaveProperty('rateLimit');
    });

    it.each([['7 per minute'], ['0/60s'], ['5/0s'], [''], [5000], [{ limit: '5/60s' }], [null]])(
      'ignores a stored limit %j that does not parse, and never refuses the key for it',
      async (garbage) => {
        const { verifier, issue, principalWith } = await setup();
        const plain = await principalWith({ rateLimit: garbage });
        const bothBad = await issue({ principalId: plain.id, metadata: { rateLimit: garbage } });
        expect((await verifier().verify(bothBad.key)).principal).not.toHaveProperty('rateLimit');

        const limited = await principalWith({ rateLimit: '3/1s' });
        const badKey = await issue({ principalId: limited.id, metadata: { rateLimit: garbage } });
        expect((await verifier().verify(badKey.key)).principal.rateLimit).toEqual({ limit: '3/1s', per: 'principal' });
      },
    );
  });
});
