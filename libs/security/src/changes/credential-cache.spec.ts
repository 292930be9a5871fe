import { MemorySecurityChangeBus } from './adapters/memory-security-change.bus.js';
import { CredentialCache } from './credential-cache.js';

interface Entry {
  readonly record: { readonly principalId: string };
  readonly version: number;
}

const entry = (principalId: string, version = 1): Entry => ({ record: { principalId }, version });

function setup() {
  const bus = new MemorySecurityChangeBus({ logger: { log: vi.fn(), warn: vi.fn() } });
  const cache = new CredentialCache<Entry>({ bus, kind: 'api-key' });
  return { bus, cache };
}

describe('CredentialCache', () => {
  it('caches a loaded entry, and remembers an id the loader says does not exist', async () => {
    const { cache } = setup();
    expect(await cache.load('a', async () => entry('p'))).toEqual(entry('p'));
    expect(cache.get('a')).toEqual(entry('p'));
    expect(await cache.load('gone', async () => null)).toBeUndefined();
    expect(cache.isUnknown('gone')).toBe(true);
    // undefined: not usable now, not remembered either way.
    expect(await cache.load('later', async () => undefined)).toBeUndefined();
    expect(cache.isUnknown('later')).toBe(false);
    expect(cache.get('later')).toBeUndefined();
  });

  it('does not cache an entry whose ttl is spent (a key past its expiry)', async () => {
    const { cache } = setup();
    await cache.load(
      'a',
      async () => entry('p'),
      () => 0,
    );
    expect(cache.get('a')).toBeUndefined();
  });

  it('returns but does not cache a load that raced with an invalidation', async () => {
    const { bus, cache } = setup();
    let release!: () => void;
    const loading = cache.load('a', () => new Promise<Entry>((resolve) => (release = () => resolve(entry('p')))));
    await bus.publish({ kind: 'api-key', id: 'a' });
    release();
    expect(await loading).toEqual(entry('p'));
    expect(cache.get('a')).toBeUndefined();
  });

  it('drops one credential on its kind, a principal’s on `principal`, and everything on `role` or `all`', async () => {
    const { bus, cache } = setup();
    const fill = async () => {
      await cache.load('a', async () => entry('p'));
      await cache.load('b', async () => entry('p'));
      await cache.load('c', async () => entry('q'));
      await cache.load('x', async () => null);
    };
    await fill();
    await bus.publish({ kind: 'signing-key', id: 'a' });
    expect(cache.get('a')).toBeDefined();
    await bus.publish({ kind: 'api-key', id: 'a' });
    expect(cache.get('a')).toBeUndefined();
    await bus.publish({ kind: 'principal', id: 'p' });
    expect([cache.get('b'), cache.get('c')]).toEqual([undefined, entry('q')]);
    await bus.publish({ kind: 'role', id: 'editor' });
    expect([cache.get('c'), cache.isUnknown('x')]).toEqual([undefined, false]);
    await fill();
    await bus.publish({ kind: 'all', id: '*' });
    expect([cache.get('a'), cache.get('c'), cache.isUnknown('x')]).toEqual([undefined, undefined, false]);
  });

  it('stops listening once closed', async () => {
    const { bus, cache } = setup();
    await cache.load('a', async () => entry('p'));
    cache.close();
    await bus.publish({ kind: 'api-key', id: 'a' });
    expect(cache.get('a')).toBeDefined();
  });
});
