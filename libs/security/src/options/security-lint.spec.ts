import { SecurityConfigError } from '../core/errors.js';
import { resolveSecurityOptions } from './resolve-security-options.js';
import {
  lintSecurityOptions,
  OWASP_API_2023,
  runSecurityLint,
  SECURITY_LINT_RULES,
  type SecurityLintContext,
  type SecurityLintRule,
} from './security-lint.js';
import type { ResolvedSecurityOptions, SecurityEnvironment, SecurityModuleOptions } from './security-options.js';

const HTTP: SecurityLintContext = { https: false };
const HTTPS: SecurityLintContext = { https: true };
const REDIS = 'redis://127.0.0.1:6379';
const MASTER_KEYS = `v1:${Buffer.alloc(32, 7).toString('base64')}`;

/** Options with no finding in production, HTTPS included: everything at its default, Redis for nonces. */
const SAFE: SecurityModuleOptions = { redis: REDIS };

/**
 * Resolves `options` in development (where nothing the lint owns is refused yet) and then sets the
 * environment, as a production boot would see the same settings. `extra` adds fields by hand, for settings
 * `resolveSecurityOptions` refuses itself or that do not exist yet.
 */
function optionsFor(
  environment: SecurityEnvironment,
  options: SecurityModuleOptions,
  extra: Record<string, unknown> = {},
): ResolvedSecurityOptions {
  const resolved = resolveSecurityOptions({ ...SAFE, ...options, environment: 'development' });
  return { ...resolved, ...extra, environment } as ResolvedSecurityOptions;
}

