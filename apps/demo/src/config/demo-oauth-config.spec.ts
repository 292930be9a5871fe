import { resolveSecurityOptions, SecurityConfigError } from '@app/security';
import { DemoConfigError, parseScopeMap, readDemoConfig } from './demo-config.js';

const OAUTH = {
  OAUTH_ISSUER: 'https://idp.example.com/',
  OAUTH_AUDIENCE: 'demo-api',
  OAUTH_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
};

describe('readDemoConfig: OAuth bearer tokens', () => {
  it('has no bearer tokens when nothing is set', () => {
    expect(readDemoConfig({}).oauth).toBeUndefined();
  });

  it('takes the issuer, the audiences (comma-separated), the JWKS URL and the optional settings', () => {
    const config = readDemoConfig({
      ...OAUTH,
      OAUTH_AUDIENCE: 'demo-api, other-api',
      OAUTH_SCOPE_MAP: 'items.read=items:read;docs=documents:read,documents:write',
      OAUTH_JWKS_COOLDOWN: '1s',
      OAUTH_CLOCK_TOLERANCE: '10s',
    });
    expect(config.oauth).toEqual({
      issuer: OAUTH.OAUTH_ISSUER,
      audience: ['demo-api', 'other-api'],
      jwksUrl: OAUTH.OAUTH_JWKS_URL,
      scopeMap: { 'items.read': ['items:read'], docs: ['documents:read', 'documents:write'] },
      jwksCooldown: '1s',
      clockTolerance: '10s',
    });
    expect(resolveSecurityOptions({ oauth: config.oauth }).oauth).toMatchObject({
      audience: ['demo-api', 'other-api'],
      jwksCooldownMs: 1_000,
      clockToleranceMs: 10_000,
    });
  });

  it.each([
    { OAUTH_ISSUER: OAUTH.OAUTH_ISSUER },
    { OAUTH_ISSUER: OAUTH.OAUTH_ISSUER, OAUTH_AUDIENCE: 'demo-api' },
    { ...OAUTH, OAUTH_JWKS_URL: ' ' },
  ])('refuses part of the three (%o)', (env) => {
    expect(() => readDemoConfig(env)).toThrow(DemoConfigError);
    expect(() => readDemoConfig(env)).toThrow(/OAUTH_ISSUER, OAUTH_AUDIENCE, OAUTH_JWKS_URL must be set together/);
  });

  it.each(['OAUTH_SCOPE_MAP', 'OAUTH_JWKS_COOLDOWN', 'OAUTH_CLOCK_TOLERANCE'])('refuses %s alone', (name) => {
    expect(() => readDemoConfig({ [name]: '1s' })).toThrow(
      `${name} needs OAUTH_ISSUER, OAUTH_AUDIENCE and OAUTH_JWKS_URL`,
    );
  });

  it('leaves the values to SecurityModule, which refuses a bad one at boot', () => {
    const config = readDemoConfig({ ...OAUTH, OAUTH_SCOPE_MAP: 'docs=Documents:Read' });
    expect(() => resolveSecurityOptions({ oauth: config.oauth })).toThrow(SecurityConfigError);
  });
});

describe('parseScopeMap', () => {
  it('reads scope=permission,permission entries separated by ;, ignoring spaces and empty entries', () => {
    expect(parseScopeMap(' docs = documents:read , documents:write ;; items.read=items:read; ')).toEqual({
      docs: ['documents:read', 'documents:write'],
      'items.read': ['items:read'],
    });
  });

  it('maps scope= to nothing, and keeps __proto__ a plain scope', () => {
    const map = parseScopeMap('blocked=;__proto__=items:read');
    expect(map.blocked).toEqual([]);
    expect(Object.hasOwn(map, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(map)).toBe(Object.prototype);
  });

  it('is empty when unset', () => {
    expect(parseScopeMap(undefined)).toEqual({});
  });

  it.each(['docs', '=items:read', 'a=b=c'])('refuses %j', (value) => {
    expect(() => parseScopeMap(value)).toThrow(DemoConfigError);
    expect(() => parseScopeMap(value)).toThrow(/is not scope=permissions/);
  });

  it('refuses a scope listed twice', () => {
    expect(() => parseScopeMap('a=x:y;a=x:z')).toThrow(/listed twice/);
  });
});
