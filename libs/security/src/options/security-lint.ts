import { isIP } from 'node:net';
import { SecurityConfigError } from '../core/errors.js';
import type { ResolvedSecurityOptions } from './security-options.js';

/** What the lint knows besides the options: facts only known once the server exists. */
export interface SecurityLintContext {
  /** The server speaks TLS itself (an https.Server). */
  readonly https: boolean;
}

/** The items of the OWASP API Security Top 10 (2023) that the lint rules name. */
export const OWASP_API_2023 = Object.freeze({
  brokenAuthentication: 'API2:2023 Broken Authentication',
  resourceConsumption: 'API4:2023 Unrestricted Resource Consumption',
  misconfiguration: 'API8:2023 Security Misconfiguration',
} as const);

/** One of `OWASP_API_2023`. */
export type OwaspApiRisk = (typeof OWASP_API_2023)[keyof typeof OWASP_API_2023];

/** What a rule found: the option at fault and what is wrong with it. */
export interface SecurityLintFinding {
  /** Dotted path of the option, e.g. `headers.hsts`. */
  readonly option: string;
  readonly problem: string;
}

/** One row of the lint table. */
export interface SecurityLintRule {
  /** Stable id, the name `lint.allow` takes. */
  readonly id: string;
  readonly owasp: OwaspApiRisk;
  /** Code of the `SecurityConfigError` a refusal throws. */
  readonly code: `ERR_SECURITY_CONFIG_${string}`;
  /**
   * `production`: refused when `environment` is `production`, a boot warning otherwise.
   * `always`: refused in every environment (`resolveSecurityOptions` already refuses it; listed here so the
   * table is complete and options built by hand are checked too).
   */
  readonly enforcement: 'production' | 'always';
  /** Why `lint.allow` cannot waive the rule; undefined when it can. */
  readonly notWaivable?: string;
  /** What to do instead. */
  readonly fix: string;
  readonly check: (options: ResolvedSecurityOptions, context: SecurityLintContext) => SecurityLintFinding | undefined;
}

const EVERY_ENVIRONMENT = 'it is refused in every environment';
// More trusted hops than this is unusual (CDN + load balancer); each extra hop is one more X-Forwarded-For
// entry a client that skips a proxy can write itself.
const MAX_TRUSTED_HOPS = 2;

/**
 * The boot-time security lint, in the order findings are reported. Each rule names its OWASP API Security
 * Top 10 (2023) item, the code it throws and the fix.
 */
