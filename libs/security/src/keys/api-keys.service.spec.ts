import { randomBytes } from 'node:crypto';
import type { SecurityEvents } from '../audit/security-events.service.js';
import { MemorySecurityChangeBus } from '../changes/adapters/memory-security-change.bus.js';
import { ManualClock } from '../core/clock.js';
import { SecurityOperationError } from '../core/errors.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import { MemoryPrincipalStore } from '../principals/adapters/memory-principal.store.js';
import { MemoryApiKeyStore } from './adapters/memory-api-key.store.js';
import { ApiKeys } from './api-keys.service.js';
import { parsePepperRing } from './core/secret-hashing.js';

const quiet = { log: () => undefined, warn: () => undefined };
const actor = { label: 'test' };

async function setup() {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const principals = new MemoryPrincipalStore();
  const keys = new MemoryApiKeyStore(principals);
  const bus = new MemorySecurityChangeBus({ logger: quiet });
  await bus.start();
  const record = vi.fn(async () => ({}));
  const events = { record } as unknown as SecurityEvents;
  const owner = await principals.create({ kind: 'user', username: `owner-${randomBytes(4).toString('hex')}` });
  const service = new ApiKeys(
    resolveSecurityOptions({}),
    parsePepperRing(undefined),
    keys,
    principals,
    bus,
    events,
    clock,
  );
  return { service, keys, owner, record };
}

describe('ApiKeys rate limits', () => {
  it('stores a key’s rate limit in its metadata and returns it in every view', async () => {
    const { service, keys, owner, record } = await setup();
    const issued = await service.create({ ownerId: owner.id, name: 'ci', rateLimit: '5000/60s' }, actor);
    expect(issued.rateLimit).toBe('5000/60s');
    expect((await keys.findById(issued.id))!.metadata).toEqual({ rateLimit: '5000/60s' });
    expect(await service.get(issued.id)).toMatchObject({ id: issued.id, rateLimit: '5000/60s' });
    expect(await service.list({ ownerId: owner.id })).toEqual([
      expect.objectContaining({ id: issued.id, rateLimit: '5000/60s' }),
    ]);
    expect(record).toHaveBeenCalledWith(
      expect.objectContaining({ type: 'KEY_CREATED', details: expect.objectContaining({ rateLimit: '5000/60s' }) }),
    );
  });

  it('answers null for a key without one, and stores nothing', async () => {
    const { service, keys, owner } = await setup();
    const issued = await service.create({ ownerId: owner.id, name: 'plain' }, actor);
    expect(issued.rateLimit).toBeNull();
    expect((await keys.findById(issued.id))!.metadata).toEqual({});
    expect((await service.get(issued.id))!.rateLimit).toBeNull();
  });

  it.each(['7 per minute', '0/60s', '5/0s', '5/60', '', '5/60x', ' 5/60s'])(
    'refuses the rate limit %j as invalid input naming the field, storing nothing',
    async (rateLimit) => {
      const { service, keys, owner } = await setup();
      const refusal = service.create({ ownerId: owner.id, name: 'bad', rateLimit }, actor);
      await expect(refusal).rejects.toBeInstanceOf(SecurityOperationError);
      await expect(refusal).rejects.toMatchObject({
        code: 'ERR_SECURITY_INVALID_RATE_LIMIT',
        kind: 'invalid',
        message: expect.stringContaining('rateLimit'),
      });
      expect(await keys.list({ principalId: owner.id, includeRevoked: true })).toEqual([]);
    },
  );

  it('copies the rate limit to the key a rotation issues', async () => {
    const { service, keys, owner } = await setup();
    const issued = await service.create({ ownerId: owner.id, name: 'ci', rateLimit: '7/60s' }, actor);
    const rotated = await service.rotate(issued.id, { grace: '0s' }, actor);
    expect(rotated.rateLimit).toBe('7/60s');
    expect((await keys.findById(rotated.id))!.metadata).toEqual({ rateLimit: '7/60s' });
    expect((await service.get(rotated.id))!.rateLimit).toBe('7/60s');
  });

  it('rotates a key whose stored rate limit no longer parses, dropping it', async () => {
    const { service, keys, owner } = await setup();
    const issued = await service.create({ ownerId: owner.id, name: 'ci' }, actor);
    const stored = (await keys.findById(issued.id))!;
    // A row written by hand or by an older version.
    vi.spyOn(keys, 'findById').mockResolvedValueOnce({ ...stored, metadata: { rateLimit: 'lots' } });
    const rotated = await service.rotate(issued.id, {}, actor);
    expect(rotated.rateLimit).toBeNull();
    expect((await keys.findById(rotated.id))!.metadata).toEqual({});
  });
});
