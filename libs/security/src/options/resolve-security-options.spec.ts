import { SecurityConfigError } from '../core/errors.js';
import { resolveSecurityOptions } from './resolve-security-options.js';
import type { SecurityModuleOptions } from './security-options.js';

function codeOf(options: unknown, env: { NODE_ENV?: string } = {}): string | undefined {
  try {
    resolveSecurityOptions(options as SecurityModuleOptions, env);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(SecurityConfigError);
    return (error as SecurityConfigError).code;
  }
}

describe('resolveSecurityOptions', () => {
  it('fills every feature from the defaults', () => {
    const options = resolveSecurityOptions();
    expect(options.environment).toBe('development');
    expect(options.requestId).toEqual({ trustInbound: true });
    expect(options.authentication).toEqual({ nonHttpContexts: 'skip' });
    expect(options.apiKeys).toEqual({
      prefix: 'sk',
      environment: 'live',
      queryParam: false,
      defaultExpiryMs: false,
      pepper: undefined,
      cacheTtlMs: 30_000,
      staleIfErrorMs: 0,
      lookupTimeoutMs: 2_000,
    });
    expect(options.changes).toEqual({ transport: 'auto', pollIntervalMs: 250 });
    const policy = (name: string, limit: number, windowMs: number) => ({
      name,
      limit,
      windowMs,
      blockMs: 0,
      onStoreError: 'local',
    });
    expect(options.rateLimit).toEqual({
      ip: policy('ip', 1000, 60_000),
      principal: policy('principal', 100, 60_000),
      named: { login: policy('login', 5, 300_000) },
      onStoreError: 'local',
      store: 'memory',
      storeTimeoutMs: 250,
      probeIntervalMs: 1000,
      ipv6Prefix: 64,
      maxKeys: 100_000,
    });
    expect(options.cors).toMatchObject({
      origins: [],
      patterns: [],
      credentials: false,
      maxAgeSeconds: 600,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      exposedHeaders: [],
    });
    expect((options.cors as { allowedHeaders: readonly string[] }).allowedHeaders).toContain('x-api-key');
    expect(options.headers).toMatchObject({
      contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
      frameOptions: 'DENY',
      referrerPolicy: 'strict-origin-when-cross-origin',
      cacheControl: 'no-store',
      hsts: { maxAgeSeconds: 31_536_000, includeSubDomains: true, preload: false },
    });
    expect(Object.keys((options.headers as { relaxedPaths: object }).relaxedPaths)).toEqual(['/docs']);
    expect(options.lint).toEqual({ allow: [] });
    expect(options.limits).toEqual({
      bodyBytes: 102_400,
      jsonDepth: 32,
      jsonArrayLength: 1000,
      jsonKeys: 1000,
      queryParams: 100,
      headerBytes: 16_384,
    });
    expect(options.audit).toEqual({
      log: true,
      database: true,
      spillDir: false,
      queueCapacity: 10_000,
      headIntervalMs: 60_000,
    });
    expect(options.redis).toBe(false);
    expect(options.trustProxy).toBe(false);
  });

  it('returns deeply frozen options', () => {
    const options = resolveSecurityOptions({ cors: { origins: ['https://a.example'] } });
    expect(Object.isFrozen(options)).toBe(true);
    expect(Object.isFrozen(options.rateLimit && options.rateLimit.ip)).toBe(true);
    expect(Object.isFrozen(options.rateLimit && options.rateLimit.named)).toBe(true);
    expect(() => (options.cors as unknown as { origins: string[] }).origins.push('https://evil.example')).toThrow(
      TypeError,
    );
  });

  it('does not share state between calls or mutate the input', () => {
    const input = { cors: { origins: ['https://a.example'] } };
    const first = resolveSecurityOptions(input);
    expect(input.cors.origins).toEqual(['https://a.example']);
    expect(Object.isFrozen(input.cors.origins)).toBe(false);
    expect(resolveSecurityOptions().cors).not.toBe(first.cors);
  });

  it.each(['requestId', 'apiKeys', 'rateLimit', 'cors', 'audit'] as const)('false switches %s off', (feature) => {
    expect(resolveSecurityOptions({ [feature]: false })[feature]).toBe(false);
  });

  it('true keeps a feature on with its defaults', () => {
    expect(resolveSecurityOptions({ audit: true } as unknown as SecurityModuleOptions).audit).toEqual({
      log: true,
      database: true,
      spillDir: false,
      queueCapacity: 10_000,
      headIntervalMs: 60_000,
    });
  });

  it('reads the key cache TTL and the stale-if-error window; false switches the window off', () => {
    const on = resolveSecurityOptions({ apiKeys: { cacheTtl: '5s', staleIfError: '5m' } });
    expect(on.apiKeys).toMatchObject({ cacheTtlMs: 5_000, staleIfErrorMs: 300_000 });
    const off = resolveSecurityOptions({ apiKeys: { staleIfError: false } });
    expect(off.apiKeys).toMatchObject({ cacheTtlMs: 30_000, staleIfErrorMs: 0 });
    expect(resolveSecurityOptions({ apiKeys: { lookupTimeout: '750ms' } }).apiKeys).toMatchObject({
      lookupTimeoutMs: 750,
    });
  });

  it('merges partial feature options over the defaults', () => {
    const options = resolveSecurityOptions({
      apiKeys: { prefix: 'acme', defaultExpiry: '90d' },
      rateLimit: { policies: { ip: '10/1s', principal: false } },
    });
    expect(options.apiKeys).toMatchObject({ prefix: 'acme', environment: 'live', defaultExpiryMs: 90 * 86_400_000 });
    expect(options.rateLimit).toMatchObject({
      ip: { name: 'ip', limit: 10, windowMs: 1000, onStoreError: 'local' },
      principal: false,
      named: { login: { limit: 5, windowMs: 300_000 } },
    });
  });

  it('resolves signing with its defaults, and takes master keys, schemes and the SigV4 scope', () => {
    expect(resolveSecurityOptions({}).signing).toEqual({
      masterKeys: undefined,
      masterKeyFile: false,
      maxClockSkewMs: 300_000,
      requireOnUnsafeMethods: false,
      schemes: ['hmac-sha256', 'aws4-hmac-sha256', 'rfc9421'],
      sigv4: { region: 'us-east-1', service: 'api' },
    });
    const key = Buffer.alloc(32, 7).toString('base64');
    const options = resolveSecurityOptions({
      signing: {
        masterKeys: `v2:${key},v1:${key}`,
        schemes: ['rfc9421'],
        sigv4: { region: 'eu-west-1', service: 'demo' },
      },
    });
    expect(options.signing).toMatchObject({ masterKeys: `v2:${key},v1:${key}`, schemes: ['rfc9421'] });
    expect(options.signing && options.signing.sigv4).toEqual({ region: 'eu-west-1', service: 'demo' });
  });

  it('refuses a generated master key file in production, and warns when HMAC keys have no master key there', () => {
    expect(() =>
      resolveSecurityOptions({ signing: { masterKeyFile: '/tmp/key' } }, { NODE_ENV: 'production' }),
    ).toThrow(expect.objectContaining({ code: 'ERR_SECURITY_CONFIG_GENERATED_MASTER_KEY' }));
    expect(resolveSecurityOptions({}, { NODE_ENV: 'production' }).warnings).toContain(
      'signing.masterKeys: not set, so HMAC signing keys cannot be created or used; ed25519 keys work',
    );
  });

  it.each<[string, unknown, string]>([
    ['a master key that is not 32 bytes', { masterKeys: 'v1:c2hvcnQ=' }, 'ERR_SECURITY_CONFIG_INVALID_MASTER_KEYS'],
    ['an unknown scheme', { schemes: ['hmac-sha1'] }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['no scheme at all', { schemes: [] }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['a clock skew of an hour', { maxClockSkew: '1h' }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['a SigV4 region with a slash', { sigv4: { region: 'us/east' } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
  ])('refuses signing with %s', (_, signing, code) => {
    expect(() => resolveSecurityOptions({ signing } as never)).toThrow(expect.objectContaining({ code }));
  });

  it('keeps the default of a policy given as undefined (an unset environment variable)', () => {
    const options = resolveSecurityOptions({ rateLimit: { policies: { ip: undefined, login: undefined } } });
    expect(options.rateLimit).toMatchObject({ ip: { limit: 1000 }, named: { login: { limit: 5 } } });
  });

  it('takes named route policies in long form, with a block and their own store-error mode', () => {
    const options = resolveSecurityOptions({
      redis: 'redis://127.0.0.1:6379',
      rateLimit: {
        onStoreError: 'closed',
        policies: {
          login: { limit: '3/15m', block: '1h', onStoreError: 'local' },
          export: '10/1h',
        },
      },
    });
    expect(options.rateLimit).toMatchObject({
      store: 'redis',
      onStoreError: 'closed',
      ip: { onStoreError: 'closed' },
      named: {
        login: { name: 'login', limit: 3, windowMs: 900_000, blockMs: 3_600_000, onStoreError: 'local' },
        export: { name: 'export', limit: 10, windowMs: 3_600_000, blockMs: 0, onStoreError: 'closed' },
      },
    });
  });

  it("warns when a policy lets requests through while the store is down ('open')", () => {
    const options = resolveSecurityOptions({
      rateLimit: { policies: { ip: { limit: '5/1s', onStoreError: 'open' } } },
    });
    expect(options.warnings).toContain(
      "rateLimit.policies.ip: onStoreError 'open' lets every request through while the store is down",
    );
  });

  it('takes the environment from NODE_ENV unless given', () => {
    expect(resolveSecurityOptions({}, { NODE_ENV: 'production' }).environment).toBe('production');
    expect(resolveSecurityOptions({}, { NODE_ENV: 'test' }).environment).toBe('test');
    expect(resolveSecurityOptions({}, { NODE_ENV: 'staging' }).environment).toBe('development');
    expect(resolveSecurityOptions({ environment: 'test' }, { NODE_ENV: 'production' }).environment).toBe('test');
  });

  it('accepts a Redis URL as a string or an object', () => {
    expect(resolveSecurityOptions({ redis: 'redis://127.0.0.1:6379' }).redis).toEqual({
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'nas:',
    });
    expect(resolveSecurityOptions({ redis: { url: 'rediss://h:6380', keyPrefix: 'app:' } }).redis).toEqual({
      url: 'rediss://h:6380',
      keyPrefix: 'app:',
    });
  });

  it('takes the audit spill directory, queue capacity and head interval', () => {
    expect(
      resolveSecurityOptions({ audit: { spillDir: '/var/lib/app/audit', queueCapacity: 500, headInterval: '5m' } })
        .audit,
    ).toEqual({
      log: true,
      database: true,
      spillDir: '/var/lib/app/audit',
      queueCapacity: 500,
      headIntervalMs: 300_000,
    });
  });

  it('accepts a trusted proxy hop count or addresses and CIDRs', () => {
    expect(resolveSecurityOptions({ trustProxy: 1 }).trustProxy).toBe(1);
    expect(resolveSecurityOptions({ trustProxy: ['10.0.0.0/8', '::1', '192.168.1.1'] }).trustProxy).toEqual([
      '10.0.0.0/8',
      '::1',
      '192.168.1.1',
    ]);
  });

  it('takes CORS patterns, methods and headers, and security header settings', () => {
    const options = resolveSecurityOptions({
      cors: {
        origins: ['https://app.example.com'],
        patterns: ['^https://[a-z0-9-]+\\.example\\.com$', '^https://(a|b)\\.example\\.org$'],
        methods: ['get', 'post'],
        allowedHeaders: ['X-Custom'],
        exposedHeaders: ['X-Total'],
      },
      headers: { hsts: { maxAge: '730d', preload: true }, cacheControl: false, frameOptions: 'SAMEORIGIN' },
    });
    expect(options.cors).toMatchObject({
      methods: ['GET', 'POST'],
      allowedHeaders: ['x-custom'],
      exposedHeaders: ['X-Total'],
    });
    expect(options.headers).toMatchObject({
      hsts: { maxAgeSeconds: 63_072_000, includeSubDomains: true, preload: true },
      cacheControl: false,
      frameOptions: 'SAMEORIGIN',
    });
    expect(resolveSecurityOptions({ headers: { hsts: false } }).headers).toMatchObject({ hsts: false });
    expect(resolveSecurityOptions({ headers: false }).headers).toBe(false);
  });

  it.each([
    ['https://app\\.example\\.com$', 'must start with ^'],
    ['^https://app\\.example\\.com', 'must end with $'],
    ['^https://a\\.example\\.com|https://b\\.example\\.com$', 'outside a group'],
    ['^https://app\\.example\\.com\\$', 'must end with $'],
    ['^https://app$.example.com$', 'before its end'],
    ['^(https://app', 'not a valid regular expression'],
  ])('refuses the unanchored CORS pattern %s', (pattern, reason) => {
    expect(() => resolveSecurityOptions({ cors: { patterns: [pattern] } })).toThrow(reason);
    expect(codeOf({ cors: { patterns: [pattern] } })).toBe('ERR_SECURITY_CONFIG_UNANCHORED_CORS_PATTERN');
  });

  it('takes input limits, each over its default', () => {
    const limits = resolveSecurityOptions({ limits: { body: '1mb', jsonDepth: 8, headerBytes: 8192 } }).limits;
    expect(limits).toMatchObject({ bodyBytes: 1_048_576, jsonDepth: 8, jsonArrayLength: 1000, headerBytes: 8192 });
  });

  // The security lint (security-lint.ts) refuses these in production and warns elsewhere, waivable by lint.allow.
  it('leaves a query-string key and a plain http CORS origin to the security lint, in every environment', () => {
    for (const NODE_ENV of ['development', 'production']) {
      const options = resolveSecurityOptions(
        { apiKeys: { queryParam: 'api_key' }, cors: { origins: ['http://a.example'] } },
        { NODE_ENV },
      );
      expect(options.apiKeys && options.apiKeys.queryParam).toBe('api_key');
      expect(options.cors && options.cors.origins).toEqual(['http://a.example']);
      expect(options.warnings.join('\n')).not.toMatch(/query string/);
    }
  });

  it.each<[string, unknown, string, { NODE_ENV?: string }?]>([
    ['unknown top-level option (typo)', { rateLimits: {} }, 'ERR_SECURITY_CONFIG_UNKNOWN_OPTION'],
    ['options that are not an object', 'yes', 'ERR_SECURITY_CONFIG_TYPE'],
    ['a feature given a string', { cors: 'on' }, 'ERR_SECURITY_CONFIG_TYPE'],
    ['a boolean option given a string', { audit: { log: 'yes' } }, 'ERR_SECURITY_CONFIG_TYPE'],
    ['an empty audit spill directory', { audit: { spillDir: ' ' } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['an audit spill directory of true', { audit: { spillDir: true } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['a fractional audit queue capacity', { audit: { queueCapacity: 2.5 } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['an audit queue capacity of zero', { audit: { queueCapacity: 0 } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['an audit head interval without unit', { audit: { headInterval: '60' } }, 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    ['an unknown environment', { environment: 'prod' }, 'ERR_SECURITY_CONFIG_INVALID_ENVIRONMENT'],
    ['a body limit without a unit', { limits: { body: '100' } }, 'ERR_SECURITY_CONFIG_INVALID_SIZE'],
    ['a body limit of zero', { limits: { body: '0kb' } }, 'ERR_SECURITY_CONFIG_INVALID_SIZE'],
    ['a JSON depth of zero', { limits: { jsonDepth: 0 } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['a fractional array length', { limits: { jsonArrayLength: 1.5 } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['a header limit under 1 KiB', { limits: { headerBytes: 512 } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['limits switched off', { limits: false }, 'ERR_SECURITY_CONFIG_TYPE'],
    ['a CORS method with a space', { cors: { methods: ['GE T'] } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['a wildcard CORS header', { cors: { allowedHeaders: ['*'] } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    [
      'CORS patterns beside "*"',
      { cors: { origins: ['*'], patterns: ['^https://a$'] } },
      'ERR_SECURITY_CONFIG_INVALID_ORIGIN',
    ],
    [
      'a header value with a line break',
      { headers: { referrerPolicy: 'no-referrer\r\nX: y' } },
      'ERR_SECURITY_CONFIG_INVALID_VALUE',
    ],
    ['an unknown frame option', { headers: { frameOptions: 'ALLOW-FROM x' } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    [
      'HSTS preload without subdomains',
      { headers: { hsts: { includeSubDomains: false, preload: true } } },
      'ERR_SECURITY_CONFIG_INVALID_VALUE',
    ],
    [
      'a relaxed path that is not a path',
      { headers: { relaxedPaths: { docs: "default-src 'self'" } } },
      'ERR_SECURITY_CONFIG_INVALID_VALUE',
    ],
    ['lint waivers that are not strings', { lint: { allow: [1] } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['a limit without a unit', { rateLimit: { policies: { ip: '1000/60' } } }, 'ERR_SECURITY_CONFIG_INVALID_LIMIT'],
    ['a limit of zero', { rateLimit: { policies: { principal: '0/60s' } } }, 'ERR_SECURITY_CONFIG_INVALID_LIMIT'],
    ['a limit with a zero window', { rateLimit: { policies: { login: '5/0s' } } }, 'ERR_SECURITY_CONFIG_INVALID_LIMIT'],
    ['a limit given as a number', { rateLimit: { policies: { ip: 1000 } } }, 'ERR_SECURITY_CONFIG_INVALID_LIMIT'],
    [
      'a rate-limit policy name with upper case',
      { rateLimit: { policies: { Login: '1/1s' } } },
      'ERR_SECURITY_CONFIG_INVALID_POLICY_NAME',
    ],
    ['a named policy switched off', { rateLimit: { policies: { login: false } } }, 'ERR_SECURITY_CONFIG_INVALID_LIMIT'],
    [
      'an unknown key in a long-form policy',
      { rateLimit: { policies: { login: { limit: '1/1s', burst: 3 } } } },
      'ERR_SECURITY_CONFIG_UNKNOWN_OPTION',
    ],
    [
      'a policy block that is not a duration',
      { rateLimit: { policies: { login: { limit: '1/1s', block: 'forever' } } } },
      'ERR_SECURITY_CONFIG_INVALID_DURATION',
    ],
    [
      'an unknown store error mode',
      { rateLimit: { onStoreError: 'ignore' } },
      'ERR_SECURITY_CONFIG_INVALID_STORE_ERROR_MODE',
    ],
    [
      'the old fail-closed spelling',
      { rateLimit: { policies: { ip: { limit: '1/1s', onStoreError: 'fail-closed' } } } },
      'ERR_SECURITY_CONFIG_INVALID_STORE_ERROR_MODE',
    ],
    ['an unknown rate-limit option', { rateLimit: { onStoreFailure: 'local' } }, 'ERR_SECURITY_CONFIG_UNKNOWN_OPTION'],
    ['a Redis store without Redis', { rateLimit: { store: 'redis' } }, 'ERR_SECURITY_CONFIG_RATE_LIMIT_NEEDS_REDIS'],
    ['an IPv6 prefix of /16', { rateLimit: { ipv6Prefix: 16 } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['a store timeout without unit', { rateLimit: { storeTimeout: '250' } }, 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    ['a duration with a bad unit', { apiKeys: { defaultExpiry: '30days' } }, 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    ['a duration of zero', { apiKeys: { defaultExpiry: '0d' } }, 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    ['a negative duration', { cors: { maxAge: '-1s' } }, 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    ['a key prefix with an underscore', { apiKeys: { prefix: 'sk_x' } }, 'ERR_SECURITY_CONFIG_INVALID_KEY_PREFIX'],
    ['an upper-case key prefix', { apiKeys: { prefix: 'SK' } }, 'ERR_SECURITY_CONFIG_INVALID_KEY_PREFIX'],
    ['an unknown key environment', { apiKeys: { environment: 'prod' } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['a key cache TTL of zero', { apiKeys: { cacheTtl: '0s' } }, 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    ['a key cache TTL in bare milliseconds', { apiKeys: { cacheTtl: 30_000 } }, 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    ['a stale window of zero (use false)', { apiKeys: { staleIfError: '0s' } }, 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    ['a lookup timeout of zero', { apiKeys: { lookupTimeout: '0s' } }, 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    ['a stale window of true', { apiKeys: { staleIfError: true } }, 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    // The spelling: refused rather than silently ignored.
    ['an unknown apiKeys option', { apiKeys: { staleIfErrorMs: 300_000 } }, 'ERR_SECURITY_CONFIG_UNKNOWN_OPTION'],
    [
      'CORS "*" with credentials',
      { cors: { origins: ['*'], credentials: true } },
      'ERR_SECURITY_CONFIG_PERMISSIVE_CORS',
    ],
    [
      'CORS "*" mixed with origins',
      { cors: { origins: ['*', 'https://a.example'] } },
      'ERR_SECURITY_CONFIG_INVALID_ORIGIN',
    ],
    [
      'a CORS origin with a path',
      { cors: { origins: ['https://a.example/app'] } },
      'ERR_SECURITY_CONFIG_INVALID_ORIGIN',
    ],
    [
      'a CORS origin with a trailing slash',
      { cors: { origins: ['https://a.example/'] } },
      'ERR_SECURITY_CONFIG_INVALID_ORIGIN',
    ],
    [
      'a CORS pattern instead of an origin',
      { cors: { origins: ['*.example.com'] } },
      'ERR_SECURITY_CONFIG_INVALID_ORIGIN',
    ],
    ['a Redis URL of another scheme', { redis: 'http://127.0.0.1:6379' }, 'ERR_SECURITY_CONFIG_INVALID_REDIS_URL'],
    ['a Redis URL that does not parse', { redis: 'not a url' }, 'ERR_SECURITY_CONFIG_INVALID_REDIS_URL'],
    ['trustProxy: true', { trustProxy: true }, 'ERR_SECURITY_CONFIG_PERMISSIVE_TRUST_PROXY'],
    ['a trusted CIDR of /0', { trustProxy: ['0.0.0.0/0'] }, 'ERR_SECURITY_CONFIG_PERMISSIVE_TRUST_PROXY'],
    [
      'a trusted proxy that is not an address',
      { trustProxy: ['proxy.local'] },
      'ERR_SECURITY_CONFIG_INVALID_TRUST_PROXY',
    ],
    ['a trusted hop count of 0', { trustProxy: 0 }, 'ERR_SECURITY_CONFIG_INVALID_TRUST_PROXY'],
    ['an unknown non-HTTP mode', { authentication: { nonHttpContexts: 'allow' } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['an unknown change transport', { changes: { transport: 'kafka' } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
    ['redis changes without redis', { changes: { transport: 'redis' } }, 'ERR_SECURITY_CONFIG_CHANGES_NEED_REDIS'],
    ['an empty pepper', { apiKeys: { pepper: '' } }, 'ERR_SECURITY_CONFIG_INVALID_PEPPER'],
    ['a relative problem type base', { problems: { typeBaseUri: '/problems/' } }, 'ERR_SECURITY_CONFIG_INVALID_VALUE'],
  ])('rejects %s', (_name, options, code, env) => {
    expect(codeOf(options, env)).toBe(code);
  });

  it('names the option and the fix in the message', () => {
    expect(() => resolveSecurityOptions({ rateLimit: { policies: { ip: '1000' } } })).toThrow(
      /^rateLimit\.policies\.ip: "1000" is not a limit; use count\/window, e\.g\. "1000\/60s"$/,
    );
  });
});

describe('resolveSecurityOptions: anomalies, metrics and alerts', () => {
  it('detects and blocks with the defaults, serves metrics, and sends no alerts unless asked', () => {
    const options = resolveSecurityOptions();
    expect(options.anomalies).toEqual({
      failedAuthPerIp: { limit: 20, windowMs: 60_000 },
      denialsPerPrincipal: { limit: 30, windowMs: 60_000 },
      blockForMs: 15 * 60_000,
    });
    expect(options.metrics).toEqual({ defaultMetrics: true });
    expect(options.alerts).toBe(false);
  });

  it('switches detectors, blocking, metrics and alerts off one by one', () => {
    expect(resolveSecurityOptions({ anomalies: false }).anomalies).toBe(false);
    expect(resolveSecurityOptions({ metrics: false }).metrics).toBe(false);
    expect(resolveSecurityOptions({ alerts: false }).alerts).toBe(false);
    expect(
      resolveSecurityOptions({ anomalies: { failedAuthPerIp: '5/10s', denialsPerPrincipal: false, blockFor: false } })
        .anomalies,
    ).toEqual({ failedAuthPerIp: { limit: 5, windowMs: 10_000 }, denialsPerPrincipal: false, blockForMs: false });
    expect(resolveSecurityOptions({ metrics: { defaultMetrics: false } }).metrics).toEqual({ defaultMetrics: false });
  });

  it('resolves a webhook with its defaults, and warns when it is not signed', () => {
    const signed = resolveSecurityOptions({
      alerts: { webhook: { url: 'https://hooks.example.com/security', secret: 'whsec-0123456789abcdef' } },
    });
    expect(signed.alerts).toEqual({
      webhook: {
        url: 'https://hooks.example.com/security',
        events: ['SUSPICIOUS_PATTERN'],
        secret: 'whsec-0123456789abcdef',
        timeoutMs: 5_000,
      },
    });
    expect(signed.warnings.join('\n')).not.toMatch(/alerts/);

    const unsigned = resolveSecurityOptions({
      alerts: {
        webhook: { url: 'http://127.0.0.1:9000/x', events: ['KEY_REVOKED', 'KEY_REVOKED'], timeout: '500ms' },
      },
    });
    expect(unsigned.alerts && unsigned.alerts.webhook).toMatchObject({ events: ['KEY_REVOKED'], timeoutMs: 500 });
    expect(unsigned.warnings.join('\n')).toMatch(/alerts\.webhook\.secret: not set/);
    expect(resolveSecurityOptions({ alerts: { webhook: { url: 'http://localhost:9000/x' } } }).alerts).toBeTruthy();
    expect(resolveSecurityOptions({ alerts: { webhook: { url: 'http://[::1]:9000/x' } } }).alerts).toBeTruthy();
  });

  it('freezes the webhook events', () => {
    const options = resolveSecurityOptions({ alerts: { webhook: { url: 'https://h.example/x' } } });
    const webhook = options.alerts && options.alerts.webhook;
    expect(Object.isFrozen(webhook && webhook.events)).toBe(true);
  });

  it.each<[string, unknown, string]>([
    ['anomalies given a string', { anomalies: 'on' }, 'ERR_SECURITY_CONFIG_TYPE'],
    ['an unknown anomalies option', { anomalies: { failedAuthPerKey: '5/60s' } }, 'ERR_SECURITY_CONFIG_UNKNOWN_OPTION'],
    [
      'a detector limit without a unit',
      { anomalies: { failedAuthPerIp: '20/60' } },
      'ERR_SECURITY_CONFIG_INVALID_LIMIT',
    ],
    ['a detector limit of zero', { anomalies: { denialsPerPrincipal: '0/60s' } }, 'ERR_SECURITY_CONFIG_INVALID_LIMIT'],
    ['a detector limit given as true', { anomalies: { failedAuthPerIp: true } }, 'ERR_SECURITY_CONFIG_INVALID_LIMIT'],
    ['a block of zero', { anomalies: { blockFor: '0m' } }, 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    ['a block without a unit', { anomalies: { blockFor: '15' } }, 'ERR_SECURITY_CONFIG_INVALID_DURATION'],
    ['defaultMetrics given a string', { metrics: { defaultMetrics: 'yes' } }, 'ERR_SECURITY_CONFIG_TYPE'],
    ['an unknown metrics option', { metrics: { prefix: 'x_' } }, 'ERR_SECURITY_CONFIG_UNKNOWN_OPTION'],
    ['an unknown alerts option', { alerts: { slack: {} } }, 'ERR_SECURITY_CONFIG_UNKNOWN_OPTION'],
    ['a webhook that is a string', { alerts: { webhook: 'https://h.example/x' } }, 'ERR_SECURITY_CONFIG_TYPE'],
    ['a webhook without a URL', { alerts: { webhook: {} } }, 'ERR_SECURITY_CONFIG_INVALID_WEBHOOK_URL'],
    [
      'a webhook URL that does not parse',
      { alerts: { webhook: { url: 'hooks' } } },
      'ERR_SECURITY_CONFIG_INVALID_WEBHOOK_URL',
    ],
    [
      'a webhook URL of another scheme',
      { alerts: { webhook: { url: 'ftp://h.example/x' } } },
      'ERR_SECURITY_CONFIG_INVALID_WEBHOOK_URL',
    ],
    [
      'a webhook over plain http',
      { alerts: { webhook: { url: 'http://h.example/x' } } },
      'ERR_SECURITY_CONFIG_INSECURE_WEBHOOK_URL',
    ],
    [
      'an unknown webhook option',
      { alerts: { webhook: { url: 'https://h.example/x', retries: 5 } } },
      'ERR_SECURITY_CONFIG_UNKNOWN_OPTION',
    ],
    [
      'an unknown event type',
      { alerts: { webhook: { url: 'https://h.example/x', events: ['SUSPICIOUS'] } } },
      'ERR_SECURITY_CONFIG_INVALID_EVENT_TYPE',
    ],
    [
      'an empty event list',
      { alerts: { webhook: { url: 'https://h.example/x', events: [] } } },
      'ERR_SECURITY_CONFIG_INVALID_EVENT_TYPE',
    ],
    [
      'a short secret',
      { alerts: { webhook: { url: 'https://h.example/x', secret: 'short' } } },
      'ERR_SECURITY_CONFIG_INVALID_WEBHOOK_SECRET',
    ],
    [
      'a timeout without a unit',
      { alerts: { webhook: { url: 'https://h.example/x', timeout: '5' } } },
      'ERR_SECURITY_CONFIG_INVALID_DURATION',
    ],
  ])('rejects %s', (_name, options, code) => {
    expect(codeOf(options)).toBe(code);
  });

  it('names the option and the fix', () => {
    expect(() => resolveSecurityOptions({ alerts: { webhook: { url: 'http://h.example/x' } } })).toThrow(
      /^alerts\.webhook\.url: "http:\/\/h\.example" uses http; use https/,
    );
    expect(() => resolveSecurityOptions({ anomalies: { failedAuthPerIp: '20' } })).toThrow(
      /^anomalies\.failedAuthPerIp: "20" is not a limit/,
    );
  });
});

describe('resolveSecurityOptions: deprecations', () => {
  const V1 = {
    deprecatedAt: '2027-01-01T00:00:00Z',
    sunsetAt: '2027-07-01T00:00:00Z',
    link: '/docs#/items',
    successor: '/v2/items',
    warningFrom: '2027-02-01T00:00:00Z',
    brownouts: ['2027-03-01T10:00:00Z/2027-03-01T11:00:00Z'],
  };

  function configError(options: unknown): SecurityConfigError {
    let error: unknown;
    try {
      resolveSecurityOptions(options as SecurityModuleOptions);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SecurityConfigError);
    return error as SecurityConfigError;
  }

  it('is on by default, with no versions, a 5 s flush and an hourly event', () => {
    expect(resolveSecurityOptions().deprecations).toEqual({
      versions: {},
      flushIntervalMs: 5_000,
      eventIntervalMs: 3_600_000,
    });
    expect(resolveSecurityOptions({ deprecations: {} }).deprecations).toEqual(resolveSecurityOptions().deprecations);
    expect(resolveSecurityOptions({ deprecations: true } as unknown as SecurityModuleOptions).deprecations).toEqual(
      resolveSecurityOptions().deprecations,
    );
  });

  it('is off with false', () => {
    expect(resolveSecurityOptions({ deprecations: false }).deprecations).toBe(false);
  });

  it('parses each version into a lifecycle in epoch milliseconds, and the intervals into milliseconds', () => {
    const options = resolveSecurityOptions({
      deprecations: { versions: { '1': V1, '2024-01-01': { ...V1, link: 'https://example.com/guide' } } },
    });
    expect(options.deprecations).toStrictEqual({
      versions: {
        '1': {
          deprecatedAt: Date.UTC(2027, 0, 1),
          sunsetAt: Date.UTC(2027, 6, 1),
          link: '/docs#/items',
          successor: '/v2/items',
          warningFrom: Date.UTC(2027, 1, 1),
          brownouts: [{ start: Date.UTC(2027, 2, 1, 10), end: Date.UTC(2027, 2, 1, 11) }],
        },
        '2024-01-01': expect.objectContaining({ link: 'https://example.com/guide' }),
      },
      flushIntervalMs: 5_000,
      eventIntervalMs: 3_600_000,
    });
    expect(
      resolveSecurityOptions({ deprecations: { flushInterval: '250ms', eventInterval: '1d' } }).deprecations,
    ).toMatchObject({ flushIntervalMs: 250, eventIntervalMs: 86_400_000 });
  });

  it('freezes the versions', () => {
    const options = resolveSecurityOptions({ deprecations: { versions: { '1': V1 } } });
    const deprecations = options.deprecations as Exclude<typeof options.deprecations, false>;
    expect(Object.isFrozen(deprecations.versions)).toBe(true);
    expect(Object.isFrozen(deprecations.versions['1'])).toBe(true);
  });

  it.each(['v 1', '', 'v/1', 'a'.repeat(33)])('refuses the version name %j', (version) => {
    const error = configError({ deprecations: { versions: { [version]: V1 } } });
    expect(error).toMatchObject({ code: 'ERR_SECURITY_CONFIG_INVALID_VALUE', option: 'deprecations.versions' });
    expect(error.message).toContain(`"${version}" is not a version name such as "1"`);
  });

  it('refuses versions that are not an object', () => {
    const error = configError({ deprecations: { versions: [V1] } });
    expect(error).toMatchObject({ code: 'ERR_SECURITY_CONFIG_INVALID_VALUE', option: 'deprecations.versions' });
  });

  it.each<[string, unknown, RegExp]>([
    ['a date without a zone', { ...V1, sunsetAt: '2027-07-01' }, /sunsetAt must be an ISO 8601 instant/],
    ['a sunset before the deprecation', { ...V1, sunsetAt: '2026-07-01T00:00:00Z' }, /sunsetAt is before/],
    ['a protocol-relative link', { ...V1, link: '//evil.example' }, /link must be an http\(s\) URL/],
    ['an unknown key', { ...V1, sunset: '2027-07-01T00:00:00Z' }, /unknown key "sunset"/],
    ['null', null, /use \{ deprecatedAt/],
  ])('refuses a version spec with %s, naming deprecations.versions.1', (_label, spec, message) => {
    const error = configError({ deprecations: { versions: { '1': spec } } });
    expect(error).toMatchObject({
      code: 'ERR_SECURITY_CONFIG_INVALID_DEPRECATION',
      option: 'deprecations.versions.1',
    });
    expect(error.message).toMatch(/^deprecations\.versions\.1: /);
    expect(error.message).toMatch(message);
  });

  it.each<[string, unknown, string, string]>([
    ['an unknown key', { flush: '5s' }, 'ERR_SECURITY_CONFIG_UNKNOWN_OPTION', 'deprecations.flush'],
    ['a string', 'on', 'ERR_SECURITY_CONFIG_TYPE', 'deprecations'],
    [
      'a flush interval without a unit',
      { flushInterval: '5000' },
      'ERR_SECURITY_CONFIG_INVALID_DURATION',
      'deprecations.flushInterval',
    ],
    [
      'a flush interval of zero',
      { flushInterval: '0s' },
      'ERR_SECURITY_CONFIG_INVALID_DURATION',
      'deprecations.flushInterval',
    ],
    [
      'a flush interval given as a number',
      { flushInterval: 5000 },
      'ERR_SECURITY_CONFIG_INVALID_DURATION',
      'deprecations.flushInterval',
    ],
    [
      'an event interval that is not a duration',
      { eventInterval: 'hourly' },
      'ERR_SECURITY_CONFIG_INVALID_DURATION',
      'deprecations.eventInterval',
    ],
  ])('refuses deprecations with %s', (_label, deprecations, code, option) => {
    expect(configError({ deprecations })).toMatchObject({ code, option });
  });
});
