import { resolve } from 'node:path';
import { resolveSecurityOptions } from '@app/security';
import { DemoConfigError, readDemoConfig, V1_MIGRATION_GUIDE } from './demo-config.js';

const TLS = { TLS_CERT: 'certs/cert.pem', TLS_KEY: '/etc/demo/key.pem' };

describe('readDemoConfig: HTTPS, the redirect listener and the server timeouts', () => {
  it('serves plain HTTP, with the default timeouts, when nothing is set', () => {
    const config = readDemoConfig({});
    expect(config.tls).toBeUndefined();
    expect(config.httpRedirect).toBeUndefined();
    expect(config.serverTimeouts).toEqual({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
    });
  });

  it('takes TLS_CERT and TLS_KEY as file paths, resolved from the working directory', () => {
    expect(readDemoConfig(TLS).tls).toEqual({ certFile: resolve('certs/cert.pem'), keyFile: '/etc/demo/key.pem' });
  });

  it.each([{ TLS_CERT: 'cert.pem' }, { TLS_KEY: 'key.pem' }, { TLS_CERT: 'cert.pem', TLS_KEY: ' ' }])(
    'refuses half a TLS configuration (%o) instead of serving plain HTTP',
    (env) => {
      expect(() => readDemoConfig(env)).toThrow(DemoConfigError);
      expect(() => readDemoConfig(env)).toThrow(/must be set together/);
    },
  );

  it('reads HTTP_REDIRECT_PORT with PUBLIC_ORIGIN, kept as a normalised origin', () => {
    const config = readDemoConfig({
      ...TLS,
      PORT: '443',
      HTTP_REDIRECT_PORT: '80',
      PUBLIC_ORIGIN: 'https://API.Example.com:443/',
    });
    expect(config.httpRedirect).toEqual({ port: 80, publicOrigin: 'https://api.example.com' });
    expect(
      readDemoConfig({ ...TLS, HTTP_REDIRECT_PORT: '0', PUBLIC_ORIGIN: 'https://[::1]:8443' }).httpRedirect,
    ).toEqual({
      port: 0,
      publicOrigin: 'https://[::1]:8443',
    });
  });

  it.each([
    [
      'without TLS',
      { HTTP_REDIRECT_PORT: '8080', PUBLIC_ORIGIN: 'https://api.example.com' },
      /needs TLS_CERT and TLS_KEY/,
    ],
    ['without PUBLIC_ORIGIN', { ...TLS, HTTP_REDIRECT_PORT: '8080' }, /needs PUBLIC_ORIGIN/],
    [
      'on the HTTPS port',
      { ...TLS, PORT: '8443', HTTP_REDIRECT_PORT: '8443', PUBLIC_ORIGIN: 'https://a.example' },
      /differ from PORT/,
    ],
    [
      'out of range',
      { ...TLS, HTTP_REDIRECT_PORT: '70000', PUBLIC_ORIGIN: 'https://a.example' },
      /HTTP_REDIRECT_PORT must be 0 to 65535/,
    ],
    [
      'not a number',
      { ...TLS, HTTP_REDIRECT_PORT: '80x', PUBLIC_ORIGIN: 'https://a.example' },
      /HTTP_REDIRECT_PORT must be 0 to 65535/,
    ],
  ])('refuses HTTP_REDIRECT_PORT %s', (_label, env, message) => {
    expect(() => readDemoConfig(env)).toThrow(DemoConfigError);
    expect(() => readDemoConfig(env)).toThrow(message);
  });

  it.each([
    'http://api.example.com',
    'https://api.example.com/v1',
    'https://api.example.com?x=1',
    'https://api.example.com#top',
    'https://user:pass@api.example.com',
    'api.example.com',
    'https://',
  ])('refuses PUBLIC_ORIGIN %s: scheme https, host and port only', (origin) => {
    const env = { ...TLS, HTTP_REDIRECT_PORT: '8080', PUBLIC_ORIGIN: origin };
    expect(() => readDemoConfig(env)).toThrow(/PUBLIC_ORIGIN must be the https origin/);
  });

  it('reads the timeouts as durations', () => {
    const config = readDemoConfig({
      HTTP_HEADERS_TIMEOUT: '500ms',
      HTTP_REQUEST_TIMEOUT: '1m',
      HTTP_KEEP_ALIVE_TIMEOUT: '65s',
    });
    expect(config.serverTimeouts).toEqual({
      headersTimeoutMs: 500,
      requestTimeoutMs: 60_000,
      keepAliveTimeoutMs: 65_000,
    });
  });

  it('reads SHUTDOWN_TIMEOUT as a duration, 10 s when unset', () => {
    expect(readDemoConfig({}).shutdownTimeoutMs).toBe(10_000);
    expect(readDemoConfig({ SHUTDOWN_TIMEOUT: '2500ms' }).shutdownTimeoutMs).toBe(2_500);
  });

  it.each([
    [{ HTTP_HEADERS_TIMEOUT: '10' }, /HTTP_HEADERS_TIMEOUT must be a duration/],
    [{ HTTP_REQUEST_TIMEOUT: '0s' }, /HTTP_REQUEST_TIMEOUT must be a duration/],
    [{ HTTP_KEEP_ALIVE_TIMEOUT: 'off' }, /HTTP_KEEP_ALIVE_TIMEOUT must be a duration/],
    [{ SHUTDOWN_TIMEOUT: 'soon' }, /SHUTDOWN_TIMEOUT must be a duration/],
    [{ HTTP_HEADERS_TIMEOUT: '40s' }, /HTTP_HEADERS_TIMEOUT must not be longer than HTTP_REQUEST_TIMEOUT/],
  ])('refuses %o', (env, message) => {
    expect(() => readDemoConfig(env)).toThrow(message);
  });
});

