import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { SecurityEvents } from '../audit/security-events.service.js';
import type { SecurityEventOutcome, SecurityEventRecord, SecurityEventType } from '../audit/security-event-types.js';
import { isValidPermission } from '../authz/core/permissions.js';
import { SecurityChangeBus } from '../changes/security-change.bus.js';
import { ManualClock } from '../core/clock.js';
import { parseDuration } from '../core/durations.js';
import { ApiKeys } from '../keys/api-keys.service.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { PasswordHasher } from '../principals/password-hasher.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import { Sessions } from '../sessions/sessions.service.js';
import { signRequest, type SignableRequest, type SigningCredentials } from '../signing/client/sign-request.js';
import type { SignatureAlgorithm, SignatureScheme } from '../signing/core/signed-request.types.js';
import { SigningKeys, type IssuedSigningKey } from '../signing/signing-keys.service.js';
import { TestingStores } from './testing-stores.js';
import { ANOMALY_DETECTOR_SLOT, type AnomalyDetectorSlot } from './testing.constants.js';

/** A fake principal: who `principal()` created, with its effective roles and permissions. */
export interface TestPrincipal {
  readonly id: string;
  readonly kind: 'user' | 'service';
  readonly username: string;
  readonly roles: readonly string[];
  /** Effective permissions: the roles' and its own, sorted. */
  readonly permissions: readonly string[];
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** A principal as the helpers take it: a `TestPrincipal`, anything with its `id`, or the id itself. */
export type TestPrincipalRef = { readonly id: string } | string;

/** What `principal()` takes; every field is optional. */
export interface TestPrincipalInput {
  /** Default `test-user-<n>` (`test-service-<n>` for services). */
  readonly username?: string;
  /** Default `user`. */
  readonly kind?: 'user' | 'service';
  /** A uuid (default: a random one). */
  readonly id?: string;
  readonly email?: string;
  /** Roles to assign; a role not defined yet (see `role()`) is created without permissions. */
  readonly roles?: readonly string[];
  /** Permissions of the principal itself, outside any role (`users:read`, wildcards allowed). */
  readonly permissions?: readonly string[];
  /** Attributes for policies (the demo keeps `department` here; `rateLimit` sets a per-principal limit). */
  readonly attributes?: Readonly<Record<string, unknown>>;
  /** A password, hashed (at test cost) so the application's own login route can be tested; no policy check. */
  readonly password?: string;
}

/** What `apiKeyFor()` takes. */
export interface TestApiKeyOptions {
  /** Permissions the key is narrowed to (default: all of its principal's). */
  readonly scopes?: readonly string[];
  /** A duration such as `'1h'` (default: the configured `apiKeys.defaultExpiry`, no expiry by default). */
  readonly expiresIn?: string;
  /** The key's own rate limit, e.g. `'5/60s'`, counted per key in place of the `principal` policy. */
  readonly rateLimit?: string;
  /** Client addresses or CIDRs the key may be used from. */
  readonly allowedCidrs?: readonly string[];
  /** Default `test key`. */
  readonly name?: string;
  /** Default: the configured `apiKeys.environment`. */
  readonly environment?: 'live' | 'test';
}

/** What `sessionFor()` takes. */
export interface TestSessionOptions {
  /** A second factor proved now (`true`) or at the given time, for `@RequireMfa()` (default: none). */
  readonly mfa?: boolean | Date;
}

/** A login session: send `headers` (or `authorization`) with the request. */
export interface TestSession {
  readonly id: string;
  readonly principalId: string;
  /** `sess_…` */
  readonly token: string;
  /** `Bearer sess_…`, the value of the `Authorization` header. */
  readonly authorization: string;
  /** `{ authorization: 'Bearer sess_…' }`, to spread into a request's headers. */
  readonly headers: Readonly<Record<string, string>>;
  readonly expiresAt: Date;
}

/** What `sign()` takes besides the request. */
export interface TestSignOptions {
  readonly scheme: SignatureScheme;
  /** Whose signing key signs (created on first use and kept until `reset()`). */
  readonly principal: TestPrincipalRef;
  /** `hmac-sha256` (default, every scheme) or `ed25519` (RFC 9421 only). */
  readonly algorithm?: SignatureAlgorithm;
  /** The signing time (default: the test clock's time). */
  readonly at?: Date;
  /** Seed HMAC and RFC 9421 nonce (default: random). Reuse one to test a replay. */
  readonly nonce?: string;
  /** Extra headers to sign; they must be in `request.headers`. */
  readonly headers?: readonly string[];
  /** RFC 9421: an `expires` this many seconds after `created`. */
  readonly expiresInSeconds?: number;
}

/** Which recorded events `events()` returns. */
export interface TestEventFilter {
  readonly type?: SecurityEventType;
  readonly outcome?: SecurityEventOutcome;
  readonly principalId?: string;
  /** Also the events the helpers caused themselves (`KEY_CREATED` by `apiKeyFor()`, ...); default false. */
  readonly includeSetup?: boolean;
}

/** What `reset()` takes. */
export interface TestResetOptions {
  /** Where the clock goes (default: where it started). */
  readonly now?: Date | number;
}

interface RecordedEvent {
  readonly record: SecurityEventRecord;
  readonly setup: boolean;
}

/** The actor label of what the helpers do, as `details.actor` of their events. */
export const TESTING_ACTOR = 'security-testing';

/**
 * The helpers of `SecurityTestingModule`: fake principals, API keys, sessions and request signatures for
 * them, the settable clock, the recorded security events and a reset between tests.
 * @example
 * const security = app.get(SecurityTesting);
 * const alice = await security.principal({ permissions: ['users:read'] });
 * await fetch(`${url}/users/1`, { headers: { 'x-api-key': await security.apiKeyFor(alice) } });
 */
@Injectable()
export class SecurityTesting implements OnApplicationShutdown {
  private recorded: RecordedEvent[] = [];
  private setupDepth = 0;
  private created = 0;
  private readonly signingKeys = new Map<string, Promise<IssuedSigningKey>>();
  private readonly startedAt: number;
  private readonly unsubscribe: () => void;

