import {
  Inject,
  Injectable,
  Optional,
  type BeforeApplicationShutdown,
  type ExecutionContext,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { DiscoveryService, HttpAdapterHost, MetadataScanner, Reflector } from '@nestjs/core';
import { SecurityEvents } from '../audit/security-events.service.js';
import { Clock } from '../core/clock.js';
import { parseDuration, parseLimit } from '../core/durations.js';
import { RateLimitExceededError, SecurityConfigError, SecurityStoreUnavailableError } from '../core/errors.js';
import { assignClientIp, summarizeRequest, type HttpRequestLike } from '../http/http-request.js';
import type { ResolvedRateLimitOptions, ResolvedSecurityOptions } from '../options/security-options.js';
import { principalOf } from '../principals/current-principal.decorator.js';
import type { Principal } from '../principals/principal.js';
import { IS_PUBLIC } from '../principals/public.decorator.js';
import { SecurityMetrics } from '../monitoring/security-metrics.service.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import { clientIpKey } from './core/client-ip.js';
import { buildRateLimitHeaders } from './core/rate-limit-headers.js';
import {
  RATE_LIMITS,
  SKIP_RATE_LIMIT,
  type GlobalRateLimitPolicy,
  type RateLimitTracker,
  type RouteRateLimit,
} from './rate-limit.decorator.js';
import { RateLimitEventReporter } from './rate-limit-event-reporter.js';
import { RateLimiter, type RateLimitPolicyCheck, type RateLimitPolicyDecision } from './rate-limiter.js';

/** The DI token of the `RateLimiter` the module builds (null when rate limiting is off). */
export const RATE_LIMITER = Symbol.for('nest-api-security.rate-limiter');

/** A policy of a route, resolved once per handler. */
interface PlannedPolicy {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly cost: number;
  readonly blockMs: number;
  readonly onStoreError: RateLimitPolicyCheck['onStoreError'];
  readonly by: RateLimitTracker;
  /** Start of the counter key: the policy's name for shared policies, the route for per-route ones. */
  readonly scope: string;
  /** Only the global principal policy: per-key and per-principal overrides apply. */
  readonly global?: boolean;
  /** The principal policy is off: only a per-key or per-principal limit applies (limit/windowMs unused). */
  readonly overrideOnly?: boolean;
}

/** The policies of one handler, split by the phase that decides them. */
interface RoutePlan {
  /** Decided before authentication: the global IP policy and route policies counted by IP. */
  readonly beforeAuth: readonly PlannedPolicy[];
  /** Decided after authentication: the global principal policy and the other route policies. */
  readonly afterAuth: readonly PlannedPolicy[];
}

/** What the first phase leaves on the request for the second one. */
interface RequestState {
  readonly ip: string;
  readonly decisions: readonly RateLimitPolicyDecision[];
}

const STATE = Symbol.for('nest-api-security.rateLimit');
const SUMMARY_INTERVAL_MS = 1_000;
const EMPTY_PLAN: RoutePlan = { beforeAuth: [], afterAuth: [] };

/**
 * Rate limiting for HTTP routes: resolves each handler's policies once (global `ip` and `principal`,
 * `@RateLimit()`, `@SkipRateLimit()`), decides them with the `RateLimiter` in two phases (IP before
 * authentication, principal after), writes the headers, refuses with 429 (or 503 for a `closed` policy
 * whose store is down) and reports refusals without flooding the audit trail. Non-HTTP contexts are
 * not rate limited.
 */
@Injectable()
export class RateLimits implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly options: ResolvedRateLimitOptions | false;
  // Per class, then per handler: an inherited handler is one function shared by several controllers.
  private readonly plans = new WeakMap<object, WeakMap<object, RoutePlan>>();
  private readonly routeOwners = new Map<string, object>();
  private readonly overrides = new Map<string, { limit: number; windowMs: number } | undefined>();
  private readonly reporter: RateLimitEventReporter;
  private summaries: NodeJS.Timeout | undefined;

  constructor(
    @Inject(SECURITY_OPTIONS) private readonly securityOptions: ResolvedSecurityOptions,
    @Inject(RATE_LIMITER) private readonly limiter: RateLimiter | null,
    private readonly reflector: Reflector,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly adapterHost: HttpAdapterHost,
    private readonly events: SecurityEvents,
    private readonly clock: Clock,
    @Optional() private readonly metrics?: SecurityMetrics,
  ) {
    this.options = securityOptions.rateLimit;
    this.reporter = new RateLimitEventReporter({
      record: (event) => void this.events.record(event),
      now: () => this.clock.now(),
    });
  }

  /** Resolves every route's policies now, so an unknown policy name fails at boot, not on first request. */
  onApplicationBootstrap(): void {
    if (!this.options || !this.limiter) return;
    for (const wrapper of this.discovery.getControllers()) {
      const type = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (!type || !wrapper.instance) continue;
      const prototype = Object.getPrototypeOf(wrapper.instance) as object;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const handler = (prototype as Record<string, unknown>)[method];
        if (typeof handler === 'function') this.planOf(handler as (...args: never[]) => unknown, type);
      }
    }
    this.summaries = setInterval(() => this.reporter.flushDue(), SUMMARY_INTERVAL_MS);
    this.summaries.unref();
  }

  // Before shutdown, not on it: the audit writer closes in its own beforeApplicationShutdown (after this
  // one, as SecurityEvents is a dependency), and events recorded once it has closed are dropped.
  beforeApplicationShutdown(): void {
    if (this.summaries) clearInterval(this.summaries);
    this.summaries = undefined;
    this.reporter.flushAll();
  }

  /**
   * Phase 1 (before authentication): the IP policy and route policies counted by IP. Returns a promise
   * only when there is something to ask the store (the guard then waits), else `undefined`.
   */
  beforeAuthentication(context: ExecutionContext): Promise<void> | undefined {
    if (!this.options || !this.limiter || context.getType() !== 'http') return undefined;
    const request = context.switchToHttp().getRequest<HttpRequestLike & Record<symbol, unknown>>();
    const ip = this.clientIp(request);
    const plan = this.planOf(context.getHandler(), context.getClass());
    if (plan.beforeAuth.length === 0) {
      request[STATE] = { ip, decisions: [] } satisfies RequestState;
      return undefined;
    }
    const checks = plan.beforeAuth.map((policy) => checkOf(policy, `ip:${ip}`));
    return this.decide(context, request, checks, []).then((decisions) => {
      request[STATE] = { ip, decisions } satisfies RequestState;
    });
  }

  /** Phase 2 (after authentication): the principal policy and the other route policies. As phase 1, sync when idle. */
  afterAuthentication(context: ExecutionContext): Promise<void> | undefined {
    if (!this.options || !this.limiter || context.getType() !== 'http') return undefined;
    const plan = this.planOf(context.getHandler(), context.getClass());
    if (plan.afterAuth.length === 0) return undefined;
    const request = context.switchToHttp().getRequest<HttpRequestLike & Record<symbol, unknown>>();
    const state = (request[STATE] as RequestState | undefined) ?? { ip: this.clientIp(request), decisions: [] };
    const principal = principalOf(request);
    const checks: RateLimitPolicyCheck[] = [];
    for (const policy of plan.afterAuth) {
      const check = this.principalCheck(policy, request, state.ip, principal);
      if (check) checks.push(check);
    }
    if (checks.length === 0) return undefined;
    return this.decide(context, request, checks, state.decisions).then(() => this.metrics?.recordRateLimitAllowed());
  }

  private async decide(
    context: ExecutionContext,
    request: HttpRequestLike,
    checks: readonly RateLimitPolicyCheck[],
    earlier: readonly RateLimitPolicyDecision[],
  ): Promise<readonly RateLimitPolicyDecision[]> {
    if (checks.length === 0) return earlier;
    const verdict = await this.limiter!.check(checks);
    if (verdict.unavailable) {
      throw new SecurityStoreUnavailableError('rate-limit', Math.max(1, Math.ceil(this.probeSeconds())));
    }
    const decisions = earlier.length === 0 ? verdict.decisions : [...earlier, ...verdict.decisions];
    const headers = buildRateLimitHeaders(decisions);
    const response: unknown = context.switchToHttp().getResponse();
    const adapter = this.adapterHost.httpAdapter;
    for (const name in headers) {
      if (name !== 'Retry-After') adapter.setHeader(response, name, headers[name]!);
    }
    if (!verdict.allowed) {
      this.metrics?.recordRateLimitDenied();
      const principal = principalOf(request);
      const summary = summarizeRequest(request);
      for (const decision of verdict.decisions) {
        if (decision.allowed) continue;
        this.reporter.refused({
          key: decision.key,
          policy: decision.name,
          limit: decision.limit,
          windowMs: decision.windowMs,
          retryAfterMs: decision.retryAfterMs,
          principalId: principal?.id,
          keyId: principal?.keyId,
          request: summary,
        });
      }
      const refused = verdict.decisions.filter((decision) => !decision.allowed);
      throw new RateLimitExceededError(
        Number(headers['Retry-After'] ?? '1'),
        { policies: refused.map((decision) => decision.name) },
        { recorded: true },
      );
    }
    return decisions;
  }

  private principalCheck(
    policy: PlannedPolicy,
    request: HttpRequestLike,
    ip: string,
    principal: Principal | undefined,
  ): RateLimitPolicyCheck | undefined {
    if (typeof policy.by === 'function') {
      const tracker = policy.by({ request, ip, principal });
      if (tracker === undefined) return undefined;
      if (typeof tracker !== 'string' || tracker.length === 0 || tracker.length > 256) {
        throw new TypeError(
          `rate limit ${policy.name}: a tracker function must return a string of 1 to 256 characters`,
        );
      }
      return checkOf(policy, `fn:${tracker}`);
    }
    // A public route has no principal to count; its principal policies do not apply.
    if (!principal) return undefined;
    const override = policy.global ? principal.rateLimit : undefined;
    const limit = override ? this.overrideOf(override.limit) : undefined;
    if (override && limit) {
      const tracker =
        override.per === 'key' && principal.keyId ? `key:${principal.keyId}` : `principal:${principal.id}`;
      return {
        ...checkOf(policy, tracker),
        limit: limit.limit,
        windowMs: limit.windowMs,
        cost: Math.min(policy.cost, limit.limit),
      };
    }
    if (policy.overrideOnly) return undefined;
    return checkOf(policy, `principal:${principal.id}`);
  }

  private overrideOf(text: string): { limit: number; windowMs: number } | undefined {
    if (this.overrides.has(text)) return this.overrides.get(text);
    const parsed = parseLimit(text);
    if (this.overrides.size > 1_000) this.overrides.clear();
    this.overrides.set(text, parsed);
    return parsed;
  }

  private clientIp(request: HttpRequestLike): string {
    // Resolved once per request by the first hook (the same address the events and the IP block use).
    const ip = assignClientIp(request, this.securityOptions.trustProxy);
    return clientIpKey(ip, { ipv6Prefix: this.options ? this.options.ipv6Prefix : 64 });
  }

  private probeSeconds(): number {
    return this.options ? this.options.probeIntervalMs / 1000 : 1;
  }

  private planOf(handler: object, type: object): RoutePlan {
    let ofClass = this.plans.get(type);
    if (!ofClass) this.plans.set(type, (ofClass = new WeakMap()));
    const cached = ofClass.get(handler);
    if (cached) return cached;
    const plan = this.buildPlan(handler, type);
    ofClass.set(handler, plan);
    return plan;
  }

  // Inline limits count per `Class.method`, a name stable across instances; two controllers of one name
  // would share counters, so that is refused at boot.
  private claimRouteName(routeName: string, type: object): void {
    const owner = this.routeOwners.get(routeName);
    if (owner === undefined) this.routeOwners.set(routeName, type);
    else if (owner !== type) {
      throw new SecurityConfigError(
        'ERR_SECURITY_CONFIG_DUPLICATE_RATE_LIMIT_POLICY',
        `@RateLimit on ${routeName}`,
        'two controller classes of this name have inline rate limits, which would share counters; rename one',
      );
    }
  }

  private buildPlan(handler: object, type: object): RoutePlan {
    const options = this.options;
    if (!options) return EMPTY_PLAN;
    const targets = [handler, type] as Array<(...args: never[]) => unknown>;
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, targets) === true;
    const skipped: readonly GlobalRateLimitPolicy[] =
      this.reflector.getAllAndOverride<readonly GlobalRateLimitPolicy[] | undefined>(SKIP_RATE_LIMIT, targets) ?? [];
    const routeName = `${(type as { name?: string }).name ?? 'anonymous'}.${(handler as { name?: string }).name ?? 'handler'}`;
    const declared = [
      ...((Reflect.getMetadata(RATE_LIMITS, type) as RouteRateLimit[] | undefined) ?? []),
      ...((Reflect.getMetadata(RATE_LIMITS, handler) as RouteRateLimit[] | undefined) ?? []),
    ];
    const beforeAuth: PlannedPolicy[] = [];
    const afterAuth: PlannedPolicy[] = [];
    if (options.ip && !skipped.includes('ip')) {
      beforeAuth.push({ ...options.ip, cost: 1, by: 'ip', scope: 'ip' });
    }
    if (!skipped.includes('principal') && !isPublic) {
      // With the principal policy off, a limit stored with a key or principal still applies.
      const principalPolicy = options.principal || {
        name: 'principal',
        limit: 0,
        windowMs: 0,
        blockMs: 0,
        onStoreError: options.onStoreError,
      };
      afterAuth.push({
        ...principalPolicy,
        cost: 1,
        by: 'principal',
        scope: 'principal',
        global: true,
        overrideOnly: !options.principal,
      });
    }
    const names = new Set([...beforeAuth, ...afterAuth].map((policy) => policy.name));
    if (declared.some(({ policy }) => parseLimit(policy))) this.claimRouteName(routeName, type);
    for (const { policy, options: route } of declared) {
      const inline = parseLimit(policy);
      // Own properties only: 'constructor' is a valid policy name and must not find Object.prototype's.
      const configured = inline || !Object.hasOwn(options.named, policy) ? undefined : options.named[policy];
      if (!inline && !configured) {
        throw new SecurityConfigError(
          'ERR_SECURITY_CONFIG_UNKNOWN_RATE_LIMIT_POLICY',
          `@RateLimit('${policy}') on ${routeName}`,
          `no policy named "${policy}" in rateLimit.policies; configure it or give a limit such as "5/300s"`,
        );
      }
      const limit = configured ?? inline!;
      const name = route.name ?? configured?.name ?? 'route';
      if (names.has(name)) {
        throw new SecurityConfigError(
          'ERR_SECURITY_CONFIG_DUPLICATE_RATE_LIMIT_POLICY',
          `@RateLimit('${policy}') on ${routeName}`,
          `two policies of this route are named "${name}"; give each @RateLimit a distinct name`,
        );
      }
      names.add(name);
      const cost = route.cost ?? 1;
      if (cost > limit.limit) {
        throw new SecurityConfigError(
          'ERR_SECURITY_CONFIG_INVALID_RATE_LIMIT',
          `@RateLimit('${policy}') on ${routeName}`,
          `cost ${cost} is above the limit ${limit.limit}, so every request would be refused`,
        );
      }
      const planned: PlannedPolicy = {
        name,
        limit: limit.limit,
        windowMs: limit.windowMs,
        cost,
        blockMs: route.block !== undefined ? parseDuration(route.block)! : (configured?.blockMs ?? 0),
        onStoreError: route.onStoreError ?? configured?.onStoreError ?? options.onStoreError,
        by: route.by ?? (isPublic ? 'ip' : 'principal'),
        // A configured policy is one budget wherever it is used (whatever name a route shows it under);
        // an inline limit counts per route.
        scope: configured ? `policy:${configured.name}` : `route:${routeName}:${name}`,
      };
      (planned.by === 'ip' ? beforeAuth : afterAuth).push(planned);
    }
    return { beforeAuth, afterAuth };
  }
}

function checkOf(policy: PlannedPolicy, tracker: string): RateLimitPolicyCheck {
  return {
    name: policy.name,
    key: policy.scope === 'ip' || policy.scope === 'principal' ? tracker : `${policy.scope}:${tracker}`,
    limit: policy.limit,
    windowMs: policy.windowMs,
    cost: policy.cost,
    blockMs: policy.blockMs,
    onStoreError: policy.onStoreError,
  };
}