describe('readDemoConfig: the v1 deprecation (V1_*)', () => {
  const DATES = { V1_DEPRECATED_AT: '2027-01-01T00:00:00Z', V1_SUNSET_AT: '2027-07-01T00:00:00Z' };

  it('leaves v1 undeprecated when no V1_ variable is set, or only blank ones', () => {
    expect(readDemoConfig({}).v1Deprecation).toBeUndefined();
    expect(
      readDemoConfig({ V1_DEPRECATED_AT: ' ', V1_SUNSET_AT: '', V1_BROWNOUTS: ' ' }).v1Deprecation,
    ).toBeUndefined();
  });

  it('builds a spec from the two dates, with /v2/items as the successor and the OpenAPI page as the link', () => {
    expect(readDemoConfig(DATES).v1Deprecation).toStrictEqual({
      deprecatedAt: '2027-01-01T00:00:00Z',
      sunsetAt: '2027-07-01T00:00:00Z',
      link: V1_MIGRATION_GUIDE,
      successor: '/v2/items',
    });
    expect(V1_MIGRATION_GUIDE).toBe('/docs#/items');
  });

  it('takes the warning and closing instants, trimmed', () => {
    const config = readDemoConfig({
      ...DATES,
      V1_WARNING_FROM: ' 2027-02-01T00:00:00Z ',
      V1_CLOSED_TO_NEW_CLIENTS_AT: '2027-04-01T00:00:00Z',
    });
    expect(config.v1Deprecation).toMatchObject({
      warningFrom: '2027-02-01T00:00:00Z',
      closedToNewClientsAt: '2027-04-01T00:00:00Z',
    });
  });

  it('splits V1_BROWNOUTS on commas, trimming and dropping empty entries', () => {
    const config = readDemoConfig({
      ...DATES,
      V1_BROWNOUTS: '2027-03-01T10:00:00Z/2027-03-01T11:00:00Z , 2027-05-01T10:00:00Z/2027-05-01T11:00:00Z,',
    });
    expect(config.v1Deprecation?.brownouts).toEqual([
      '2027-03-01T10:00:00Z/2027-03-01T11:00:00Z',
      '2027-05-01T10:00:00Z/2027-05-01T11:00:00Z',
    ]);
  });

  it('points the link at V1_DEPRECATION_LINK when set', () => {
    const config = readDemoConfig({ ...DATES, V1_DEPRECATION_LINK: 'https://example.com/migrate-to-v2' });
    expect(config.v1Deprecation).toMatchObject({ link: 'https://example.com/migrate-to-v2', successor: '/v2/items' });
  });

  it('gives SecurityModule a spec it accepts', () => {
    const config = readDemoConfig({
      ...DATES,
      V1_WARNING_FROM: '2027-02-01T00:00:00Z',
      V1_CLOSED_TO_NEW_CLIENTS_AT: '2027-04-01T00:00:00Z',
      V1_BROWNOUTS: '2027-03-01T10:00:00Z/2027-03-01T11:00:00Z',
    });
    const options = resolveSecurityOptions({ deprecations: { versions: { '1': config.v1Deprecation! } } });
    expect(options.deprecations && options.deprecations.versions['1']).toMatchObject({
      link: '/docs#/items',
      successor: '/v2/items',
      sunsetAt: Date.UTC(2027, 6, 1),
    });
  });

  it.each([{ V1_DEPRECATED_AT: DATES.V1_DEPRECATED_AT }, { V1_SUNSET_AT: DATES.V1_SUNSET_AT, V1_DEPRECATED_AT: ' ' }])(
    'refuses only one of the two dates (%o)',
    (env) => {
      expect(() => readDemoConfig(env)).toThrow(DemoConfigError);
      expect(() => readDemoConfig(env)).toThrow(/V1_DEPRECATED_AT and V1_SUNSET_AT must be set together/);
    },
  );

  it.each(['V1_WARNING_FROM', 'V1_CLOSED_TO_NEW_CLIENTS_AT', 'V1_BROWNOUTS', 'V1_DEPRECATION_LINK'])(
    'refuses %s without the two dates',
    (name) => {
      const env = { [name]: name === 'V1_DEPRECATION_LINK' ? '/docs' : '2027-02-01T00:00:00Z' };
      expect(() => readDemoConfig(env)).toThrow(DemoConfigError);
      expect(() => readDemoConfig(env)).toThrow(`${name} needs V1_DEPRECATED_AT and V1_SUNSET_AT`);
    },
  );
});

