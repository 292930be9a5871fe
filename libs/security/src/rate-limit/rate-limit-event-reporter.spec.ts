import { describe, expect, it } from 'vitest';
import type { SecurityEventInput } from '../audit/security-event-types.js';
import { ManualClock } from '../core/clock.js';
import { RateLimitEventReporter, type RateLimitRefusal } from './rate-limit-event-reporter.js';

const T0 = Date.UTC(2026, 0, 1);
const W = 10_000;

function setup(maxTracked?: number) {
  const clock = new ManualClock(T0);
  const events: SecurityEventInput[] = [];
  const reporter = new RateLimitEventReporter({
    record: (event) => events.push(event),
    now: () => clock.now(),
    maxTracked,
  });
  return { clock, events, reporter };
}

const refusal = (extra: Partial<RateLimitRefusal> = {}): RateLimitRefusal => ({
  key: 'ip:203.0.113.7',
  policy: 'ip',
  limit: 5,
  windowMs: W,
  retryAfterMs: 2_500,
  principalId: 'p-1',
  keyId: 'k-1',
  request: { requestId: 'req-1', method: 'GET', path: '/items', ip: '203.0.113.7', userAgent: 'ua/1' },
  ...extra,
});

describe('RateLimitEventReporter', () => {
  it('writes the first refusal of a key at once, with what the audit trail needs', () => {
    const { events, reporter } = setup();

    reporter.refused(refusal());

    expect(events).toEqual([
      {
        type: 'RATE_LIMIT_EXCEEDED',
        outcome: 'denied',
        status: 429,
        principalId: 'p-1',
        keyId: 'k-1',
        request: { requestId: 'req-1', method: 'GET', path: '/items', ip: '203.0.113.7', userAgent: 'ua/1' },
        details: {
          code: 'ERR_SECURITY_RATE_LIMITED',
          policy: 'ip',
          counter: 'ip:203.0.113.7',
          limit: 5,
          windowSeconds: 10,
          retryAfterSeconds: 3,
        },
      },
    ]);
    expect(reporter.tracked).toBe(1);
  });

  it('reports a retry-after below one second as 1 second', () => {
    const { events, reporter } = setup();

    reporter.refused(refusal({ retryAfterMs: 0 }));

    expect(events[0]!.details).toMatchObject({ retryAfterSeconds: 1 });
  });

  it('counts further refusals of the key in its window and summarises them once the window has passed', () => {
    const { clock, events, reporter } = setup();
    reporter.refused(refusal());
    for (let i = 0; i < 4; i++) {
      clock.advance(1_000);
      reporter.refused(refusal({ request: { requestId: `req-${i + 2}`, ip: '203.0.113.7' } }));
    }
    expect(events).toHaveLength(1);

    clock.set(T0 + W - 1);
    reporter.flushDue();
    expect(events).toHaveLength(1);

    clock.set(T0 + W + 500);
    reporter.flushDue();
    expect(events).toHaveLength(2);
    expect(events[1]).toEqual({
      type: 'RATE_LIMIT_EXCEEDED',
      outcome: 'denied',
      status: 429,
      principalId: 'p-1',
      keyId: 'k-1',
      request: { ip: '203.0.113.7' },
      details: {
        code: 'ERR_SECURITY_RATE_LIMITED',
        summary: true,
        policy: 'ip',
        counter: 'ip:203.0.113.7',
        limit: 5,
        refused: 4,
        from: new Date(T0).toISOString(),
        to: new Date(T0 + W).toISOString(),
      },
    });
    expect(reporter.tracked).toBe(0);

    reporter.flushDue();
    expect(events).toHaveLength(2);
  });

  it('writes no summary for a key refused only once', () => {
    const { clock, events, reporter } = setup();
    reporter.refused(refusal());

    clock.advance(W);
    reporter.flushDue();

    expect(events).toHaveLength(1);
    expect(reporter.tracked).toBe(0);
  });

  it('follows each key separately', () => {
    const { clock, events, reporter } = setup();
    reporter.refused(refusal());
    reporter.refused(refusal({ key: 'principal:p-2', policy: 'principal', principalId: 'p-2' }));
    reporter.refused(refusal());

    expect(events.map((event) => event.details!.counter)).toEqual(['ip:203.0.113.7', 'principal:p-2']);

    clock.advance(W);
    reporter.flushDue();
    expect(events.slice(2).map((event) => [event.details!.counter, event.details!.refused])).toEqual([
      ['ip:203.0.113.7', 1],
    ]);
  });

  it('starts a new episode with an immediate event after the window, summarising the old one first', () => {
    const { clock, events, reporter } = setup();
    reporter.refused(refusal());
    reporter.refused(refusal());
    reporter.refused(refusal());

    // No flushDue in between: the next refusal closes the ended episode itself.
    clock.advance(W);
    reporter.refused(refusal({ request: { requestId: 'req-next' } }));

    expect(events).toHaveLength(3);
    expect(events[1]!.details).toMatchObject({ summary: true, refused: 2 });
    expect(events[2]!.details).not.toHaveProperty('summary');
    expect(events[2]!.request).toEqual({ requestId: 'req-next' });
    expect(reporter.tracked).toBe(1);
  });

  it('counts refusals of keys beyond maxTracked together in one overflow summary', () => {
    const { clock, events, reporter } = setup(2);
    reporter.refused(refusal({ key: 'ip:a', policy: 'ip' }));
    reporter.refused(refusal({ key: 'ip:b', policy: 'ip' }));
    reporter.refused(refusal({ key: 'ip:c', policy: 'ip' }));
    reporter.refused(refusal({ key: 'login:ip:d', policy: 'login' }));
    reporter.refused(refusal({ key: 'ip:c', policy: 'ip' }));

    expect(events.map((event) => event.details!.counter)).toEqual(['ip:a', 'ip:b']);
    expect(reporter.tracked).toBe(2);

    // Still full: the overflow waits until there is room again.
    clock.advance(1_000);
    reporter.flushDue();
    expect(events).toHaveLength(2);

    clock.set(T0 + W);
    reporter.flushDue();
    expect(events).toHaveLength(3);
    expect(events[2]).toEqual({
      type: 'RATE_LIMIT_EXCEEDED',
      outcome: 'denied',
      status: 429,
      details: {
        code: 'ERR_SECURITY_RATE_LIMITED',
        summary: true,
        overflow: true,
        policies: ['ip', 'login'],
        refused: 3,
        from: new Date(T0).toISOString(),
        to: new Date(T0 + W).toISOString(),
      },
    });

    reporter.refused(refusal({ key: 'ip:c' }));
    expect(events).toHaveLength(4);
    expect(events[3]!.details).toMatchObject({ counter: 'ip:c' });
  });

  it('flushAll writes every pending summary, ended or not, and the overflow', () => {
    const { clock, events, reporter } = setup(1);
    reporter.refused(refusal({ key: 'ip:a' }));
    reporter.refused(refusal({ key: 'ip:a' }));
    reporter.refused(refusal({ key: 'ip:b' }));

    clock.advance(2_000);
    reporter.flushAll();

    expect(events).toHaveLength(3);
    expect(events[1]!.details).toMatchObject({
      summary: true,
      counter: 'ip:a',
      refused: 1,
      to: new Date(T0 + 2_000).toISOString(),
    });
    expect(events[2]!.details).toMatchObject({ summary: true, overflow: true, refused: 1 });
    expect(reporter.tracked).toBe(0);

    reporter.flushAll();
    expect(events).toHaveLength(3);
  });

  it('leaves the request out of a summary whose first refusal had no IP', () => {
    const { clock, events, reporter } = setup();
    reporter.refused(refusal({ request: undefined }));
    reporter.refused(refusal({ request: undefined }));

    clock.advance(W);
    reporter.flushDue();

    expect(events[1]!.request).toBeUndefined();
  });
});