function rule(id: string): SecurityLintRule {
  const found = SECURITY_LINT_RULES.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no rule ${id}`);
  return found;
}

function lint(options: ResolvedSecurityOptions, context: SecurityLintContext = HTTP) {
  const warnings: string[] = [];
  let error: unknown;
  try {
    runSecurityLint(options, context, (message) => warnings.push(message));
  } catch (caught) {
    error = caught;
  }
  return { warnings, error: error as SecurityConfigError | undefined };
}

interface RuleCase {
  readonly options: SecurityModuleOptions;
  readonly extra?: Record<string, unknown>;
  readonly context?: SecurityLintContext;
  /** Settings next to the dangerous one that must not be found. */
  readonly fine: ReadonlyArray<{
    readonly options: SecurityModuleOptions;
    readonly extra?: Record<string, unknown>;
    readonly context?: SecurityLintContext;
  }>;
}

// One dangerous setting per rule refused in production, each with close settings that are fine.
const PRODUCTION_RULES: Readonly<Record<string, RuleCase>> = {
  'trust-proxy-hop-count': {
    options: { trustProxy: 3 },
    fine: [{ options: { trustProxy: 2 } }, { options: { trustProxy: ['10.0.0.0/8', '192.0.2.1'] } }],
  },
  'cors-insecure-origin': {
    options: { cors: { origins: ['https://app.example.com', 'http://app.example.com'] } },
    fine: [
      { options: { cors: { origins: ['https://app.example.com', 'http://localhost:3000', 'http://127.0.0.1:8080'] } } },
      { options: { cors: { origins: ['*'] } } },
    ],
  },
  'security-headers-off': {
    options: { headers: false },
    fine: [{ options: { headers: { frameOptions: false, cacheControl: false } } }],
  },
  'hsts-off-on-https': {
    options: { headers: { hsts: false } },
    context: HTTPS,
    fine: [
      // Plain HTTP: HSTS is only ever sent over HTTPS (a TLS-terminating proxy sends its own, or ours via trustProxy).
      { options: { headers: { hsts: false } }, context: HTTP },
      { options: { headers: { hsts: { maxAge: '180d' } } }, context: HTTPS },
    ],
  },
  'rate-limit-off': {
    options: { rateLimit: false },
    fine: [{ options: { rateLimit: { policies: { ip: '50/1s' } } } }],
  },
  'rate-limit-ip-off': {
    options: { rateLimit: { policies: { ip: false } } },
    fine: [{ options: { rateLimit: { policies: { principal: false } } } }],
  },
  'api-key-in-query': {
    options: { apiKeys: { queryParam: 'api_key' } },
    fine: [{ options: { apiKeys: { queryParam: false } } }, { options: { apiKeys: false } }],
  },
  'signing-nonces-not-shared': {
    options: { redis: false, signing: { requireOnUnsafeMethods: true } },
    fine: [
      { options: { redis: REDIS, signing: { requireOnUnsafeMethods: true } } },
      { options: { redis: false, signing: false } },
    ],
  },
  'oauth-jwks-http': {
    options: {},
    extra: { oauth: { jwksUrl: 'http://idp.example.com/.well-known/jwks.json' } },
    fine: [
      { options: {}, extra: { oauth: { jwksUrl: 'https://idp.example.com/.well-known/jwks.json' } } },
      { options: {}, extra: { oauth: { jwksUrl: 'http://127.0.0.1:8080/jwks.json' } } },
      { options: {}, extra: { oauth: false } },
    ],
  },
};

describe('SECURITY_LINT_RULES', () => {
  it('has unique kebab-case ids and codes, each naming an OWASP API Security Top 10 2023 item and a fix', () => {
    const ids = SECURITY_LINT_RULES.map(({ id }) => id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(SECURITY_LINT_RULES.map(({ code }) => code)).size).toBe(ids.length);
    for (const { id, code, owasp, fix } of SECURITY_LINT_RULES) {
      expect(id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(code).toMatch(/^ERR_SECURITY_CONFIG_[A-Z0-9_]+$/);
      expect(Object.values(OWASP_API_2023)).toContain(owasp);
      expect(fix.length).toBeGreaterThan(10);
    }
  });

  it('is covered by this spec, rule by rule', () => {
    const covered = [
      ...Object.keys(PRODUCTION_RULES),
      'cors-credentials-wildcard',
      'cors-unanchored-pattern',
      'trust-proxy-permissive',
      'generated-master-key',
    ];
    expect([...covered].sort()).toEqual(SECURITY_LINT_RULES.map(({ id }) => id).sort());
  });

  it('finds nothing in production with the defaults and a shared Redis, on HTTP or HTTPS', () => {
    for (const context of [HTTP, HTTPS]) {
      expect(lintSecurityOptions(optionsFor('production', {}), context)).toEqual([]);
      expect(lint(optionsFor('production', {}), context)).toEqual({ warnings: [], error: undefined });
    }
  });
});

describe.each(Object.entries(PRODUCTION_RULES))('security lint rule %s', (id, ruleCase) => {
  const { owasp, code, fix } = rule(id);
  const context = ruleCase.context ?? HTTP;
  const options = (environment: SecurityEnvironment, allow: string[] = []) =>
    optionsFor(environment, { ...ruleCase.options, lint: { allow } }, ruleCase.extra);

  it('finds exactly this rule', () => {
    expect(lintSecurityOptions(options('production'), context).map((result) => result.rule.id)).toEqual([id]);
  });

  it('refuses in production with its code, naming the fix, the OWASP item and the waiver', () => {
    const { error, warnings } = lint(options('production'), context);
    expect(error).toBeInstanceOf(SecurityConfigError);
    expect(error?.code).toBe(code);
    expect(error?.message).toContain(owasp);
    expect(error?.message).toContain(`Fix: ${fix}`);
    expect(error?.message).toContain(`add '${id}' to lint.allow`);
    expect(warnings).toEqual([]);
  });

  it.each<SecurityEnvironment>(['development', 'test'])('warns in %s, once, and boots', (environment) => {
    const { error, warnings } = lint(options(environment), context);
    expect(error).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`security lint rule ${id}`);
    expect(warnings[0]).toContain(owasp);
    expect(warnings[0]).toContain(`Fix: ${fix}`);
    expect(warnings[0]).toContain("Refused when environment is 'production'");
  });

  it('boots in production when waived in lint.allow, and logs the waiver', () => {
    const { error, warnings } = lint(options('production', [id]), context);
    expect(error).toBeUndefined();
    expect(warnings).toEqual([expect.stringContaining(`rule ${id} waived by lint.allow`)]);
    expect(warnings[0]).toContain(owasp);
  });

  it('finds nothing in the close settings that are safe', () => {
    for (const fine of ruleCase.fine) {
      const safe = optionsFor('production', fine.options, fine.extra);
      expect(lintSecurityOptions(safe, fine.context ?? context)).toEqual([]);
    }
  });
});

describe('rules refused in every environment', () => {
  // resolveSecurityOptions refuses these first; the lint checks options built without it as well.
  const BY_HAND: ReadonlyArray<[string, () => Record<string, unknown>, SecurityModuleOptions]> = [
    [
      'cors-credentials-wildcard',
      () => ({ cors: { ...(optionsFor('test', {}).cors as object), origins: ['*'], credentials: true } }),
      { cors: { origins: ['*'], credentials: true } },
    ],
    [
      'cors-unanchored-pattern',
      () => ({ cors: { ...(optionsFor('test', {}).cors as object), patterns: ['^https://[a-z]+\\.example\\.com'] } }),
      { cors: { patterns: ['^https://[a-z]+\\.example\\.com'] } },
    ],
    ['trust-proxy-permissive', () => ({ trustProxy: ['10.0.0.1', '::/0'] }), { trustProxy: ['::/0'] }],
  ];

  it.each(BY_HAND)('%s: refused in development too, and cannot be waived', (id, extra) => {
    const { code, owasp } = rule(id);
    const dev = lint(optionsFor('development', {}, extra()));
    expect(dev.error?.code).toBe(code);
    expect(dev.error?.message).toContain(owasp);
    expect(dev.error?.message).not.toContain('lint.allow');
    const waived = lint(optionsFor('production', { lint: { allow: [id] } }, extra()));
    expect(waived.error?.code).toBe('ERR_SECURITY_CONFIG_LINT_RULE_NOT_WAIVABLE');
    expect(waived.error?.message).toContain('refused in every environment');
  });

  it.each(BY_HAND)('%s: resolveSecurityOptions refuses it with the same code, OWASP item and rule id', (id, _, raw) => {
    const { code, owasp } = rule(id);
    for (const environment of ['development', 'production'] as const) {
      expect(() => resolveSecurityOptions({ ...raw, environment })).toThrow(
        expect.objectContaining({ code, message: expect.stringContaining(`${owasp}; security lint rule ${id}`) }),
      );
    }
  });

  it('refuses trustProxy: true on options built by hand', () => {
    expect(lint(optionsFor('development', {}, { trustProxy: true })).error?.code).toBe(
      'ERR_SECURITY_CONFIG_PERMISSIVE_TRUST_PROXY',
    );
  });
});

describe('security lint rule generated-master-key', () => {
  const { code, owasp } = rule('generated-master-key');
  const withFile = { signing: { masterKeyFile: '/var/lib/app/signing-master.key' } };

  it('refuses in production with the code resolveSecurityOptions and the key loader use', () => {
    const { error } = lint(optionsFor('production', withFile));
    expect(error?.code).toBe(code);
    expect(error?.message).toContain(owasp);
    expect(error?.message).toContain('signing.masterKeys');
    expect(() => resolveSecurityOptions({ ...withFile, environment: 'production' })).toThrow(
      expect.objectContaining({
        code,
        message: expect.stringContaining(`${owasp}; security lint rule generated-master-key`),
      }),
    );
  });

  it('warns in development, where the demo keeps its generated key in a file', () => {
    const { error, warnings } = lint(optionsFor('development', withFile));
    expect(error).toBeUndefined();
    expect(warnings).toEqual([expect.stringContaining('/var/lib/app/signing-master.key')]);
    expect(warnings[0]).toContain("Refused when environment is 'production'");
  });

  it('cannot be waived (the loader refuses the key in production anyway)', () => {
    const { error } = lint(optionsFor('production', { ...withFile, lint: { allow: ['generated-master-key'] } }));
    expect(error?.code).toBe('ERR_SECURITY_CONFIG_LINT_RULE_NOT_WAIVABLE');
  });

  it('finds nothing with master keys set, with no file, or with signing off', () => {
    for (const signing of [
      { masterKeys: MASTER_KEYS, masterKeyFile: '/var/lib/app/signing-master.key' },
      {},
      false as const,
    ]) {
      expect(lintSecurityOptions(optionsFor('production', { signing }), HTTP)).toEqual([]);
    }
  });
});

describe('runSecurityLint', () => {
  it('refuses an unknown waiver id in every environment, listing the ids it knows', () => {
    for (const environment of ['development', 'test', 'production'] as const) {
      const { error } = lint(optionsFor(environment, { lint: { allow: ['rate-limits-off'] } }));
      expect(error).toBeInstanceOf(SecurityConfigError);
      expect(error?.code).toBe('ERR_SECURITY_CONFIG_UNKNOWN_LINT_RULE');
      expect(error?.option).toBe('lint.allow');
      expect(error?.message).toContain('"rate-limits-off" is not a security lint rule');
      expect(error?.message).toContain('rate-limit-off');
      expect(error?.message).not.toContain('cors-credentials-wildcard');
    }
  });

  it('warns about a waiver that finds nothing', () => {
    const { error, warnings } = lint(optionsFor('production', { lint: { allow: ['rate-limit-off'] } }));
    expect(error).toBeUndefined();
    expect(warnings).toEqual([expect.stringContaining("'rate-limit-off', which finds nothing here")]);
  });

  it('in production throws for the first finding, names the others and logs each of them', () => {
    const options = optionsFor('production', { rateLimit: false, headers: false, apiKeys: { queryParam: 'key' } });
    const { error, warnings } = lint(options, HTTPS);
    expect(error?.code).toBe(rule('security-headers-off').code);
    expect(error?.message).toContain('Also refused: hsts-off-on-https, rate-limit-off, api-key-in-query');
    expect(warnings).toHaveLength(3);
    expect(warnings.join('\n')).toContain('security lint rule hsts-off-on-https');
    expect(warnings.join('\n')).toContain('security lint rule rate-limit-off');
    expect(warnings.join('\n')).toContain('security lint rule api-key-in-query');
  });

  it('in production refuses what is not waived and boots once everything is', () => {
    const settings = { rateLimit: false, headers: false } as const;
    expect(lint(optionsFor('production', { ...settings, lint: { allow: ['rate-limit-off'] } })).error?.code).toBe(
      rule('security-headers-off').code,
    );
    const waived = lint(
      optionsFor('production', { ...settings, lint: { allow: ['rate-limit-off', 'security-headers-off'] } }),
    );
    expect(waived.error).toBeUndefined();
    expect(waived.warnings).toHaveLength(2);
  });

  it('warns about every finding outside production without throwing', () => {
    const options = optionsFor('development', { rateLimit: false, headers: false, trustProxy: 5, redis: false });
    const { error, warnings } = lint(options, HTTPS);
    expect(error).toBeUndefined();
    expect(warnings.map((warning) => /security lint rule ([a-z-]+)/.exec(warning)?.[1])).toEqual([
      'trust-proxy-hop-count',
      'security-headers-off',
      'hsts-off-on-https',
      'rate-limit-off',
      'signing-nonces-not-shared',
    ]);
  });

  it('reads the environment from the resolved options (NODE_ENV=production resolves to production)', () => {
    const options = resolveSecurityOptions({ rateLimit: false, redis: REDIS }, { NODE_ENV: 'production' });
    expect(lint(options).error?.code).toBe('ERR_SECURITY_CONFIG_LINT_RATE_LIMIT_OFF');
  });
});
