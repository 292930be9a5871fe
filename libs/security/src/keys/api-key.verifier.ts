import { hash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { effectiveKeyPermissions } from '../authz/core/permissions.js';
import { CredentialCache } from '../changes/credential-cache.js';
import { SecurityChangeBus } from '../changes/security-change.bus.js';
import { Clock } from '../core/clock.js';
import { withTimeout } from '../core/with-timeout.js';
import { parseLimit } from '../core/durations.js';
import { InvalidCredentialsError, SecurityStoreUnavailableError } from '../core/errors.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import type { Principal, PrincipalRateLimit } from '../principals/principal.js';
import { PrincipalStore, type PrincipalRecord } from '../principals/principal.store.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import type { ApiKeyRecord } from './api-key.record.js';
import { ApiKeyStore } from './api-key.store.js';
import { ApiKeyUsageRecorder } from './api-key-usage.recorder.js';
import { parseApiKey } from './core/api-key-format.js';
import { hashSecret, needsRehash, verifySecret, type PepperRing } from './core/secret-hashing.js';

/** Injection token of the parsed `API_KEY_PEPPER` ring. */
export const API_KEY_PEPPER_RING = Symbol.for('nest-api-security.apiKeyPepperRing');

// When API keys are switched off (`apiKeys: false`) the verifier is still built; today's defaults then.
const CACHE_TTL_MS = 30_000;
const LOOKUP_TIMEOUT_MS = 2_000;
const NEGATIVE_TTL_MS = 5_000;
const CACHE_MAX = 10_000;

interface CachedKey {
  readonly record: ApiKeyRecord;
  readonly principal: PrincipalRecord;
  /** Built once per load: effective permissions are a pure function of the cached rows. */
  readonly authenticated: Principal;
  /**
   * SHA-256 of the secret that last passed the full (peppered HMAC) check against this entry's stored
   * hash. A later request presenting the same secret is compared with it instead, in constant time: one
   * plain SHA-256 rather than an HMAC (whose set-up dominates the cost of a cache hit). Lives and dies
   * with the entry, so a rotation, revocation or any change broadcast drops it with the record.
   */
  verified?: Buffer;
}

/** A key that passed every check, with the principal it authenticates. */
export interface VerifiedApiKey {
  readonly record: ApiKeyRecord;
  readonly principal: Principal;
}

/**
 * Verifies API keys: format and checksum first (no I/O for garbage), then a bounded in-process cache of
 * key records (short TTL, never past a key's expiry, dropped on every change broadcast and on resync),
 * a negative cache of unknown ids, and a constant-time comparison of the secret's hash on every request
 * (the peppered HMAC the first time a secret is seen for a cached record, a SHA-256 of it after that).
 * With `apiKeys.staleIfError`, a cached key whose reload fails (database down) is served for that much
 * longer, never past its expiry, and goes through every check below like a fresh one.
 */
@Injectable()
export class ApiKeyVerifier implements OnModuleDestroy {
  private readonly cache: CredentialCache<CachedKey>;
  private readonly prefix: string;
  private readonly lookupTimeoutMs: number;

  constructor(
    @Inject(SECURITY_OPTIONS) options: ResolvedSecurityOptions,
    @Inject(API_KEY_PEPPER_RING) private readonly pepper: PepperRing,
    private readonly keys: ApiKeyStore,
    private readonly principals: PrincipalStore,
    private readonly usage: ApiKeyUsageRecorder,
    private readonly clock: Clock,
    bus: SecurityChangeBus,
  ) {
    this.prefix = options.apiKeys ? options.apiKeys.prefix : 'sk';
    this.lookupTimeoutMs = options.apiKeys ? options.apiKeys.lookupTimeoutMs : LOOKUP_TIMEOUT_MS;
    this.cache = new CredentialCache({
      bus,
      kind: 'api-key',
      max: CACHE_MAX,
      ttlMs: options.apiKeys ? options.apiKeys.cacheTtlMs : CACHE_TTL_MS,
      staleIfErrorMs: options.apiKeys ? options.apiKeys.staleIfErrorMs : 0,
      negativeTtlMs: NEGATIVE_TTL_MS,
      now: () => this.clock.now(),
      logger: new Logger('Security'),
    });
  }

  /** Verifies `text` or throws `InvalidCredentialsError` with the exact reason (for the audit row only). */
  async verify(text: string): Promise<VerifiedApiKey> {
    const parsed = parseApiKey(text, this.prefix);
    if (!parsed.ok) throw new InvalidCredentialsError(parsed.reason);
    const keyId = parsed.id;
    if (this.cache.isUnknown(keyId)) throw new InvalidCredentialsError('unknown', { keyId });
    const entry = this.cache.get(keyId) ?? (await this.loadOrUnavailable(keyId));
    if (!entry) throw new InvalidCredentialsError('unknown', { keyId });
    const { record, principal } = entry;
    // The secret is checked before anything else about the key, so only its holder learns its state.
    const digest = hash('sha256', parsed.secret, 'buffer');
    if (!entry.verified || !timingSafeEqual(digest, entry.verified)) {
      if (!verifySecret(parsed.secret, record.secretHash, record.hashVersion, this.pepper)) {
        throw new InvalidCredentialsError('mismatch', { keyId });
      }
      entry.verified = digest;
    }
    if (parsed.environment !== record.environment) throw new InvalidCredentialsError('mismatch', { keyId });
    const now = this.clock.now();
    // Disabling a principal also revokes its keys; the event names the cause.
    if (principal.disabledAt) throw new InvalidCredentialsError('principal_disabled', { keyId });
    if (record.revokedAt && record.revokedAt.getTime() <= now) throw new InvalidCredentialsError('revoked', { keyId });
    if (record.expiresAt && record.expiresAt.getTime() <= now) throw new InvalidCredentialsError('expired', { keyId });
    if (needsRehash(record.hashVersion, this.pepper)) void this.upgradeHash(record, parsed.secret);
    this.usage.record(keyId, new Date(now));
    return { record, principal: entry.authenticated };
  }

  onModuleDestroy(): void {
    this.cache.close();
  }

  // A store that cannot answer is a 503 (deny, retry later), never a 500 and never an accepted key; the
  // cache may answer with a stale entry instead, within the stale window (never past the key's expiry).
  private async loadOrUnavailable(keyId: string): Promise<CachedKey | undefined> {
    try {
      return await this.cache.load(
        keyId,
        // A silent database (a partition) fails the check after lookupTimeout, not the driver's 30 s.
        () =>
          withTimeout(
            this.load(keyId),
            this.lookupTimeoutMs,
            `no answer from the database within ${this.lookupTimeoutMs} ms`,
          ),
        // Never past the key's expiry, fresh or stale.
        (entry) => (entry.record.expiresAt ? entry.record.expiresAt.getTime() - this.clock.now() : Infinity),
      );
    } catch (error) {
      throw new SecurityStoreUnavailableError('credential', 2, { cause: error });
    }
  }

  // null: no such key (remembered as unknown); undefined: its principal is gone.
  private async load(keyId: string): Promise<CachedKey | null | undefined> {
    const record = await this.keys.findById(keyId);
    if (!record) return null;
    const access = await this.principals.accessOf(record.principalId);
    if (!access) return undefined;
    const principal = access.principal;
    const rateLimit = rateLimitOf(record, principal);
    const entry: CachedKey = {
      record,
      principal,
      authenticated: Object.freeze({
        id: principal.id,
        kind: principal.kind,
        roles: Object.freeze([...access.roles]),
        permissions: Object.freeze(effectiveKeyPermissions(access.permissions, record.scopes)),
        attributes: principal.attributes,
        authMethod: 'api-key',
        keyId,
        createdAt: principal.createdAt,
        ...(rateLimit ? { rateLimit } : {}),
      }),
    };
    return entry;
  }

  private async upgradeHash(record: ApiKeyRecord, secret: string): Promise<void> {
    const upgraded = await this.keys
      .updateHash(record.id, record.secretHash, hashSecret(secret, this.pepper), this.pepper.current)
      .catch(() => false);
    if (upgraded) this.cache.forgetOne(record.id);
  }
}

/**
 * The rate-limit override of a request made with `record`: the key's own (`metadata.rateLimit`, counted
 * per key), else its principal's (`rateLimit` attribute, counted per principal), else none. A stored
 * value that does not parse is ignored: a bad row never refuses a request nor lifts a limit by throwing.
 */
function rateLimitOf(record: ApiKeyRecord, principal: PrincipalRecord): PrincipalRateLimit | undefined {
  const ofKey = record.metadata?.rateLimit;
  if (isLimit(ofKey)) return Object.freeze({ limit: ofKey, per: 'key' });
  const ofPrincipal = principal.attributes?.rateLimit;
  if (isLimit(ofPrincipal)) return Object.freeze({ limit: ofPrincipal, per: 'principal' });
  return undefined;
}

function isLimit(value: unknown): value is string {
  return typeof value === 'string' && parseLimit(value) !== undefined;
}
