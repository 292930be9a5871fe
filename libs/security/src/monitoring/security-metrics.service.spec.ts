import { describe, expect, it } from 'vitest';
import type { SecurityEventInput } from '../audit/security-event-types.js';
import { ManualClock } from '../core/clock.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import type { SecurityModuleOptions } from '../options/security-options.js';
import { FakeSecurityEvents } from './fake-security-events.test-helpers.js';
import { SecurityMetrics } from './security-metrics.service.js';

function setup(options: SecurityModuleOptions = {}, auditQueueDepth?: () => number) {
  const clock = new ManualClock();
  const events = new FakeSecurityEvents(clock);
  const metrics = new SecurityMetrics(resolveSecurityOptions(options), events.asService(), auditQueueDepth);
  const emit = (type: SecurityEventInput['type'], details: Record<string, unknown> = {}) =>
    events.record({ type, outcome: 'denied', details });
  const lines = async () => (await metrics.render()).body.split('\n');
  return { events, metrics, emit, lines };
}

describe('SecurityMetrics', () => {
  it('renders the Prometheus text format with its content type', async () => {
    const { metrics } = setup();
    const rendered = await metrics.render();
    expect(rendered.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(rendered.body).toContain('# TYPE nas_authentication_total counter');
    expect(rendered.body).toContain('# TYPE nas_audit_queue_depth gauge');
    expect(rendered.body).toContain('nas_process_cpu_user_seconds_total');
  });

  it('counts authentication failures by reason and successes by method', async () => {
    const { metrics, emit, lines } = setup();
    await emit('AUTH_FAILED', { reason: 'unknown' });
    await emit('AUTH_FAILED', { reason: 'unknown' });
    await emit('AUTH_FAILED', { reason: 'missing' });
    await emit('AUTH_FAILED', { reason: 'Not a Label Value {"}' });
    metrics.recordAuthenticationSuccess('api-key');
    expect(await lines()).toEqual(
      expect.arrayContaining([
        'nas_authentication_total{result="failure",reason="unknown"} 2',
        'nas_authentication_total{result="failure",reason="missing"} 1',
        'nas_authentication_total{result="failure",reason="other"} 1',
        'nas_authentication_total{result="success",method="api-key"} 1',
      ]),
    );
  });

  it('counts denials, rate-limit decisions, signature failures, suspicious patterns and every event type', async () => {
    const { metrics, emit, lines } = setup();
    await emit('PERMISSION_DENIED');
    await emit('PERMISSION_DENIED');
    // A policy's event stands for an episode, not one refusal: refusals are counted by the limiter.
    await emit('RATE_LIMIT_EXCEEDED', { policy: 'ip' });
    await emit('RATE_LIMIT_EXCEEDED', { reason: 'ip_blocked' });
    metrics.recordRateLimitDenied();
    metrics.recordRateLimitAllowed();
    await emit('SIGNATURE_REJECTED', { reason: 'expired' });
    await emit('SUSPICIOUS_PATTERN', { detector: 'failed-auth-by-ip' });
    expect(await lines()).toEqual(
      expect.arrayContaining([
        'nas_permission_denials_total 2',
        'nas_rate_limit_decisions_total{decision="denied"} 1',
        'nas_rate_limit_decisions_total{decision="blocked"} 1',
        'nas_rate_limit_decisions_total{decision="allowed"} 1',
        'nas_signature_failures_total{reason="expired"} 1',
        'nas_suspicious_patterns_total{detector="failed-auth-by-ip"} 1',
        'nas_security_events_total{type="PERMISSION_DENIED"} 2',
        'nas_security_events_total{type="RATE_LIMIT_EXCEEDED"} 2',
        'nas_security_events_total{type="SUSPICIOUS_PATTERN"} 1',
      ]),
    );
  });

  it('reads the audit queue depth at scrape time, 0 without a provider or when the probe fails', async () => {
    let depth = 3;
    const withProbe = setup({}, () => depth);
    expect(await withProbe.lines()).toContain('nas_audit_queue_depth 3');
    depth = 7;
    expect(await withProbe.lines()).toContain('nas_audit_queue_depth 7');
    expect(await setup().lines()).toContain('nas_audit_queue_depth 0');
    const failing = setup({}, () => {
      throw new Error('gone');
    });
    expect(await failing.lines()).toContain('nas_audit_queue_depth 0');
  });

  it('keeps each instance in a registry of its own', async () => {
    const first = setup();
    const second = setup();
    await first.emit('PERMISSION_DENIED');
    expect(await first.lines()).toContain('nas_permission_denials_total 1');
    expect(await second.lines()).toContain('nas_permission_denials_total 0');
  });

  it('leaves out the process metrics with defaultMetrics: false, and renders nothing with metrics: false', async () => {
    const lean = setup({ metrics: { defaultMetrics: false } });
    expect((await lean.metrics.render()).body).not.toContain('nas_process_');
    const off = setup({ metrics: false });
    expect(off.events.listenerCount).toBe(0);
    expect((await off.metrics.render()).body.trim()).toBe('');
  });

  it('unsubscribes when the module is destroyed', () => {
    const { events, metrics } = setup();
    metrics.onModuleDestroy();
    expect(events.listenerCount).toBe(0);
  });
});
