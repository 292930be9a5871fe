import { describe, expect, it } from 'vitest';
import { describePrincipalStoreContract } from '../../test/stores/principal-store.contract.js';
import { swappable } from './swappable.js';
import { TestingPrincipalStore } from './testing-principal.store.js';

class Counter {
  readonly kind = 'counter';
  #count = 0;
  label = 'a';

  hit(): number {
    return ++this.#count;
  }

  get count(): number {
    return this.#count;
  }
}

describe('swappable', () => {
  it('forwards reads, writes and calls to the current target, private fields included', () => {
    const counter = swappable(() => new Counter());

    expect(counter.proxy.hit()).toBe(1);
    expect(counter.proxy.hit()).toBe(2);
    expect(counter.proxy.count).toBe(2);
    expect(counter.proxy.kind).toBe('counter');
    counter.proxy.label = 'b';
    expect(counter.current.label).toBe('b');
    expect('hit' in counter.proxy).toBe(true);
  });

  it('passes instanceof checks for the target class and shows its constructor', () => {
    const { proxy } = swappable(() => new Counter());

    expect(proxy).toBeInstanceOf(Counter);
    expect(proxy.constructor).toBe(Counter);
  });

  it('forwards to a fresh target after swap() and hands back the previous one', () => {
    const counter = swappable(() => new Counter());
    const hit = Reflect.get(counter.proxy, 'hit') as () => number;
    counter.proxy.hit();

    const previous = counter.swap();

    expect(previous.count).toBe(1);
    expect(counter.proxy.count).toBe(0);
    expect(counter.proxy.hit()).toBe(1);
    // A method taken off the proxy earlier stays bound to the target of that moment.
    expect(hit()).toBe(2);
    expect(previous.count).toBe(2);
  });
});

// The proxy the module injects must behave exactly like the store behind it.
describePrincipalStoreContract('TestingPrincipalStore behind swappable()', async () => ({
  store: swappable(() => new TestingPrincipalStore()).proxy,
  cleanup: async () => {},
}));
