import type { ExecutionContext } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import type { SecurityEventInput } from '../audit/security-event-types.js';
import { ManualClock } from '../core/clock.js';
import { RateLimitExceededError } from '../core/errors.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import type { AnomalyOptions } from '../options/security-options.js';
import { AnomalyDetector } from './anomaly-detector.service.js';
import { FakeSecurityEvents } from './fake-security-events.test-helpers.js';
import { IpBlockGuard } from './ip-block.guard.js';

const ATTACKER = '203.0.113.7';
const BYSTANDER = '198.51.100.20';
const PRINCIPAL = '11111111-1111-4111-8111-111111111111';

function setup(anomalies: AnomalyOptions | false = {}) {
  const clock = new ManualClock(Date.UTC(2026, 2, 4, 5, 6, 7));
  const events = new FakeSecurityEvents(clock);
  const detector = new AnomalyDetector(resolveSecurityOptions({ anomalies }), events.asService(), clock);
  const guard = new IpBlockGuard(detector, clock);
  const refused = (ip: string, reason = 'unknown', requestId?: string) =>
    events.record({
      type: 'AUTH_FAILED',
      outcome: 'denied',
      status: 401,
      request: { ip, method: 'GET', path: '/me', requestId },
      details: { code: 'ERR_SECURITY_CREDENTIALS_INVALID', reason },
    });
  const denied = (input: Partial<SecurityEventInput> = {}) =>
    events.record({
      type: 'PERMISSION_DENIED',
      outcome: 'denied',
      status: 403,
      principalId: PRINCIPAL,
      request: { ip: ATTACKER },
      details: { code: 'ERR_SECURITY_PERMISSION_DENIED' },
      ...input,
    });
  const suspicious = () => events.ofType('SUSPICIOUS_PATTERN');
  return { clock, events, detector, guard, refused, denied, suspicious };
}

async function times(n: number, action: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i += 1) await action();
}

