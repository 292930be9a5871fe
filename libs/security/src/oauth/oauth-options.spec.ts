import { SecurityConfigError } from '../core/errors.js';
import { lintSecurityOptions } from '../options/security-lint.js';
import { resolveSecurityOptions } from '../options/resolve-security-options.js';
import type { SecurityModuleOptions } from '../options/security-options.js';
import { resolveOAuthOptions } from './oauth-options.js';

const BASE = {
  issuer: 'https://idp.example.com/',
  audience: 'demo-api',
  jwksUrl: 'https://idp.example.com/.well-known/jwks.json',
};

function resolve(value: unknown, production = false) {
  return resolveOAuthOptions(value, { production, warnings: [] });
}

function configError(value: unknown): SecurityConfigError {
  try {
    resolve(value);
  } catch (error) {
    expect(error).toBeInstanceOf(SecurityConfigError);
    return error as SecurityConfigError;
  }
  throw new Error('expected a SecurityConfigError');
}

describe('resolveOAuthOptions', () => {
  it('is off by default and with false', () => {
    expect(resolve(undefined)).toBe(false);
    expect(resolve(false)).toBe(false);
    expect(resolveSecurityOptions().oauth).toBe(false);
  });

  it('fills the defaults: asymmetric algorithms, 30 s leeway and cooldown, 10 min JWKS cache', () => {
    expect(resolve(BASE)).toEqual({
      issuer: BASE.issuer,
      audience: ['demo-api'],
      jwksUrl: BASE.jwksUrl,
      algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      clockToleranceMs: 30_000,
      jwksCooldownMs: 30_000,
      jwksCacheMaxAgeMs: 600_000,
      scopeMap: {},
      introspection: false,
    });
  });

  it('parses durations, an audience list, a scope map and introspection', () => {
    const options = resolve({
      ...BASE,
      audience: ['a', 'b', 'a'],
      algorithms: ['ES256'],
      clockTolerance: '0s',
      jwksCooldown: '1s',
      jwksCacheMaxAge: '1h',
      scopeMap: { docs: ['documents:read', 'documents:write'], none: [], admin: ['*:*'] },
      introspection: { url: 'https://idp.example.com/introspect', clientId: 'api', clientSecret: 's3cret' },
    });
    expect(options).toMatchObject({
      audience: ['a', 'b'],
      algorithms: ['ES256'],
      clockToleranceMs: 0,
      jwksCooldownMs: 1_000,
      jwksCacheMaxAgeMs: 3_600_000,
      scopeMap: { docs: ['documents:read', 'documents:write'], none: [], admin: ['*:*'] },
      introspection: {
        url: 'https://idp.example.com/introspect',
        clientId: 'api',
        clientSecret: 's3cret',
        cacheMaxAgeMs: 300_000,
        timeoutMs: 5_000,
      },
    });
  });

  it('keeps a scope named __proto__ as a scope', () => {
    const options = resolve({ ...BASE, scopeMap: JSON.parse('{"__proto__": ["items:read"]}') });
    expect(options && Object.getPrototypeOf(options.scopeMap)).toBe(Object.prototype);
    expect(options && Object.hasOwn(options.scopeMap, '__proto__')).toBe(true);
  });

  it('is part of resolveSecurityOptions, deeply frozen', () => {
    const options = resolveSecurityOptions({ oauth: { ...BASE, scopeMap: { docs: ['documents:read'] } } });
    expect(options.oauth).toMatchObject({ issuer: BASE.issuer });
    expect(Object.isFrozen(options.oauth && options.oauth.scopeMap.docs)).toBe(true);
  });

  it.each<[string, unknown, string, string, RegExp?]>([
    ['not an object', 'yes', 'ERR_SECURITY_CONFIG_TYPE', 'oauth'],
    ['true', true, 'ERR_SECURITY_CONFIG_TYPE', 'oauth'],
    ['an unknown key', { ...BASE, jwks: 'x' }, 'ERR_SECURITY_CONFIG_UNKNOWN_OPTION', 'oauth.jwks'],
    ['no issuer', { ...BASE, issuer: undefined }, 'ERR_SECURITY_CONFIG_INVALID_VALUE', 'oauth.issuer'],
    ['an empty audience list', { ...BASE, audience: [] }, 'ERR_SECURITY_CONFIG_INVALID_VALUE', 'oauth.audience'],
    ['no jwksUrl', { ...BASE, jwksUrl: undefined }, 'ERR_SECURITY_CONFIG_INVALID_URL', 'oauth.jwksUrl'],
    ['a file jwksUrl', { ...BASE, jwksUrl: 'file:///etc/jwks' }, 'ERR_SECURITY_CONFIG_INVALID_URL', 'oauth.jwksUrl'],
    [
      'credentials in the jwksUrl',
      { ...BASE, jwksUrl: 'https://u:p@idp.example.com/jwks' },
      'ERR_SECURITY_CONFIG_INVALID_URL',
      'oauth.jwksUrl',
    ],
    [
      'alg none',
      { ...BASE, algorithms: ['RS256', 'none'] },
      'ERR_SECURITY_CONFIG_INVALID_ALGORITHM',
      'oauth.algorithms',
      /"none" is refused/,
    ],
    [
      'HS256',
      { ...BASE, algorithms: ['HS256'] },
      'ERR_SECURITY_CONFIG_INVALID_ALGORITHM',
      'oauth.algorithms',
      /"HS256" is refused/,
    ],
    [
      'an unknown algorithm',
      { ...BASE, algorithms: ['RSA1_5'] },
      'ERR_SECURITY_CONFIG_INVALID_ALGORITHM',
      'oauth.algorithms',
    ],
    ['no algorithms', { ...BASE, algorithms: [] }, 'ERR_SECURITY_CONFIG_INVALID_ALGORITHM', 'oauth.algorithms'],
    [
      'a leeway over 5m',
      { ...BASE, clockTolerance: '6m' },
      'ERR_SECURITY_CONFIG_INVALID_VALUE',
      'oauth.clockTolerance',
    ],
    [
      'a leeway without unit',
      { ...BASE, clockTolerance: '30' },
      'ERR_SECURITY_CONFIG_INVALID_DURATION',
      'oauth.clockTolerance',
    ],
    ['a zero cooldown', { ...BASE, jwksCooldown: '0s' }, 'ERR_SECURITY_CONFIG_INVALID_DURATION', 'oauth.jwksCooldown'],
    ['a scope map list', { ...BASE, scopeMap: [] }, 'ERR_SECURITY_CONFIG_INVALID_SCOPE_MAP', 'oauth.scopeMap'],
    [
      'a scope with a space',
      { ...BASE, scopeMap: { 'a b': [] } },
      'ERR_SECURITY_CONFIG_INVALID_SCOPE_MAP',
      'oauth.scopeMap',
    ],
    [
      'a bad permission',
      { ...BASE, scopeMap: { docs: ['Documents:Read'] } },
      'ERR_SECURITY_CONFIG_INVALID_SCOPE_MAP',
      'oauth.scopeMap.docs',
    ],
    [
      'a permission string instead of a list',
      { ...BASE, scopeMap: { docs: 'documents:read' } },
      'ERR_SECURITY_CONFIG_INVALID_SCOPE_MAP',
      'oauth.scopeMap.docs',
    ],
    [
      'introspection over http off loopback',
      { ...BASE, introspection: { url: 'http://idp.example.com/introspect', clientId: 'a', clientSecret: 'b' } },
      'ERR_SECURITY_CONFIG_INSECURE_INTROSPECTION_URL',
      'oauth.introspection.url',
    ],
    [
      'introspection without a secret',
      { ...BASE, introspection: { url: 'https://idp.example.com/introspect', clientId: 'a' } },
      'ERR_SECURITY_CONFIG_INVALID_VALUE',
      'oauth.introspection.clientSecret',
    ],
  ])('refuses %s', (_label, value, code, option, message) => {
    const error = configError(value);
    expect(error).toMatchObject({ code, option });
    if (message) expect(error.message).toMatch(message);
  });

  it('accepts introspection over http on loopback', () => {
    expect(
      resolve({
        ...BASE,
        introspection: { url: 'http://127.0.0.1:9000/introspect', clientId: 'a', clientSecret: 'b' },
      }),
    ).toMatchObject({ introspection: { url: 'http://127.0.0.1:9000/introspect' } });
  });

  it('leaves a plain http jwksUrl to the security lint (rule oauth-jwks-http), loopback excepted', () => {
    const lint = (jwksUrl: string) =>
      lintSecurityOptions(
        resolveSecurityOptions({ environment: 'production', oauth: { ...BASE, jwksUrl } } as SecurityModuleOptions),
        { https: false },
      ).map(({ rule }) => rule.id);
    expect(lint('http://idp.example.com/jwks.json')).toContain('oauth-jwks-http');
    expect(lint('http://127.0.0.1:8080/jwks.json')).not.toContain('oauth-jwks-http');
    expect(lint(BASE.jwksUrl)).not.toContain('oauth-jwks-http');
  });
});