export const SECURITY_LINT_RULES: readonly SecurityLintRule[] = Object.freeze([
  {
    id: 'cors-credentials-wildcard',
    owasp: OWASP_API_2023.misconfiguration,
    code: 'ERR_SECURITY_CONFIG_PERMISSIVE_CORS',
    enforcement: 'always',
    notWaivable: EVERY_ENVIRONMENT,
    fix: 'list the exact origins in cors.origins, or set cors.credentials to false',
    check: ({ cors }) =>
      cors && cors.credentials && cors.origins.includes('*')
        ? {
            option: 'cors',
            problem: 'credentials are allowed for origin "*", so any web site could call the API as the signed-in user',
          }
        : undefined,
  },
  {
    id: 'cors-unanchored-pattern',
    owasp: OWASP_API_2023.misconfiguration,
    code: 'ERR_SECURITY_CONFIG_UNANCHORED_CORS_PATTERN',
    enforcement: 'always',
    notWaivable: EVERY_ENVIRONMENT,
    fix: 'anchor each pattern: ^ first, $ last, alternatives inside a group, e.g. ^https://([a-z0-9-]+\\.)?example\\.com$',
    check: ({ cors }) => {
      const bad = cors ? cors.patterns.filter((pattern) => anchoredPatternProblem(pattern) !== undefined) : [];
      return bad.length > 0
        ? {
            option: 'cors.patterns',
            problem: `${quoted(bad)} ${bad.length === 1 ? 'is' : 'are'} not anchored, so an origin such as https://app.example.com.evil.example can match`,
          }
        : undefined;
    },
  },
  {
    id: 'trust-proxy-permissive',
    owasp: OWASP_API_2023.misconfiguration,
    code: 'ERR_SECURITY_CONFIG_PERMISSIVE_TRUST_PROXY',
    enforcement: 'always',
    notWaivable: EVERY_ENVIRONMENT,
    fix: 'list the addresses or CIDRs of your proxies in trustProxy, or give their hop count',
    check: ({ trustProxy }) =>
      (trustProxy as unknown) === true ||
      (Array.isArray(trustProxy) && trustProxy.some((entry) => entry.endsWith('/0')))
        ? {
            option: 'trustProxy',
            problem:
              'X-Forwarded-For is trusted from every address, so any client chooses the IP that rate limits, IP blocks and the audit trail see',
          }
        : undefined,
  },
  {
    id: 'trust-proxy-hop-count',
    owasp: OWASP_API_2023.misconfiguration,
    code: 'ERR_SECURITY_CONFIG_LINT_TRUST_PROXY_HOP_COUNT',
    enforcement: 'production',
    fix: `list the addresses or CIDRs of your proxies in trustProxy (or trust at most ${MAX_TRUSTED_HOPS} hops)`,
    check: ({ trustProxy }) =>
      typeof trustProxy === 'number' && trustProxy > MAX_TRUSTED_HOPS
        ? {
            option: 'trustProxy',
            problem: `${trustProxy} hops of X-Forwarded-For are trusted from any peer, so a client that reaches the app through fewer proxies chooses its own IP`,
          }
        : undefined,
  },
  {
    id: 'cors-insecure-origin',
    owasp: OWASP_API_2023.misconfiguration,
    code: 'ERR_SECURITY_CONFIG_INSECURE_ORIGIN',
    enforcement: 'production',
    fix: 'use https origins (plain http is accepted for localhost, 127.0.0.1 and [::1] only)',
    check: ({ cors }) => {
      const insecure = cors ? cors.origins.filter((origin) => isPlainHttp(origin)) : [];
      return insecure.length > 0
        ? {
            option: 'cors.origins',
            problem: `${quoted(insecure)} ${insecure.length === 1 ? 'is a plain http origin' : 'are plain http origins'}: anyone on the network path can inject script there that calls this API`,
          }
        : undefined;
    },
  },
  {
    id: 'security-headers-off',
    owasp: OWASP_API_2023.misconfiguration,
    code: 'ERR_SECURITY_CONFIG_LINT_SECURITY_HEADERS_OFF',
    enforcement: 'production',
    fix: 'remove headers: false; change single headers with the headers options or @SecurityHeaders() on a route',
    check: ({ headers }) =>
      headers === false
        ? {
            option: 'headers',
            problem:
              'no Content-Security-Policy, X-Frame-Options, X-Content-Type-Options, Referrer-Policy, Cache-Control or Strict-Transport-Security is sent',
          }
        : undefined,
  },
  {
    id: 'hsts-off-on-https',
    owasp: OWASP_API_2023.misconfiguration,
    code: 'ERR_SECURITY_CONFIG_LINT_HSTS_OFF_ON_HTTPS',
    enforcement: 'production',
    fix: 'remove headers.hsts: false (the default is max-age=31536000; includeSubDomains)',
    check: ({ headers }, { https }) => {
      if (!https) return undefined;
      const off = headers === false || headers.hsts === false || headers.hsts.maxAgeSeconds === 0;
      return off
        ? {
            option: headers === false ? 'headers' : 'headers.hsts',
            problem:
              'this server speaks HTTPS but sends no Strict-Transport-Security, so browsers keep trying http:// first, where a network attacker can downgrade them',
          }
        : undefined;
    },
  },
  {
    id: 'rate-limit-off',
    owasp: OWASP_API_2023.resourceConsumption,
    code: 'ERR_SECURITY_CONFIG_LINT_RATE_LIMIT_OFF',
    enforcement: 'production',
    fix: 'remove rateLimit: false (defaults: ip 1000/60s, principal 100/60s, login 5/300s) or set rateLimit.policies',
    check: ({ rateLimit }) =>
      rateLimit === false
        ? {
            option: 'rateLimit',
            problem:
              'rate limiting is off: nothing bounds how many requests, logins or key guesses a client sends, and @RateLimit() routes are unlimited',
          }
        : undefined,
  },
  {
    id: 'rate-limit-ip-off',
    owasp: OWASP_API_2023.resourceConsumption,
    code: 'ERR_SECURITY_CONFIG_LINT_RATE_LIMIT_IP_OFF',
    enforcement: 'production',
    fix: "set rateLimit.policies.ip to a limit such as '1000/60s' instead of false",
    check: ({ rateLimit }) =>
      rateLimit && rateLimit.ip === false
        ? {
            option: 'rateLimit.policies.ip',
            problem:
              'no per-IP limit runs before authentication, so floods of unauthenticated requests and bad credentials are unbounded',
          }
        : undefined,
  },
  {
    id: 'api-key-in-query',
    owasp: OWASP_API_2023.brokenAuthentication,
    code: 'ERR_SECURITY_CONFIG_QUERY_KEY_IN_PRODUCTION',
    enforcement: 'production',
    fix: 'set apiKeys.queryParam to false; clients send keys in X-API-Key',
    check: ({ apiKeys }) =>
      apiKeys && apiKeys.queryParam !== false
        ? {
            option: 'apiKeys.queryParam',
            problem: `keys accepted in the query string ("${apiKeys.queryParam}") end up in access logs, proxies, browser history and Referer headers`,
          }
        : undefined,
  },
  {
    id: 'generated-master-key',
    owasp: OWASP_API_2023.brokenAuthentication,
    code: 'ERR_SECURITY_CONFIG_GENERATED_MASTER_KEY',
    enforcement: 'production',
    notWaivable: 'the master key loader refuses a generated key in production as well',
    fix: 'set signing.masterKeys (SIGNING_MASTER_KEYS) to a key kept in a secret store',
    check: ({ signing }) =>
      signing && signing.masterKeys === undefined && signing.masterKeyFile !== false
        ? {
            option: 'signing.masterKeyFile',
            problem: `HMAC signing secrets are encrypted with a master key generated into ${signing.masterKeyFile}, which sits beside the data it protects`,
          }
        : undefined,
  },
  {
    id: 'signing-nonces-not-shared',
    owasp: OWASP_API_2023.brokenAuthentication,
    code: 'ERR_SECURITY_CONFIG_LINT_SIGNING_NONCES_NOT_SHARED',
    enforcement: 'production',
    fix: 'set redis so that every instance shares one nonce store, or signing: false if no client signs requests; with exactly one instance, waive the rule',
    check: ({ signing, redis }) =>
      signing && redis === false
        ? {
            option: 'redis',
            problem: `request signing is on but used nonces are kept in each instance's memory, so a signed request captured within its ${Math.round(signing.maxClockSkewMs / 1000)} s window can be replayed on another instance or after a restart`,
          }
        : undefined,
  },
  {
    // Loopback http stays allowed in production too: no network path to tamper with (a local JWKS sidecar).
    id: 'oauth-jwks-http',
    owasp: OWASP_API_2023.brokenAuthentication,
    code: 'ERR_SECURITY_CONFIG_LINT_OAUTH_JWKS_HTTP',
    enforcement: 'production',
    fix: 'use an https:// JWKS URL (plain http is accepted on loopback addresses only)',
    check: ({ oauth }) => {
      const url = oauth ? oauth.jwksUrl : undefined;
      return typeof url === 'string' && isPlainHttp(url)
        ? {
            option: 'oauth.jwksUrl',
            problem: `the token signing keys are fetched over plain http (${url}), so anyone on the network path can swap them and forge tokens`,
          }
        : undefined;
    },
  },
] satisfies SecurityLintRule[]);

