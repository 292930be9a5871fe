import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SecurityChange, SecurityChangeKind } from '../../src/changes/security-change.js';
import type { SecurityChangeBus, SecurityChangeBusLogger } from '../../src/changes/security-change.bus.js';

/** Two buses standing for two instances of one deployment. */
export interface SecurityChangeBusPair {
  /** Not started yet: the contract starts and stops them. */
  a: SecurityChangeBus;
  b: SecurityChangeBus;
  /** Puts malformed messages on the transport, where `b` reads them; absent where there is no wire format. */
  injectMalformed?: () => Promise<void>;
  /** Releases what `makePair` opened besides the buses (pools, clients); runs after both buses stopped. */
  cleanup(): Promise<void>;
}

/** What a bus delivered to one listener and how often it asked for a resync. */
export interface Recording {
  readonly changes: SecurityChange[];
  readonly resyncs: number;
}

/** Subscribes a recorder to `bus`. */
export function record(bus: SecurityChangeBus): Recording {
  const changes: SecurityChange[] = [];
  let resyncs = 0;
  bus.subscribe((change) => changes.push(change));
  bus.onResync(() => resyncs++);
  return {
    changes,
    get resyncs() {
      return resyncs;
    },
  };
}

/** A logger that keeps what it is told, for assertions and to keep test output quiet. */
export function recordingLogger(): SecurityChangeBusLogger & { logs: string[]; warnings: string[] } {
  const logs: string[] = [];
  const warnings: string[] = [];
  return { logs, warnings, log: (message) => logs.push(message), warn: (message) => warnings.push(message) };
}

/** The bound within which a change must reach the other instance. */
export const DELIVERY_BOUND_MS = 1_000;

/**
 * The behaviour every `SecurityChangeBus` adapter shares, checked with two buses as two instances.
 * @example
 * describeSecurityChangeBusContract('memory', async () => ({ a, b, cleanup: async () => {} }));
 */
