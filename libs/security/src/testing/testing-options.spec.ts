import { describe, expect, it } from 'vitest';
import { SecurityConfigError } from '../core/errors.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import { securityOptionsForTesting, testingClockStart, type SecurityTestingOptions } from './testing-options.js';

describe('securityOptionsForTesting', () => {
  it('keeps everything in the process and in the test environment by default', () => {
    const options = resolveSecurityOptions(securityOptionsForTesting(), { NODE_ENV: 'production' });

    expect(options.environment).toBe('test');
    expect(options.redis).toBe(false);
    expect(options.changes.transport).toBe('memory');
    expect(options.rateLimit).toMatchObject({ store: 'memory' });
    expect(options.audit).toMatchObject({ database: true, spillDir: false, log: true });
    expect(options.signing).toMatchObject({ masterKeys: expect.stringMatching(/^v1:/), masterKeyFile: false });
    expect(options.lint.allow).toEqual(['signing-nonces-not-shared']);
  });

  it("keeps the application's own settings but drops redis and environment if they are passed anyway", () => {
    const given = {
      environment: 'production',
      redis: 'redis://cache.internal:6379',
      rateLimit: { policies: { ip: '5/10s' }, store: 'redis' },
      signing: { masterKeys: `v3:${Buffer.alloc(32, 1).toString('base64')}`, masterKeyFile: '/etc/keys' },
      audit: { log: false, spillDir: '/var/spill' },
      changes: { transport: 'redis', pollInterval: '1s' },
      apiKeys: { prefix: 'acme' },
      lint: { allow: ['rate-limit-ip-off', 'signing-nonces-not-shared'] },
      now: 0,
      logSecurityEvents: true,
    } as unknown as SecurityTestingOptions;

    const options = resolveSecurityOptions(securityOptionsForTesting(given));

    expect(options).toMatchObject({
      environment: 'test',
      redis: false,
      rateLimit: { ip: { limit: 5, windowMs: 10_000 }, store: 'memory' },
      signing: { masterKeys: `v3:${Buffer.alloc(32, 1).toString('base64')}`, masterKeyFile: false },
      audit: { log: false, database: true, spillDir: false },
      changes: { transport: 'memory', pollIntervalMs: 1_000 },
      apiKeys: { prefix: 'acme' },
      lint: { allow: ['rate-limit-ip-off', 'signing-nonces-not-shared'] },
    });
  });

  it('leaves switched-off features off and waives nothing for signing when it is off', () => {
    const options = resolveSecurityOptions(
      securityOptionsForTesting({ rateLimit: false, signing: false, audit: false }),
    );

    expect(options).toMatchObject({ rateLimit: false, signing: false, audit: false, lint: { allow: [] } });
  });

  it('generates a new master key for each test app', () => {
    const first = securityOptionsForTesting().signing;
    const second = securityOptionsForTesting().signing;

    expect(first && first.masterKeys).not.toBe(second && second.masterKeys);
  });
});

describe('testingClockStart', () => {
  it('starts at the real time in whole seconds by default', () => {
    expect(testingClockStart(undefined, 1_700_000_000_999)).toBe(1_700_000_000_000);
  });

  it('takes a Date, ms since the epoch or an ISO 8601 text', () => {
    const at = Date.UTC(2030, 0, 1);
    expect(testingClockStart(new Date(at))).toBe(at);
    expect(testingClockStart(at)).toBe(at);
    expect(testingClockStart('2030-01-01T00:00:00Z')).toBe(at);
  });

  it('refuses what is not a time with a coded SecurityConfigError', () => {
    expect(() => testingClockStart('next tuesday')).toThrow(SecurityConfigError);
    expect(() => testingClockStart(Number.NaN)).toThrow(
      expect.objectContaining({ code: 'ERR_SECURITY_CONFIG_INVALID_VALUE', option: 'now' }),
    );
  });
});