/** A rule with what it found. */
export interface SecurityLintResult {
  readonly rule: SecurityLintRule;
  readonly finding: SecurityLintFinding;
}

/**
 * Every finding of the lint table over `options`, in table order, waivers not applied. Pure.
 * @example lintSecurityOptions(resolveSecurityOptions({ rateLimit: false }), { https: false })
 */
export function lintSecurityOptions(
  options: ResolvedSecurityOptions,
  context: SecurityLintContext,
): SecurityLintResult[] {
  const results: SecurityLintResult[] = [];
  for (const rule of SECURITY_LINT_RULES) {
    const finding = rule.check(options, context);
    if (finding) results.push({ rule, finding });
  }
  return results;
}

/**
 * Runs the boot-time security lint. With `environment: 'production'` the first finding not waived in
 * `lint.allow` throws `SecurityConfigError` (every other one is passed to `warn` first); otherwise each
 * finding is passed to `warn`. Waived findings are passed to `warn` too, in every environment. An unknown
 * or unwaivable id in `lint.allow` throws in every environment.
 * @example runSecurityLint(options, { https: server instanceof tls.Server }, (message) => logger.warn(message))
 */
export function runSecurityLint(
  options: ResolvedSecurityOptions,
  context: SecurityLintContext,
  warn: (message: string) => void,
): void {
  const allow = checkWaivers(options.lint.allow);
  const production = options.environment === 'production';
  const refused: SecurityLintResult[] = [];
  const found = new Set<string>();
  for (const result of lintSecurityOptions(options, context)) {
    const { rule, finding } = result;
    found.add(rule.id);
    if (rule.enforcement === 'always' || (production && !allow.has(rule.id))) {
      refused.push(result);
    } else if (allow.has(rule.id)) {
      warn(
        `security lint: rule ${rule.id} waived by lint.allow: ${finding.option}: ${finding.problem} (${rule.owasp})`,
      );
    } else {
      warn(`security lint: ${summarize(result)} Refused when environment is 'production'.`);
    }
  }
  for (const id of allow) {
    if (!found.has(id)) warn(`security lint: lint.allow waives '${id}', which finds nothing here; remove the waiver`);
  }
  const [first, ...others] = refused;
  if (!first) return;
  for (const other of others) warn(`security lint: refused: ${summarize(other)}`);
  const also =
    others.length > 0 ? ` Also refused: ${others.map((other) => other.rule.id).join(', ')} (logged above).` : '';
  throw new SecurityConfigError(first.rule.code, first.finding.option, `${explain(first)}${also}`);
}