  constructor(
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    @Inject(ManualClock) readonly clock: ManualClock,
    @Inject(TestingStores) private readonly stores: TestingStores,
    @Inject(SecurityEvents) private readonly securityEvents: SecurityEvents,
    @Inject(SecurityChangeBus) private readonly bus: SecurityChangeBus,
    @Inject(PasswordHasher) private readonly hasher: PasswordHasher,
    @Inject(ApiKeys) private readonly apiKeys: ApiKeys,
    @Inject(Sessions) private readonly sessions: Sessions,
    @Inject(SigningKeys) private readonly signing: SigningKeys,
    @Inject(ANOMALY_DETECTOR_SLOT) private readonly anomalies: AnomalyDetectorSlot,
  ) {
    this.startedAt = clock.now();
    this.unsubscribe = securityEvents.subscribe((record) => this.recorded.push({ record, setup: this.setupDepth > 0 }));
  }

  /**
   * Creates a principal with the given roles, permissions and attributes.
   * @example const editor = await security.principal({ roles: ['editor'], attributes: { department: 'sales' } });
   */
  principal(input: TestPrincipalInput = {}): Promise<TestPrincipal> {
    return this.asSetup(async () => {
      for (const permission of input.permissions ?? []) {
        if (!isValidPermission(permission)) {
          throw new TypeError(`${JSON.stringify(permission)} is not a permission (<resource>:<action>, * allowed)`);
        }
      }
      const store = this.stores.principals.proxy;
      const kind = input.kind ?? 'user';
      const record = await store.create({
        id: input.id,
        kind,
        username: input.username ?? `test-${kind}-${++this.created}`,
        email: input.email ?? null,
        passwordHash: input.password === undefined ? null : await this.hasher.hash(input.password),
        attributes: { ...input.attributes },
        createdAt: new Date(this.clock.now()),
      });
      const defined = new Set((await store.listRoles()).map((role) => role.name));
      for (const role of input.roles ?? []) {
        if (!defined.has(role)) await store.upsertRole(role, []);
        await store.assignRole(record.id, role, TESTING_ACTOR);
      }
      if (input.permissions?.length) store.grantDirect(record.id, input.permissions);
      const access = (await store.accessOf(record.id))!;
      return {
        id: record.id,
        kind: record.kind,
        username: record.username,
        roles: access.roles,
        permissions: access.permissions,
        attributes: record.attributes,
      };
    });
  }