export function describeSecurityChangeBusContract(
  name: string,
  makePair: () => Promise<SecurityChangeBusPair>,
  /** False for an adapter with no wire format (memory): the malformed-message test is not registered. */
  { wireFormat = true } = {},
): void {
  // Not registered where it cannot apply, so it never shows as a skipped test.
  const itOnTheWire = wireFormat ? it : ((() => undefined) as unknown as typeof it);
  describe(name, () => {
    describe('between two started instances', () => {
      let pair: SecurityChangeBusPair;
      let a: SecurityChangeBus;
      let b: SecurityChangeBus;

      beforeEach(async () => {
        pair = await makePair();
        ({ a, b } = pair);
        await Promise.all([a.start(), b.start()]);
      }, 30_000);

      afterEach(async () => {
        await Promise.all([pair?.a.stop(), pair?.b.stop()]);
        await pair?.cleanup();
      }, 30_000);

      it('delivers a change to its own listeners before publish resolves and to the other instance within 1 s', async () => {
        const seenA = record(a);
        const seenB = record(b);
        const expected = { kind: 'api-key', id: 'key_revoked_1', origin: a.instanceId };

        await a.publish({ kind: 'api-key', id: 'key_revoked_1' });

        expect(seenA.changes).toEqual([expected]);
        await expect.poll(() => seenB.changes, { timeout: DELIVERY_BOUND_MS }).toEqual([expected]);
        expect(a.instanceId).not.toBe(b.instanceId);
      });

      it('delivers in both directions', async () => {
        const seenA = record(a);

        await b.publish({ kind: 'principal', id: 'b6f0c3d2-8a9e-4f11-9c4b-0d2f9d8e7a61' });

        await expect
          .poll(() => seenA.changes, { timeout: DELIVERY_BOUND_MS })
          .toEqual([{ kind: 'principal', id: 'b6f0c3d2-8a9e-4f11-9c4b-0d2f9d8e7a61', origin: b.instanceId }]);
      });

      it('carries every kind, and `all` with id `*`', async () => {
        const seenB = record(b);
        const changes: Array<{ kind: SecurityChangeKind; id: string }> = [
          { kind: 'api-key', id: 'AbC123xyz789' },
          { kind: 'principal', id: '0d8f7e1c-5b9a-4c3d-8e2f-1a2b3c4d5e6f' },
          { kind: 'role', id: 'editor' },
          { kind: 'signing-key', id: 'AKIDEXAMPLE' },
          { kind: 'session', id: 'sess_0123456789' },
          { kind: 'all', id: '*' },
          { kind: 'role', id: 'x'.repeat(255) },
        ];

        for (const change of changes) await a.publish(change);

        await expect
          .poll(() => seenB.changes, { timeout: DELIVERY_BOUND_MS })
          .toEqual(changes.map((change) => ({ ...change, origin: a.instanceId })));
      });

      it('delivers many changes in publish order, each exactly once, its own ones included', async () => {
        const seenA = record(a);
        const seenB = record(b);
        const many = Array.from({ length: 100 }, (_, i) => ({ kind: 'api-key' as const, id: `key_${i}` }));
        const fromA = (change: { kind: SecurityChangeKind; id: string }) => ({ ...change, origin: a.instanceId });
        const fromB = (change: { kind: SecurityChangeKind; id: string }) => ({ ...change, origin: b.instanceId });
        const first = { kind: 'role' as const, id: 'round-trip-1' };
        const second = { kind: 'role' as const, id: 'round-trip-2' };

        for (const change of many) await a.publish(change);
        await expect.poll(() => seenB.changes.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(many.length);
        // Round trips: by the time each arrives, any duplicate sent before it would have arrived too.
        await b.publish(first);
        await expect.poll(() => seenA.changes.length, { timeout: 5_000 }).toBeGreaterThan(many.length);
        await a.publish(second);
        await expect.poll(() => seenB.changes.length, { timeout: 5_000 }).toBeGreaterThan(many.length + 1);

        const expected = [...many.map(fromA), fromB(first), fromA(second)];
        expect(seenA.changes).toEqual(expected);
        expect(seenB.changes).toEqual(expected);
      }, 30_000);

      itOnTheWire('ignores malformed messages on the transport', async () => {
        const seenB = record(b);

        await pair.injectMalformed!();
        await a.publish({ kind: 'role', id: 'after-garbage' });

        await expect
          .poll(() => seenB.changes, { timeout: DELIVERY_BOUND_MS })
          .toEqual([{ kind: 'role', id: 'after-garbage', origin: a.instanceId }]);
      });

      it('rejects an invalid change without delivering it anywhere', async () => {
        const seenA = record(a);
        const seenB = record(b);
        const invalid = [
          { kind: 'user', id: 'x' },
          { kind: 'role', id: '' },
          { kind: 'role', id: 'x'.repeat(256) },
          { kind: 'all', id: 'everything' },
          { kind: 'api-key', id: 42 },
          null,
        ] as unknown as SecurityChange[];

        for (const change of invalid) await expect(a.publish(change)).rejects.toThrow(TypeError);
        await a.publish({ kind: 'role', id: 'valid' });

        await expect
          .poll(() => seenB.changes, { timeout: DELIVERY_BOUND_MS })
          .toEqual([{ kind: 'role', id: 'valid', origin: a.instanceId }]);
        expect(seenA.changes).toEqual([{ kind: 'role', id: 'valid', origin: a.instanceId }]);
      });

      it('stamps its own instance id as origin, whatever the caller passes', async () => {
        const seenB = record(b);

        await a.publish({ kind: 'session', id: 'sess_1', origin: b.instanceId });

        await expect
          .poll(() => seenB.changes, { timeout: DELIVERY_BOUND_MS })
          .toEqual([{ kind: 'session', id: 'sess_1', origin: a.instanceId }]);
      });

      it('stops calling a listener once unsubscribed, and keeps calling the others', async () => {
        const gone: SecurityChange[] = [];
        const goneLocal: SecurityChange[] = [];
        const unsubscribe = b.subscribe((change) => gone.push(change));
        const unsubscribeLocal = a.subscribe((change) => goneLocal.push(change));
        const seenB = record(b);

        unsubscribe();
        unsubscribe();
        unsubscribeLocal();
        await a.publish({ kind: 'role', id: 'after-unsubscribe' });

        await expect.poll(() => seenB.changes.length, { timeout: DELIVERY_BOUND_MS }).toBe(1);
        expect(gone).toEqual([]);
        expect(goneLocal).toEqual([]);
      });

      it('keeps delivering to the other listeners when one throws', async () => {
        const seenA = record(a);
        a.subscribe(() => {
          throw new Error('listener bug');
        });
        const afterA = record(a);
        b.subscribe(() => {
          throw new Error('listener bug');
        });
        const afterB = record(b);

        await a.publish({ kind: 'api-key', id: 'key_x' });

        expect(seenA.changes).toHaveLength(1);
        expect(afterA.changes).toHaveLength(1);
        await expect.poll(() => afterB.changes.length, { timeout: DELIVERY_BOUND_MS }).toBe(1);
      });

      it('refuses to publish after stop(), which may be called twice', async () => {
        const seenB = record(b);

        await b.stop();
        await b.stop();
        await expect(b.publish({ kind: 'role', id: 'late' })).rejects.toThrow(/stop/);
        await a.publish({ kind: 'role', id: 'still-works' });

        expect(seenB.changes).toEqual([]);
      });
    });

    it('releases every connection and timer in stop()', async () => {
      const before = activeResources();
      const pair = await makePair();
      try {
        await Promise.all([pair.a.start(), pair.b.start()]);
        const seenB = record(pair.b);
        await pair.a.publish({ kind: 'all', id: '*' });
        await expect.poll(() => seenB.changes.length, { timeout: DELIVERY_BOUND_MS }).toBe(1);
      } finally {
        await Promise.all([pair.a.stop(), pair.b.stop()]);
        await pair.cleanup();
      }

      // Sockets close a little after stop() resolves (the peer's FIN); not expect.poll, whose own timer would count.
      for (let waited = 0; leaks(before).length > 0 && waited < 5_000; waited += 50) await sleep(50);
      expect(leaks(before)).toEqual([]);
    }, 30_000);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Resource types (sockets, timers...) of which more are open now than at `before`. */
function leaks(before: Map<string, number>): string[] {
  const now = activeResources();
  return [...now].filter(([type, n]) => n > (before.get(type) ?? 0)).map(([type, n]) => `${type} x${n}`);
}
