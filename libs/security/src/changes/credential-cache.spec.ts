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

const TTL_MS = 1_000;
const STALE_MS = 3_000;
const down = new Error('connect ECONNREFUSED');
const failing = async (): Promise<Entry> => {
  throw down;
};

/** A cache with a 1 s TTL and a 3 s stale-if-error window on a clock the test moves. */
function staleSetup(staleIfErrorMs = STALE_MS) {
  const bus = new MemorySecurityChangeBus({ logger: { log: vi.fn(), warn: vi.fn() } });
  const logger = { log: vi.fn(), warn: vi.fn() };
  let time = 1_000_000;
  const cache = new CredentialCache<Entry>({
    bus,
    kind: 'api-key',
    ttlMs: TTL_MS,
    staleIfErrorMs,
    now: () => time,
    logger,
  });
  const advance = (ms: number) => {
    time += ms;
  };
  return { bus, cache, logger, advance };
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

  describe('stale if error', () => {
    it('serves an entry past its TTL only when its reload throws, within the stale window', async () => {
      const { cache, advance } = staleSetup();
      await cache.load('a', async () => entry('p', 1));
      advance(TTL_MS);
      // Past its TTL, `get` never answers with it: the caller must try the store first.
      expect(cache.get('a')).toBeUndefined();
      expect(await cache.load('a', failing)).toEqual(entry('p', 1));
      advance(STALE_MS - 1);
      expect(await cache.load('a', failing)).toEqual(entry('p', 1));
    });

    it('rethrows the store error once the window is over, and keeps rethrowing', async () => {
      const { cache, advance } = staleSetup();
      await cache.load('a', async () => entry('p'));
      advance(TTL_MS + STALE_MS);
      await expect(cache.load('a', failing)).rejects.toBe(down);
      await expect(cache.load('a', failing)).rejects.toBe(down);
    });

    it('rethrows when nothing was cached for the id', async () => {
      const { cache } = staleSetup();
      await expect(cache.load('never-seen', failing)).rejects.toBe(down);
    });

    it('never serves an entry past its own lifetime (a key’s expiry), stale or not', async () => {
      const { cache, advance } = staleSetup();
      await cache.load(
        'a',
        async () => entry('p'),
        () => TTL_MS + 500,
      );
      advance(TTL_MS + 499);
      expect(await cache.load('a', failing)).toEqual(entry('p'));
      advance(1);
      await expect(cache.load('a', failing)).rejects.toBe(down);
    });

    it('takes a fresh load over the stale entry once the store answers again', async () => {
      const { cache, advance } = staleSetup();
      await cache.load('a', async () => entry('p', 1));
      advance(TTL_MS);
      expect(await cache.load('a', failing)).toEqual(entry('p', 1));
      expect(await cache.load('a', async () => entry('p', 2))).toEqual(entry('p', 2));
      expect(cache.get('a')).toEqual(entry('p', 2));
      // The key gone from the store: its stale entry goes too.
      advance(TTL_MS);
      expect(await cache.load('a', async () => null)).toBeUndefined();
      await expect(cache.load('a', failing)).rejects.toBe(down);
    });

    it.each<[string, (bus: MemorySecurityChangeBus, cache: CredentialCache<Entry>) => unknown]>([
      ['its own change', (bus) => bus.publish({ kind: 'api-key', id: 'a' })],
      ['a change of its principal', (bus) => bus.publish({ kind: 'principal', id: 'p' })],
      ['a role change', (bus) => bus.publish({ kind: 'role', id: 'editor' })],
      ['a change of everything', (bus) => bus.publish({ kind: 'all', id: '*' })],
      // What the adapters call after a reconnect or a failed poll.
      ['a resync of the bus', (bus) => (bus as unknown as { resync(): void }).resync()],
      ['forgetOne', (_bus, cache) => cache.forgetOne('a')],
      ['forgetPrincipal', (_bus, cache) => cache.forgetPrincipal('p')],
      ['forgetAll', (_bus, cache) => cache.forgetAll()],
    ])('drops a stale entry on %s: a change known here is never served stale', async (_name, invalidate) => {
      const { bus, cache, advance } = staleSetup();
      await bus.start();
      await cache.load('a', async () => entry('p'));
      advance(TTL_MS);
      await invalidate(bus, cache);
      await expect(cache.load('a', failing)).rejects.toBe(down);
    });

    it('serves nothing stale when the window is 0 (the default)', async () => {
      const { cache, advance } = staleSetup(0);
      await cache.load('a', async () => entry('p'));
      expect(await cache.load('a', failing)).toEqual(entry('p'));
      advance(TTL_MS);
      await expect(cache.load('a', failing)).rejects.toBe(down);
    });

    it('reports serving stale entries once per outage, and the end of it', async () => {
      const { cache, advance, logger } = staleSetup();
      await cache.load('a', async () => entry('p'));
      await cache.load('b', async () => entry('q'));
      advance(TTL_MS);
      await cache.load('a', failing);
      await cache.load('b', failing);
      await cache.load('a', failing);
      expect(logger.warn).toHaveBeenCalledTimes(1);
      expect(logger.warn.mock.calls[0]![0]).toMatch(/api-key cache: .*ECONNREFUSED.*3000 ms past their TTL/);
      await cache.load('a', async () => entry('p'));
      expect(logger.log).toHaveBeenCalledTimes(1);
      advance(TTL_MS);
      await cache.load('b', failing);
      expect(logger.warn).toHaveBeenCalledTimes(2);
    });
  });

  it('stops listening once closed', async () => {
    const { bus, cache } = setup();
    await cache.load('a', async () => entry('p'));
    cache.close();
    await bus.publish({ kind: 'api-key', id: 'a' });
    expect(cache.get('a')).toBeDefined();
  });
});