  /**
   * Defines a role or replaces its permissions; principals that have it see the change at once.
   * @example await security.role('editor', ['documents:read', 'documents:write']);
   */
  role(name: string, permissions: readonly string[]): Promise<void> {
    return this.asSetup(async () => {
      await this.stores.principals.proxy.upsertRole(name, permissions);
      await this.bus.announce({ kind: 'role', id: name });
    });
  }

  /**
   * Issues an API key for the principal and returns the full key, to send as `X-API-Key`.
   * @example const key = await security.apiKeyFor(alice, { scopes: ['users:read'], expiresIn: '1h' });
   */
  apiKeyFor(principal: TestPrincipalRef, options: TestApiKeyOptions = {}): Promise<string> {
    return this.asSetup(async () => {
      const issued = await this.apiKeys.create(
        {
          ownerId: idOf(principal),
          name: options.name ?? 'test key',
          scopes: options.scopes,
          expiresIn: options.expiresIn,
          rateLimit: options.rateLimit,
          allowedCidrs: options.allowedCidrs,
          environment: options.environment,
        },
        { label: TESTING_ACTOR },
      );
      return issued.key;
    });
  }

  /**
   * Opens a login session for the principal, with a second factor when `mfa` is set.
   * @example const { headers } = await security.sessionFor(alice, { mfa: true });
   */
  sessionFor(principal: TestPrincipalRef, options: TestSessionOptions = {}): Promise<TestSession> {
    return this.asSetup(async () => {
      const issued = await this.sessions.create(idOf(principal));
      if (options.mfa) {
        const at = options.mfa === true ? new Date(this.clock.now()) : options.mfa;
        await this.sessions.recordSecondFactor(issued.id, at);
      }
      const authorization = `Bearer ${issued.token}`;
      return {
        id: issued.id,
        principalId: issued.principalId,
        token: issued.token,
        authorization,
        headers: Object.freeze({ authorization }),
        expiresAt: issued.expiresAt,
      };
    });
  }

  /**
   * The principal's signing key for `algorithm` (created on first use, kept until `reset()`): its access key
   * id and its secret (HMAC) or private key (Ed25519), for a client of your own such as `createSignedFetch`.
   */
  signingKeyFor(
    principal: TestPrincipalRef,
    { algorithm = 'hmac-sha256' }: { algorithm?: SignatureAlgorithm } = {},
  ): Promise<IssuedSigningKey> {
    const cacheKey = `${idOf(principal).toLowerCase()} ${algorithm}`;
    let key = this.signingKeys.get(cacheKey);
    if (!key) {
      key = this.asSetup(() => this.signing.create({ ownerId: idOf(principal), algorithm }, { label: TESTING_ACTOR }));
      this.signingKeys.set(cacheKey, key);
      key.catch(() => this.signingKeys.delete(cacheKey));
    }
    return key;
  }