/**
 * Why a CORS origin pattern is unsafe, or undefined: it must compile, start with `^`, end with an unescaped
 * `$`, and have no `|` outside a group (`^a|b$` anchors only `a` at the start and `b` at the end).
 */
export function anchoredPatternProblem(source: string): string | undefined {
  try {
    new RegExp(source);
  } catch {
    return 'is not a valid regular expression';
  }
  if (!source.startsWith('^')) return 'must start with ^';
  let escaped = false;
  let endsEscaped = false;
  let depth = 0;
  let inClass = false;
  for (let index = 1; index < source.length; index++) {
    const char = source[index];
    if (escaped) {
      escaped = false;
      endsEscaped = index === source.length - 1;
      continue;
    }
    if (char === '\\') escaped = true;
    else if (inClass) inClass = char !== ']';
    else if (char === '[') inClass = true;
    else if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === '|' && depth === 0)
      return 'has a | outside a group, which unanchors it; wrap the alternatives in (…)';
    else if (char === '$' && index !== source.length - 1) return 'has a $ before its end';
  }
  if (!source.endsWith('$') || escaped || endsEscaped) return 'must end with $';
  return undefined;
}

/**
 * The note `resolveSecurityOptions` appends to a refusal that is also a lint rule, so every refusal of a
 * dangerous setting names its OWASP item the same way.
 */
export function securityLintNote(id: string): string {
  const rule = SECURITY_LINT_RULES.find((candidate) => candidate.id === id);
  if (!rule) throw new Error(`no security lint rule ${id}`);
  return `(${rule.owasp}; security lint rule ${rule.id})`;
}

function checkWaivers(ids: readonly string[]): Set<string> {
  for (const id of ids) {
    const rule = SECURITY_LINT_RULES.find((candidate) => candidate.id === id);
    if (!rule) {
      const waivable = SECURITY_LINT_RULES.filter((candidate) => candidate.notWaivable === undefined);
      throw new SecurityConfigError(
        'ERR_SECURITY_CONFIG_UNKNOWN_LINT_RULE',
        'lint.allow',
        `"${id}" is not a security lint rule; rules that can be waived: ${waivable.map((candidate) => candidate.id).join(', ')}`,
      );
    }
    if (rule.notWaivable !== undefined) {
      throw new SecurityConfigError(
        'ERR_SECURITY_CONFIG_LINT_RULE_NOT_WAIVABLE',
        'lint.allow',
        `"${id}" cannot be waived: ${rule.notWaivable}; ${rule.fix}`,
      );
    }
  }
  return new Set(ids);
}

function summarize({ rule, finding }: SecurityLintResult): string {
  return `${finding.option}: ${explain({ rule, finding })}`;
}

function explain({ rule, finding }: SecurityLintResult): string {
  const waiver =
    rule.notWaivable === undefined ? ` To accept the risk on purpose, add '${rule.id}' to lint.allow.` : '';
  return `${finding.problem} (${rule.owasp}; security lint rule ${rule.id}). Fix: ${rule.fix}.${waiver}`;
}

function quoted(values: readonly string[]): string {
  return values.map((value) => `"${value}"`).join(', ');
}

// http:// anywhere but on this machine.
function isPlainHttp(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:') return false;
  const host = url.hostname;
  if (host === 'localhost' || host === '[::1]') return false;
  return !(isIP(host) === 4 && host.startsWith('127.'));
}