describe('readDemoConfig: the API-key cache (API_KEY_CACHE_TTL, API_KEY_STALE_IF_ERROR)', () => {
  it("leaves both to the library's defaults when unset or blank", () => {
    expect(readDemoConfig({}).apiKeyCache).toEqual({ ttl: undefined, staleIfError: undefined });
    expect(readDemoConfig({ API_KEY_CACHE_TTL: ' ', API_KEY_STALE_IF_ERROR: '' }).apiKeyCache).toEqual({
      ttl: undefined,
      staleIfError: undefined,
    });
  });

  it('takes durations, and off for no stale window, which SecurityModule accepts', () => {
    const config = readDemoConfig({ API_KEY_CACHE_TTL: '1s', API_KEY_STALE_IF_ERROR: '5m' });
    expect(config.apiKeyCache).toEqual({ ttl: '1s', staleIfError: '5m' });
    const { ttl, staleIfError } = config.apiKeyCache;
    expect(resolveSecurityOptions({ apiKeys: { cacheTtl: ttl, staleIfError } }).apiKeys).toMatchObject({
      cacheTtlMs: 1_000,
      staleIfErrorMs: 300_000,
    });
    expect(readDemoConfig({ API_KEY_STALE_IF_ERROR: 'off' }).apiKeyCache.staleIfError).toBe(false);
  });

  it.each([
    [{ API_KEY_CACHE_TTL: '30' }, /API_KEY_CACHE_TTL must be a duration/],
    [{ API_KEY_CACHE_TTL: 'off' }, /API_KEY_CACHE_TTL must be a duration/],
    [{ API_KEY_STALE_IF_ERROR: '5 minutes' }, /API_KEY_STALE_IF_ERROR must be a duration .* or off/],
    [{ API_KEY_STALE_IF_ERROR: '0s' }, /API_KEY_STALE_IF_ERROR must be a duration/],
  ])('refuses %o', (env, message) => {
    expect(() => readDemoConfig(env)).toThrow(DemoConfigError);
    expect(() => readDemoConfig(env)).toThrow(message);
  });
});
