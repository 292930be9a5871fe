import { ManualClock } from '../core/clock.js';
import { SecurityStoreUnavailableError } from '../core/errors.js';
import { MemoryRateLimitStore } from './adapters/memory-rate-limit.store.js';
import { RateLimitStore, type RateLimitCheck, type RateLimitDecision } from './rate-limit.store.js';
import { RateLimiter, type RateLimiterModeChange, type RateLimitPolicyCheck } from './rate-limiter.js';

const PROBE_MS = 1_000;
const W = 60_000;

/**
 * A hand-written double of the shared store: answers with scripted decisions, fails at once (a refused
 * connection), or hangs until `timeOut()` rejects its pending calls (what the Redis store's own timeout
 * does). Counts every call, so tests can see whether the limiter touched it.
 */
class ScriptedStore extends RateLimitStore {
  readonly kind = 'scripted';
  behaviour: 'answer' | 'fail' | 'hang' | 'invalid' = 'answer';
  /** The decisions `answer` returns; by default every check allowed with `remaining: 41`. */
  answer: (checks: readonly RateLimitCheck[]) => RateLimitDecision[] = (checks) =>
    checks.map((check) => ({
      key: check.key,
      allowed: true,
      limit: check.limit,
      remaining: 41,
      resetMs: 0,
      retryAfterMs: 0,
    }));
  readonly calls: Array<{ checks: readonly RateLimitCheck[]; now: number }> = [];
  private readonly pending: Array<(error: Error) => void> = [];

  consume(checks: readonly RateLimitCheck[], now: number): Promise<RateLimitDecision[]> {
    this.calls.push({ checks, now });
    switch (this.behaviour) {
      case 'answer':
        return Promise.resolve(this.answer(checks));
      case 'fail':
        return Promise.reject(unavailable('connect ECONNREFUSED 127.0.0.1:6390'));
      case 'invalid':
        return Promise.reject(new TypeError('rate limit check "ip:x": limit must be an integer >= 1'));
      case 'hang':
        return new Promise((_, reject) => this.pending.push(reject));
    }
  }

  /** Rejects every hanging call, as the store's command timeout would. */
  timeOut(): void {
    for (const reject of this.pending.splice(0)) reject(unavailable('no answer from Redis within 250 ms'));
  }

  get hanging(): number {
    return this.pending.length;
  }
}

function unavailable(message: string): SecurityStoreUnavailableError {
  return new SecurityStoreUnavailableError('rate-limit', 1, { cause: new Error(message) });
}

const check = (overrides: Partial<RateLimitPolicyCheck> = {}): RateLimitPolicyCheck => ({
  name: 'ip',
  key: 'ip:203.0.113.7',
  limit: 3,
  windowMs: W,
  onStoreError: 'local',
  ...overrides,
});

/** Lets every settled promise run its callbacks, so a test can see which checks have resolved. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(options: { fallback?: boolean } = {}) {
  const clock = new ManualClock();
  const store = new ScriptedStore();
  const fallback = options.fallback === false ? undefined : new MemoryRateLimitStore({ sweepIntervalMs: 0 });
  const changes: RateLimiterModeChange[] = [];
  const limiter = new RateLimiter({
    store,
    fallback,
    probeIntervalMs: PROBE_MS,
    now: () => clock.now(),
    onModeChange: (change) => changes.push(change),
  });
  /** Degrades the limiter with one failed request, leaving the store failing. */
  const degrade = async () => {
    store.behaviour = 'fail';
    await limiter.check([check({ key: 'ip:degrade' })]);
    expect(limiter.mode).toBe('degraded');
  };
  return { clock, store, fallback, changes, limiter, degrade };
}