  /**
   * Signs a request with the principal's signing key and returns the headers to add (lower-case names,
   * `host` included). `request.url` is the full URL the request goes to; send its body exactly as given.
   * @example
   * const body = JSON.stringify({ amount: 5 });
   * const request = { method: 'POST', url: `${url}/payments`, headers: { 'content-type': 'application/json' }, body };
   * const headers = await security.sign(request, { scheme: 'aws4-hmac-sha256', principal: alice });
   * await fetch(request.url, { method: 'POST', headers: { ...request.headers, ...headers }, body });
   */
  async sign(request: SignableRequest, options: TestSignOptions): Promise<Record<string, string>> {
    const signing = this.options.signing;
    if (!signing) throw new Error('SecurityTesting.sign: request signing is switched off (signing: false)');
    const key = await this.signingKeyFor(options.principal, { algorithm: options.algorithm });
    const credentials: SigningCredentials = key.secret
      ? { accessKeyId: key.accessKeyId, secret: key.secret }
      : { accessKeyId: key.accessKeyId, privateKey: key.privateKey! };
    return signRequest(request, credentials, {
      scheme: options.scheme,
      now: options.at ?? new Date(this.clock.now()),
      nonce: options.nonce,
      region: signing.sigv4.region,
      service: signing.sigv4.service,
      headers: options.headers ? [...options.headers] : undefined,
      expiresInSeconds: options.expiresInSeconds,
    });
  }

  /** The test clock's time. */
  now(): Date {
    return new Date(this.clock.now());
  }

  /** Sets the test clock. */
  setTime(at: Date | number | string): void {
    const ms = at instanceof Date ? at.getTime() : typeof at === 'number' ? at : Date.parse(at);
    if (!Number.isFinite(ms))
      throw new TypeError(`SecurityTesting.setTime: ${JSON.stringify(String(at))} is not a time`);
    this.clock.set(ms);
  }

  /**
   * Moves the test clock forward by milliseconds or a duration such as `'61s'` or `'2h'`.
   * @example security.advance('5m');
   */
  advance(by: number | string): void {
    const ms = typeof by === 'number' ? by : parseDuration(by, { allowZero: true });
    if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
      throw new TypeError(`SecurityTesting.advance: ${JSON.stringify(by)} is not a duration (e.g. 500, '61s', '2h')`);
    }
    this.clock.advance(ms);
  }

  /**
   * The security events recorded since the start or the last `reset()`/`clearEvents()`, oldest first: what
   * the application did, without what the helpers caused unless `includeSetup` is set. A type alone filters
   * by type.
   * @example expect(security.events('PERMISSION_DENIED')).toHaveLength(1);
   */
  events(filter: SecurityEventType | TestEventFilter = {}): SecurityEventRecord[] {
    const { type, outcome, principalId, includeSetup = false } = typeof filter === 'string' ? { type: filter } : filter;
    return this.recorded
      .filter(({ record, setup }) => {
        if (setup && !includeSetup) return false;
        if (type !== undefined && record.type !== type) return false;
        if (outcome !== undefined && record.outcome !== outcome) return false;
        return principalId === undefined || record.principalId === principalId;
      })
      .map(({ record }) => record);
  }

  /** Forgets the recorded events. */
  clearEvents(): void {
    this.recorded = [];
  }

  /**
   * Back to an empty world: every store emptied (principals, roles, keys, sessions, rate-limit counters,
   * nonces, audit trail...), every cache dropped, IP blocks lifted, the events forgotten and the clock back
   * where it started. Call it in `beforeEach` when tests must not see each other.
   */
  async reset(options: TestResetOptions = {}): Promise<void> {
    // Rows still queued belong to the old trail; let them land there rather than in the new one.
    await this.securityEvents.flush(1_000);
    await this.stores.reset();
    this.signingKeys.clear();
    await this.bus.announce({ kind: 'all', id: '*' });
    this.anomalies.swap().onModuleDestroy();
    this.clock.set(options.now ?? this.startedAt);
    this.recorded = [];
  }

  async onApplicationShutdown(): Promise<void> {
    this.unsubscribe();
    await this.stores.close();
  }

  // Events recorded while a helper runs are the helper's own (tests do not run requests concurrently with setup).
  private async asSetup<T>(run: () => Promise<T>): Promise<T> {
    this.setupDepth++;
    try {
      return await run();
    } finally {
      this.setupDepth--;
    }
  }
}

function idOf(principal: TestPrincipalRef): string {
  return typeof principal === 'string' ? principal : principal.id;
}
