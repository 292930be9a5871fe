import { Inject, Injectable, VersioningType, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { VERSION_METADATA } from '@nestjs/common/constants.js';
import type { VersioningOptions } from '@nestjs/common';
import { ApplicationConfig, HttpAdapterHost, Reflector } from '@nestjs/core';
import { Clock } from '../core/clock.js';
import { DeprecatedClosedError, GoneError } from '../core/errors.js';
import { requestPath, summarizeRequest, type HttpRequestLike } from '../http/http-request.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { principalOf } from '../principals/current-principal.decorator.js';
import type { Principal } from '../principals/principal.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import { deprecationHeaders, phaseAt, type DeprecationLifecycle } from './core/deprecation.js';
import { DEPRECATED } from './deprecated.decorator.js';
import { DeprecationUsage } from './deprecation-usage.service.js';

/** What a handler was declared with: its own lifecycle, and the versions it serves. */
interface HandlerPlan {
  /** `@Deprecated()` on the route or its controller. */
  readonly own: DeprecationLifecycle | undefined;
  /** The versions the route serves (`@Version`, the controller's `version`, or the app's default). */
  readonly versions: readonly string[];
}

type RouteRequest = HttpRequestLike & {
  readonly route?: { readonly path?: unknown };
  readonly routeOptions?: { readonly url?: unknown };
};

/**
 * The deprecation lifecycle, after authentication and the principal rate limit: sets `Deprecation`,
 * `Sunset`, `Link` (and `Warning`) on every response of a deprecated route, counts the call, and refuses
 * principals created since `closedToNewClientsAt` (403) and every call in a brownout or after the sunset
 * (410). A route is deprecated by its own or its controller's `@Deprecated()`, else by
 * `deprecations.versions` for the version it was called with.
 */
@Injectable()
export class DeprecationGuard implements CanActivate {
  private readonly plans = new WeakMap<object, WeakMap<object, HandlerPlan>>();

  constructor(
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    private readonly reflector: Reflector,
    private readonly config: ApplicationConfig,
    private readonly adapterHost: HttpAdapterHost,
    private readonly usage: DeprecationUsage,
    private readonly clock: Clock,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const deprecations = this.options.deprecations;
    if (!deprecations || context.getType() !== 'http') return true;
    const plan = this.planOf(context.getHandler(), context.getClass());
    if (!plan.own && (plan.versions.length === 0 || Object.keys(deprecations.versions).length === 0)) return true;
    const request = context.switchToHttp().getRequest<RouteRequest>();
    const version = this.versionOf(request, plan.versions);
    const lifecycle = plan.own ?? (version === null ? undefined : deprecations.versions[version]);
    if (!lifecycle) return true;

    const now = this.clock.now();
    const { phase, brownoutEndsAt } = phaseAt(lifecycle, now);
    const response: unknown = context.switchToHttp().getResponse();
    const adapter = this.adapterHost.httpAdapter;
    for (const [name, value] of Object.entries(deprecationHeaders(lifecycle, now))) {
      adapter.setHeader(response, name, value);
    }
    const principal = principalOf(request);
    const route = { version, method: request.method ?? 'GET', path: routeTemplateOf(request) };
    let refusal: DeprecatedClosedError | GoneError | undefined;
    if (phase === 'gone') {
      refusal = new GoneError(lifecycle.successor, undefined, { ...route, phase });
    } else if (phase === 'brownout') {
      const retryAfter = Math.max(1, Math.ceil((brownoutEndsAt! - now) / 1000));
      refusal = new GoneError(lifecycle.successor, retryAfter, { ...route, phase });
    } else if (phase === 'closed' && principal && isNewClient(principal, lifecycle.closedToNewClientsAt!)) {
      refusal = new DeprecatedClosedError(lifecycle.successor, { ...route, phase });
    }
    // Counted from the deprecation date on; an announcement only informs.
    if (phase !== 'announced') {
      this.usage.record({
        ...route,
        principalId: principal?.id ?? null,
        keyId: principal?.keyId ?? null,
        phase,
        lifecycle,
        refused: refusal !== undefined,
        status: refusal instanceof GoneError ? 410 : refusal ? 403 : undefined,
        request: summarizeRequest(request),
      });
    }
    if (refusal) throw refusal;
    return true;
  }

  private planOf(handler: object, type: object): HandlerPlan {
    let ofClass = this.plans.get(type);
    if (!ofClass) this.plans.set(type, (ofClass = new WeakMap()));
    let plan = ofClass.get(handler);
    if (!plan) {
      const targets = [handler, type] as Array<(...args: never[]) => unknown>;
      const declared =
        this.reflector.getAllAndOverride<unknown>(VERSION_METADATA, targets) ?? this.versioning()?.defaultVersion;
      const versions = (Array.isArray(declared) ? declared : [declared]).filter(
        (version): version is string => typeof version === 'string',
      );
      plan = {
        own: this.reflector.getAllAndOverride<DeprecationLifecycle | undefined>(DEPRECATED, targets),
        versions,
      };
      ofClass.set(handler, plan);
    }
    return plan;
  }

  private versioning(): VersioningOptions | undefined {
    return this.config.getVersioning();
  }

  /** The version this request was routed by, among those the route serves; null when unversioned. */
  private versionOf(request: RouteRequest, versions: readonly string[]): string | null {
    if (versions.length === 0) return null;
    if (versions.length === 1) return versions[0];
    const versioning = this.versioning();
    if (!versioning) return null;
    let asked: readonly string[] = [];
    switch (versioning.type) {
      case VersioningType.URI: {
        // The version is the first segment of the matched route after the global prefix: reading the route
        // template (not the path sent) means a path parameter such as /v2/things/v1 is never taken for it.
        const prefix = versioning.prefix === false ? '' : (versioning.prefix ?? 'v');
        const segments = routeTemplateOf(request).split('/').filter(Boolean);
        const global = this.config.getGlobalPrefix().split('/').filter(Boolean);
        const atPrefix = global.every((part, index) => segments[index] === part) ? global.length : 0;
        asked = [segments[atPrefix]?.startsWith(prefix) ? segments[atPrefix].slice(prefix.length) : ''];
        break;
      }
      case VersioningType.HEADER:
        asked = [headerValue(request, versioning.header)];
        break;
      case VersioningType.MEDIA_TYPE: {
        const accept = headerValue(request, 'accept');
        const at = accept.indexOf(versioning.key);
        asked = at === -1 ? [] : [accept.slice(at + versioning.key.length).split(/[;,\s]/)[0]];
        break;
      }
      case VersioningType.CUSTOM: {
        const extracted: unknown = versioning.extractor(request);
        asked = (Array.isArray(extracted) ? extracted : [extracted]).filter((v): v is string => typeof v === 'string');
        break;
      }
    }
    return asked.find((version) => versions.includes(version)) ?? null;
  }
}

// Fail closed: a principal whose creation time is unknown counts as new.
function isNewClient(principal: Principal, closedAt: number): boolean {
  return principal.createdAt === undefined || principal.createdAt.getTime() >= closedAt;
}

function headerValue(request: HttpRequestLike, name: string): string {
  const value = request.headers[name.toLowerCase()];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/** The route as the framework matched it (`/v1/items/:id`): Express's `route.path`, Fastify's `routeOptions.url`. */
export function routeTemplateOf(request: RouteRequest): string {
  const template = request.route?.path ?? request.routeOptions?.url;
  return typeof template === 'string' ? template : (requestPath(request) ?? '/');
}
