/** A stand-in whose target can be replaced, so providers injected once see fresh state after a reset. */
export interface Swappable<T extends object> {
  /** What is injected: every property read and method call goes to the current target. */
  readonly proxy: T;
  /** The object the proxy forwards to now. */
  readonly current: T;
  /** Replaces the target with a new one from the factory; returns the previous target. */
  swap(): T;
}

/**
 * Wraps a fresh object from `create` in a proxy that always forwards to the newest one. Methods are called
 * with the target as `this` (private fields work) and `instanceof` sees the target's class.
 * @example
 * const store = swappable(() => new MemoryRateLimitStore());
 * const limiter = new RateLimiter({ store: store.proxy, ... });
 * store.swap(); // the limiter now counts in an empty store
 */
export function swappable<T extends object>(create: () => T): Swappable<T> {
  let current = create();
  const proxy = new Proxy({} as T, {
    get: (_target, property) => {
      const value = Reflect.get(current, property, current) as unknown;
      // Methods run on the target; the class itself stays as it is (Nest reads metadata from `constructor`).
      return typeof value === 'function' && property !== 'constructor'
        ? (value as (...args: unknown[]) => unknown).bind(current)
        : value;
    },
    set: (_target, property, value) => Reflect.set(current, property, value, current),
    has: (_target, property) => Reflect.has(current, property),
    getPrototypeOf: () => Reflect.getPrototypeOf(current),
  });
  return {
    proxy,
    get current() {
      return current;
    },
    swap() {
      const previous = current;
      current = create();
      return previous;
    },
  };
}
