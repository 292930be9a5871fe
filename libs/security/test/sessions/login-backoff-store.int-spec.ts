import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { describeWithRedis } from '../../../../test/support/services.js';
import { MemoryLoginBackoffStore } from '../../src/sessions/adapters/memory-login-backoff.store.js';
import { RedisLoginBackoffStore } from '../../src/sessions/adapters/redis-login-backoff.store.js';
import { deleteKeys, useTestRedis } from '../support/test-redis.js';
import { describeLoginBackoffStoreContract, T0 } from './login-backoff-store.contract.js';

const RUN_PREFIX = `nas_test:lb:${randomBytes(6).toString('hex')}:`;
const POLICY = { baseMs: 1_000, maxMs: 60_000, after: 1 };

describeLoginBackoffStoreContract('memory', async () => ({
  store: new MemoryLoginBackoffStore(),
  cleanup: async () => {},
}));

describe('MemoryLoginBackoffStore', () => {
  it('keeps at most maxKeys pairs, dropping the least recently used', async () => {
    const store = new MemoryLoginBackoffStore({ maxKeys: 3 });
    for (const key of ['a', 'b', 'c', 'd']) await store.attempt(key, T0, POLICY);

    expect(store.size).toBe(3);
    expect(await store.attempt('a', T0, POLICY)).toEqual({ allowed: true, failures: 1 });
    expect(await store.attempt('d', T0, POLICY)).toMatchObject({ allowed: false });
  });
});

describeWithRedis('RedisLoginBackoffStore', () => {
  const shared = useTestRedis(RUN_PREFIX);
  let testNumber = 0;

  describeLoginBackoffStoreContract('redis', async () => {
    const prefix = `${RUN_PREFIX}${++testNumber}:`;
    return {
      store: new RedisLoginBackoffStore(shared.admin(), { prefix }),
      cleanup: () => deleteKeys(shared.admin(), prefix),
    };
  });

  it('shares one count between instances', async () => {
    const prefix = `${RUN_PREFIX}shared:`;
    const [first, second] = [shared.client(), shared.client()];
    await Promise.all([first.connect(), second.connect()]);
    const stores = [new RedisLoginBackoffStore(first, { prefix }), new RedisLoginBackoffStore(second, { prefix })];

    expect(await stores[0]!.attempt('pair', T0, POLICY)).toEqual({ allowed: true, failures: 1 });
    expect(await stores[1]!.attempt('pair', T0, POLICY)).toEqual({ allowed: false, retryAfterMs: 1_000 });
    await deleteKeys(shared.admin(), prefix);
  });

  it('stores one small hash per pair that Redis expires once it may be forgotten', async () => {
    const prefix = `${RUN_PREFIX}ttl:`;
    const store = new RedisLoginBackoffStore(shared.admin(), { prefix });
    await store.attempt('pair', T0, POLICY);

    expect(await shared.admin().hgetall(`${prefix}pair`)).toEqual({
      n: '1',
      u: String(T0 + 1_000),
      x: String(T0 + 1_000 + 60_000),
    });
    const ttl = await shared.admin().pttl(`${prefix}pair`);
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(61_000);
    await deleteKeys(shared.admin(), prefix);
  });

  it('rejects when Redis does not answer in time', async () => {
    const client = shared.client('redis://127.0.0.1:1');
    const store = new RedisLoginBackoffStore(client, { prefix: RUN_PREFIX, commandTimeoutMs: 200 });

    await expect(store.attempt('pair', T0, POLICY)).rejects.toThrow();
  });
});
