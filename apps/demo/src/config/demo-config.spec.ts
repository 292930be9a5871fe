import { resolve } from 'node:path';
import { DemoConfigError, readDemoConfig } from './demo-config.js';

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

  it.each([
    [{ HTTP_HEADERS_TIMEOUT: '10' }, /HTTP_HEADERS_TIMEOUT must be a duration/],
    [{ HTTP_REQUEST_TIMEOUT: '0s' }, /HTTP_REQUEST_TIMEOUT must be a duration/],
    [{ HTTP_KEEP_ALIVE_TIMEOUT: 'off' }, /HTTP_KEEP_ALIVE_TIMEOUT must be a duration/],
    [{ HTTP_HEADERS_TIMEOUT: '40s' }, /HTTP_HEADERS_TIMEOUT must not be longer than HTTP_REQUEST_TIMEOUT/],
  ])('refuses %o', (env, message) => {
    expect(() => readDemoConfig(env)).toThrow(message);
  });
});