function httpContext(ip: string | undefined): ExecutionContext {
  const request = { headers: {}, ip, socket: { remoteAddress: ip } };
  return {
    getType: () => 'http',
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
}

function retryAfterOf(guard: IpBlockGuard, ip: string): number | undefined {
  try {
    guard.canActivate(httpContext(ip));
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(RateLimitExceededError);
    expect((error as RateLimitExceededError).context.reason).toBe('ip_blocked');
    return (error as RateLimitExceededError).retryAfterSeconds;
  }
}

describe('AnomalyDetector: failed authentications by IP', () => {
  it('raises one SUSPICIOUS_PATTERN on the 20th refused credential from one IP in a minute', async () => {
    const { clock, refused, suspicious } = setup();
    await times(19, () => refused(ATTACKER));
    expect(suspicious()).toHaveLength(0);

    clock.advance(30_000);
    await refused(ATTACKER, 'mismatch', 'req-20');
    expect(suspicious()).toHaveLength(1);
    const [event] = suspicious();
    expect(event).toMatchObject({
      outcome: 'denied',
      ip: ATTACKER,
      requestId: 'req-20',
      path: '/me',
      details: {
        detector: 'failed-auth-by-ip',
        ip: ATTACKER,
        count: 20,
        limit: 20,
        windowSeconds: 60,
        blockedUntil: new Date(clock.now() + 15 * 60_000).toISOString(),
      },
    });
    expect(event!.principalId).toBeNull();
  });

  it('reports once per window, not on every further failure, and again in a later window', async () => {
    const { clock, refused, suspicious } = setup({ blockFor: false });
    await times(45, () => refused(ATTACKER));
    expect(suspicious()).toHaveLength(1);
    clock.advance(61_000);
    await times(25, () => refused(ATTACKER));
    expect(suspicious()).toHaveLength(2);
  });

  it('never counts requests that presented no credential', async () => {
    const { refused, suspicious, detector } = setup();
    await times(100, () => refused(ATTACKER, 'missing'));
    expect(suspicious()).toHaveLength(0);
    expect(detector.blockedUntil(ATTACKER)).toBeUndefined();
  });

  it('counts each IP on its own', async () => {
    const { refused, suspicious, guard } = setup();
    await times(10, () => refused(ATTACKER));
    await times(10, () => refused(BYSTANDER));
    await times(9, () => refused(ATTACKER));
    expect(suspicious()).toHaveLength(0);
    await refused(ATTACKER);
    expect(suspicious()).toHaveLength(1);
    expect(retryAfterOf(guard, BYSTANDER)).toBeUndefined();
  });

  it('counts IPv6 clients by /64 and IPv4-mapped addresses as IPv4', async () => {
    const { refused, suspicious, detector } = setup();
    for (let i = 0; i < 20; i += 1) await refused(`2001:db8:1:2::${(i + 1).toString(16)}`);
    expect(suspicious()).toHaveLength(1);
    expect(suspicious()[0]!.details.ip).toBe('2001:db8:1:2::/64');
    expect(detector.blockedUntil('2001:db8:1:2:ffff::9')).toBeDefined();
    expect(detector.blockedUntil('2001:db8:1:3::1')).toBeUndefined();

    await times(20, () => refused(`::ffff:${BYSTANDER}`));
    expect(detector.blockedUntil(BYSTANDER)).toBeDefined();
  });

  it('blocks the IP for blockFor: the guard answers 429 with the seconds left, then lets it through', async () => {
    const { clock, refused, guard, detector } = setup({ failedAuthPerIp: '5/10s', blockFor: '10m' });
    await times(4, () => refused(ATTACKER));
    expect(guard.canActivate(httpContext(ATTACKER))).toBe(true);
    await refused(ATTACKER);
    expect(retryAfterOf(guard, ATTACKER)).toBe(600);
    clock.advance(599_500);
    expect(retryAfterOf(guard, ATTACKER)).toBe(1);
    expect(guard.canActivate(httpContext(BYSTANDER))).toBe(true);
    clock.advance(500);
    expect(retryAfterOf(guard, ATTACKER)).toBeUndefined();
    expect(detector.blockedUntil(ATTACKER)).toBeUndefined();
  });

  it('lifts a block on demand', async () => {
    const { refused, guard, detector } = setup({ failedAuthPerIp: '2/10s' });
    await times(2, () => refused(ATTACKER));
    expect(retryAfterOf(guard, ATTACKER)).toBe(900);
    detector.unblock(ATTACKER);
    expect(guard.canActivate(httpContext(ATTACKER))).toBe(true);
  });

  it('detects without blocking when blockFor is false', async () => {
    const { refused, suspicious, guard } = setup({ blockFor: false });
    await times(20, () => refused(ATTACKER));
    expect(suspicious()).toHaveLength(1);
    expect(suspicious()[0]!.details.blockedUntil).toBeUndefined();
    expect(guard.canActivate(httpContext(ATTACKER))).toBe(true);
  });

  it('is off when failedAuthPerIp is false, and everything is off with anomalies: false', async () => {
    const partly = setup({ failedAuthPerIp: false });
    await times(50, () => partly.refused(ATTACKER));
    expect(partly.suspicious()).toHaveLength(0);

    const off = setup(false);
    expect(off.events.listenerCount).toBe(0);
    await times(50, () => off.refused(ATTACKER));
    await times(50, () => off.denied());
    expect(off.suspicious()).toHaveLength(0);
  });
});

describe('AnomalyDetector: denials by principal', () => {
  it('raises SUSPICIOUS_PATTERN on the 30th denial of one principal, and never blocks', async () => {
    const { denied, suspicious, guard } = setup();
    await times(29, () => denied());
    expect(suspicious()).toHaveLength(0);
    await denied();
    expect(suspicious()).toHaveLength(1);
    expect(suspicious()[0]).toMatchObject({
      principalId: PRINCIPAL,
      details: { detector: 'denials-by-principal', principalId: PRINCIPAL, count: 30, windowSeconds: 60 },
    });
    await times(30, () => denied());
    expect(suspicious()).toHaveLength(1);
    expect(guard.canActivate(httpContext(ATTACKER))).toBe(true);
  });

  it('takes the principal from the details when the event has none at the top level', async () => {
    const { denied, suspicious } = setup({ denialsPerPrincipal: '3/60s' });
    await times(3, () => denied({ principalId: undefined, details: { principalId: 'p-9' } }));
    expect(suspicious()[0]!.details.principalId).toBe('p-9');
  });

  it('ignores denials without a principal', async () => {
    const { denied, suspicious } = setup({ denialsPerPrincipal: '3/60s' });
    await times(10, () => denied({ principalId: undefined }));
    expect(suspicious()).toHaveLength(0);
  });
});

describe('AnomalyDetector: its own events', () => {
  it('does not react to SUSPICIOUS_PATTERN events, so raising one cannot loop', async () => {
    const { events, refused } = setup({ failedAuthPerIp: '1/60s', denialsPerPrincipal: '1/60s' });
    await refused(ATTACKER);
    expect(events.records.map((r) => r.type)).toEqual(['AUTH_FAILED', 'SUSPICIOUS_PATTERN']);
    await times(5, () =>
      events.record({
        type: 'SUSPICIOUS_PATTERN',
        outcome: 'denied',
        principalId: PRINCIPAL,
        request: { ip: BYSTANDER },
      }),
    );
    expect(events.ofType('SUSPICIOUS_PATTERN')).toHaveLength(6);
  });

  it('unsubscribes when the module is destroyed', async () => {
    const { events, detector, refused, suspicious } = setup({ failedAuthPerIp: '1/60s' });
    detector.onModuleDestroy();
    expect(events.listenerCount).toBe(0);
    await refused(ATTACKER);
    expect(suspicious()).toHaveLength(0);
  });
});

describe('IpBlockGuard', () => {
  it('skips non-HTTP contexts and requests without an address', async () => {
    const { refused, guard } = setup({ failedAuthPerIp: '1/60s' });
    await refused(ATTACKER);
    expect(guard.canActivate({ getType: () => 'rpc' } as unknown as ExecutionContext)).toBe(true);
    expect(guard.canActivate(httpContext(undefined))).toBe(true);
  });
});