describe('RateLimiter', () => {
  describe('while the shared store answers', () => {
    it('passes the store decisions through, in the order of the checks, with the clock time', async () => {
      const { clock, store, limiter, changes } = setup();
      store.answer = () => [
        { key: 'ip:203.0.113.7', allowed: true, limit: 100, remaining: 99, resetMs: 600, retryAfterMs: 0 },
        { key: 'principal:42', allowed: false, limit: 10, remaining: 0, resetMs: 5_000, retryAfterMs: 4_000 },
      ];
      const checks = [
        check({ limit: 100 }),
        check({ name: 'principal', key: 'principal:42', limit: 10, onStoreError: 'closed' }),
      ];

      const verdict = await limiter.check(checks);

      expect(store.calls).toEqual([{ checks, now: clock.now() }]);
      expect(verdict).toEqual({
        allowed: false,
        unavailable: false,
        decisions: [
          {
            name: 'ip',
            key: 'ip:203.0.113.7',
            allowed: true,
            limit: 100,
            windowMs: W,
            remaining: 99,
            resetMs: 600,
            retryAfterMs: 0,
          },
          {
            name: 'principal',
            key: 'principal:42',
            allowed: false,
            limit: 10,
            windowMs: W,
            remaining: 0,
            resetMs: 5_000,
            retryAfterMs: 4_000,
          },
        ],
      });
      expect(limiter.mode).toBe('shared');
      expect(changes).toEqual([]);
    });

    it('allows a request with no checks without calling the store', async () => {
      const { store, limiter } = setup();
      expect(await limiter.check([])).toEqual({ allowed: true, unavailable: false, decisions: [] });
      expect(store.calls).toHaveLength(0);
    });
  });

  describe('when the shared store fails', () => {
    it('switches to degraded on the first failure and reports it once, with the reason', async () => {
      const { store, limiter, changes } = setup();
      store.behaviour = 'fail';

      // Several requests fail together: still one transition.
      const verdicts = await Promise.all([1, 2, 3].map((i) => limiter.check([check({ key: `ip:198.51.100.${i}` })])));

      expect(limiter.mode).toBe('degraded');
      expect(changes).toEqual([
        { mode: 'degraded', previous: 'shared', store: 'scripted', reason: 'connect ECONNREFUSED 127.0.0.1:6390' },
      ]);
      // The failing requests are not lost: the fallback decides them.
      for (const verdict of verdicts) expect(verdict).toMatchObject({ allowed: true, unavailable: false });
      expect(verdicts[0]!.decisions[0]).toMatchObject({ degraded: 'local', remaining: 2 });
    });

    it('answers hanging requests from the fallback once the store times out, with one transition', async () => {
      const { store, limiter, changes } = setup();
      store.behaviour = 'hang';
      const pending = [1, 2].map(() => limiter.check([check()]));
      await settle();
      expect(store.hanging).toBe(2);

      store.timeOut();
      const verdicts = await Promise.all(pending);

      expect(verdicts.map((verdict) => verdict.decisions[0]!.degraded)).toEqual(['local', 'local']);
      expect(verdicts.map((verdict) => verdict.decisions[0]!.remaining).sort((a, b) => a - b)).toEqual([1, 2]);
      expect(changes).toEqual([
        { mode: 'degraded', previous: 'shared', store: 'scripted', reason: 'no answer from Redis within 250 ms' },
      ]);
    });

    it('does not call the failing store while degraded, except one probe per probe interval', async () => {
      const { clock, store, limiter, changes, degrade } = setup();
      await degrade();
      expect(store.calls).toHaveLength(1);

      // 5 seconds of traffic, 10 requests every 100 ms: 5 probes, one per second, and nothing else.
      for (let tick = 1; tick <= 50; tick++) {
        clock.advance(100);
        await Promise.all(Array.from({ length: 10 }, (_, i) => limiter.check([check({ key: `ip:192.0.2.${i}` })])));
      }

      expect(store.calls).toHaveLength(1 + 5);
      const probeTimes = store.calls.slice(1).map((call) => call.now - store.calls[0]!.now);
      expect(probeTimes).toEqual([1_000, 2_000, 3_000, 4_000, 5_000]);
      expect(limiter.mode).toBe('degraded');
      // Failed probes are not transitions.
      expect(changes).toHaveLength(1);
    });

    it('probes no sooner than one interval after the failure', async () => {
      const { clock, store, limiter, degrade } = setup();
      await degrade();
      clock.advance(PROBE_MS - 1);
      await limiter.check([check()]);
      expect(store.calls).toHaveLength(1);
      clock.advance(1);
      await limiter.check([check()]);
      expect(store.calls).toHaveLength(2);
    });

    it('switches back to shared when a probe answers, decides that request with the store, and reports it', async () => {
      const { clock, store, limiter, changes, degrade } = setup();
      await degrade();
      store.behaviour = 'answer';
      clock.advance(PROBE_MS);

      const probe = await limiter.check([check()]);

      expect(probe.decisions).toEqual([
        {
          name: 'ip',
          key: 'ip:203.0.113.7',
          allowed: true,
          limit: 3,
          windowMs: W,
          remaining: 41,
          resetMs: 0,
          retryAfterMs: 0,
        },
      ]);
      expect(limiter.mode).toBe('shared');
      expect(changes).toEqual([
        { mode: 'degraded', previous: 'shared', store: 'scripted', reason: 'connect ECONNREFUSED 127.0.0.1:6390' },
        { mode: 'shared', previous: 'degraded', store: 'scripted' },
      ]);
      // Shared again: every request goes to the store.
      await limiter.check([check()]);
      await limiter.check([check()]);
      expect(store.calls).toHaveLength(4);
    });

    it('lets only one request probe at a time; the others are decided at once without the store', async () => {
      const { clock, store, limiter, changes, degrade } = setup();
      await degrade();
      clock.advance(PROBE_MS);
      store.behaviour = 'hang';

      const probe = limiter.check([check({ key: 'ip:probe' })]);
      const others = Array.from({ length: 5 }, (_, i) => limiter.check([check({ key: `ip:192.0.2.${i}` })]));
      const decided = await Promise.all(others);
      // A probe interval passes while the probe still hangs: no second probe either.
      clock.advance(PROBE_MS);
      decided.push(await limiter.check([check()]));

      expect(store.calls).toHaveLength(2);
      expect(store.hanging).toBe(1);
      expect(decided.every((verdict) => verdict.decisions[0]!.degraded === 'local')).toBe(true);

      // The probe times out: still degraded, and that request is decided by the fallback.
      store.timeOut();
      expect((await probe).decisions[0]).toMatchObject({ degraded: 'local', allowed: true });
      expect(limiter.mode).toBe('degraded');
      expect(changes).toHaveLength(1);

      // The next probe is one interval after the last one started, and may succeed.
      store.behaviour = 'answer';
      await limiter.check([check()]);
      expect(store.calls).toHaveLength(3);
      expect(limiter.mode).toBe('shared');
    });

    it('probes again when the clock steps back past the last probe', async () => {
      const { clock, store, limiter, degrade } = setup();
      await degrade();
      // An NTP correction sets the wall clock back an hour; recovery must not wait for it to catch up.
      clock.advance(-3_600_000);
      store.behaviour = 'answer';
      await limiter.check([check()]);
      expect(store.calls).toHaveLength(2);
      expect(limiter.mode).toBe('shared');
    });
  });

  describe('policies while degraded, by onStoreError', () => {
    it("limits 'local' policies with the in-process fallback: limit 3, the 4th is refused", async () => {
      const { store, limiter, degrade } = setup();
      await degrade();

      const verdicts = [];
      for (let i = 0; i < 4; i++) verdicts.push(await limiter.check([check()]));

      expect(verdicts.map((verdict) => verdict.allowed)).toEqual([true, true, true, false]);
      expect(verdicts.map((verdict) => verdict.decisions[0]!.remaining)).toEqual([2, 1, 0, 0]);
      const refused = verdicts[3]!;
      expect(refused.unavailable).toBe(false);
      expect(refused.decisions[0]).toMatchObject({
        name: 'ip',
        key: 'ip:203.0.113.7',
        limit: 3,
        windowMs: W,
        degraded: 'local',
      });
      expect(refused.decisions[0]!.retryAfterMs).toBeGreaterThan(0);
      expect(store.calls).toHaveLength(1);
    });

    it("allows 'open' policies beyond their limit, marked degraded: 'open'", async () => {
      const { limiter, fallback, degrade } = setup();
      await degrade();

      for (let i = 0; i < 10; i++) {
        const verdict = await limiter.check([check({ onStoreError: 'open' })]);
        expect(verdict).toEqual({
          allowed: true,
          unavailable: false,
          decisions: [
            {
              name: 'ip',
              key: 'ip:203.0.113.7',
              allowed: true,
              limit: 3,
              windowMs: W,
              remaining: 3,
              resetMs: 0,
              retryAfterMs: 0,
              degraded: 'open',
            },
          ],
        });
      }
      // Nothing was counted for the open policy: only the degrading request is in the fallback.
      expect(fallback!.size).toBe(1);
    });

    it("decides a mix per policy: 'local' in the fallback, 'open' let through", async () => {
      const { limiter, degrade } = setup();
      await degrade();
      const checks = [check({ limit: 2 }), check({ name: 'principal', key: 'principal:42', onStoreError: 'open' })];

      const verdicts = [];
      for (let i = 0; i < 3; i++) verdicts.push(await limiter.check(checks));

      expect(verdicts.map((verdict) => verdict.allowed)).toEqual([true, true, false]);
      expect(verdicts[2]!.decisions.map((decision) => [decision.name, decision.allowed, decision.degraded])).toEqual([
        ['ip', false, 'local'],
        ['principal', true, 'open'],
      ]);
    });

    it("answers unavailable when any policy is 'closed', consuming nothing in the fallback", async () => {
      const { limiter, degrade } = setup();
      await degrade();
      const checks = [check(), check({ name: 'principal', key: 'principal:42', onStoreError: 'closed' })];

      for (let i = 0; i < 5; i++) {
        expect(await limiter.check(checks)).toEqual({ allowed: false, unavailable: true, decisions: [] });
      }
      // The local policy of those requests was not counted: its full budget is left.
      expect((await limiter.check([check()])).decisions[0]).toMatchObject({ allowed: true, remaining: 2 });
    });

    it('answers the closed request that discovers the outage as unavailable too', async () => {
      const { store, limiter } = setup();
      store.behaviour = 'fail';
      expect(await limiter.check([check({ onStoreError: 'closed' })])).toEqual({
        allowed: false,
        unavailable: true,
        decisions: [],
      });
      expect(limiter.mode).toBe('degraded');
    });

    it("lets 'local' policies through when there is no fallback (the store is itself in memory)", async () => {
      const { limiter, degrade } = setup({ fallback: false });
      await degrade();
      for (let i = 0; i < 5; i++) {
        expect((await limiter.check([check()])).decisions[0]).toMatchObject({ allowed: true, degraded: 'open' });
      }
    });
  });

  describe('errors that are not outages', () => {
    it('rethrows a TypeError from the store and stays shared', async () => {
      const { store, limiter, changes } = setup();
      store.behaviour = 'invalid';

      await expect(limiter.check([check()])).rejects.toThrow(TypeError);

      expect(limiter.mode).toBe('shared');
      expect(changes).toEqual([]);
      store.behaviour = 'answer';
      await limiter.check([check()]);
      expect(store.calls).toHaveLength(2);
    });

    it('rethrows a TypeError from a probe, stays degraded, and probes again after the interval', async () => {
      const { clock, store, limiter, changes, degrade } = setup();
      await degrade();
      clock.advance(PROBE_MS);
      store.behaviour = 'invalid';

      await expect(limiter.check([check()])).rejects.toThrow(TypeError);
      expect(limiter.mode).toBe('degraded');

      store.behaviour = 'answer';
      clock.advance(PROBE_MS);
      await limiter.check([check()]);
      expect(limiter.mode).toBe('shared');
      expect(changes.map((change) => change.mode)).toEqual(['degraded', 'shared']);
    });
  });

  it('rejects a probe interval that is not a positive integer', () => {
    const store = new ScriptedStore();
    for (const probeIntervalMs of [0, -1, 1.5, Number.NaN]) {
      expect(() => new RateLimiter({ store, probeIntervalMs, now: Date.now })).toThrow(TypeError);
    }
  });
});
