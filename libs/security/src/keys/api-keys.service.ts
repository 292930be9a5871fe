import { Inject, Injectable } from '@nestjs/common';
import type { Actor } from '../audit/actor.js';
import { SecurityEvents } from '../audit/security-events.service.js';
import { isValidPermission } from '../authz/core/permissions.js';
import { SecurityChangeBus } from '../changes/security-change.bus.js';
import { Clock } from '../core/clock.js';
import { parseDuration, parseLimit } from '../core/durations.js';
import { SecurityOperationError } from '../core/errors.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { PrincipalStore } from '../principals/principal.store.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import type { ApiKeyRecord, NewApiKey } from './api-key.record.js';
import { ApiKeyStore } from './api-key.store.js';
import { API_KEY_PEPPER_RING } from './api-key.verifier.js';
import { generateApiKey } from './core/api-key-format.js';
import { hashSecret, type PepperRing } from './core/secret-hashing.js';
import { isIP } from 'node:net';

/** What may be asked for when creating a key. */
export interface CreateApiKeyInput {
  readonly ownerId: string;
  readonly name: string;
  /** Permissions the key is limited to; omitted = all of its principal's permissions. */
  readonly scopes?: readonly string[];
  /** A duration such as `30d`; omitted = the configured default (no expiry unless set). */
  readonly expiresIn?: string;
  readonly environment?: 'live' | 'test';
  /** Client addresses or CIDRs allowed to use the key. */
  readonly allowedCidrs?: readonly string[];
  /**
   * A rate limit of this key (`count/window`, e.g. `5000/60s`), counted per key in place of the
   * `principal` policy; omitted = the principal's own limit, else the policy's. Kept in `metadata.rateLimit`.
   */
  readonly rateLimit?: string;
}

/** A key as lists show it: never the secret or its hash. */
export interface ApiKeyView {
  readonly id: string;
  readonly ownerId: string;
  readonly name: string;
  readonly environment: 'live' | 'test';
  readonly scopes: readonly string[] | null;
  readonly allowedCidrs: readonly string[] | null;
  /** The key's own rate limit (`count/window`), or null when it has none. */
  readonly rateLimit: string | null;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly rotatedFrom: string | null;
  readonly lastUsedAt: string | null;
  readonly status: 'active' | 'expired' | 'revoked';
}

/** The one answer that carries the full key: shown once, never stored. */
export interface IssuedApiKey {
  readonly id: string;
  readonly key: string;
  readonly expiresAt: string | null;
  /** The key's own rate limit (`count/window`), or null when it has none. */
  readonly rateLimit: string | null;
}

const DEFAULT_ROTATION_GRACE = '24h';
const NAME = /^[\p{L}\p{N} ._:/()-]{1,100}$/u;

/**
 * The lifecycle of API keys: create, list, rotate with a grace period, revoke. Every change is audited
 * with its actor and broadcast so that every instance drops its cached copy within a second.
 */
@Injectable()
export class ApiKeys {
  constructor(
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    @Inject(API_KEY_PEPPER_RING) private readonly pepper: PepperRing,
    private readonly keys: ApiKeyStore,
    private readonly principals: PrincipalStore,
    private readonly bus: SecurityChangeBus,
    private readonly events: SecurityEvents,
    private readonly clock: Clock,
  ) {}

  async create(input: CreateApiKeyInput, actor: Actor): Promise<IssuedApiKey> {
    const owner = await this.principals.findById(input.ownerId);
    if (!owner) throw new SecurityOperationError('ERR_SECURITY_UNKNOWN_PRINCIPAL', 'No such principal', 'not_found');
    if (owner.disabledAt) {
      throw new SecurityOperationError('ERR_SECURITY_PRINCIPAL_DISABLED', 'The principal is disabled', 'conflict');
    }
    const now = this.clock.now();
    const settings = this.settings();
    const expiresInMs =
      input.expiresIn === undefined ? settings.defaultExpiryMs : this.duration(input.expiresIn, 'expiresIn');
    const draft = this.draft(input, input.environment ?? settings.environment);
    const record = await this.keys.create({
      ...draft.record,
      createdAt: new Date(now),
      expiresAt: expiresInMs === false ? null : new Date(now + expiresInMs),
      rotatedFrom: null,
    });
    await this.changed(record.id);
    await this.events.record({
      type: 'KEY_CREATED',
      outcome: 'success',
      principalId: actor.principalId,
      keyId: record.id,
      request: actor.request,
      actor: actor.label,
      details: {
        ownerId: record.principalId,
        name: record.name,
        scopes: record.scopes,
        expiresAt: record.expiresAt,
        rateLimit: rateLimitOf(record),
      },
    });
    return {
      id: record.id,
      key: draft.key,
      expiresAt: record.expiresAt?.toISOString() ?? null,
      rateLimit: rateLimitOf(record),
    };
  }

  async list(filter: { ownerId?: string } = {}): Promise<ApiKeyView[]> {
    const records = await this.keys.list({ principalId: filter.ownerId, includeRevoked: true });
    return records.map((record) => this.view(record));
  }

  async get(id: string): Promise<ApiKeyView | null> {
    const record = await this.keys.findById(id);
    return record ? this.view(record) : null;
  }

  /**
   * Issues a new key with the old one's owner, name, scopes, environment, allow-list and rate limit, and keeps the
   * old key valid for `grace` (`0s` = it stops at once). The new key keeps the old one's expiry policy.
   */
  async rotate(
    id: string,
    options: { grace?: string },
    actor: Actor,
  ): Promise<IssuedApiKey & { rotatedFrom: string; previousValidUntil: string }> {
    const previous = await this.keys.findById(id);
    if (!previous) throw new SecurityOperationError('ERR_SECURITY_UNKNOWN_KEY', 'No such API key', 'not_found');
    const now = this.clock.now();
    if (previous.revokedAt || (previous.expiresAt && previous.expiresAt.getTime() <= now)) {
      throw new SecurityOperationError('ERR_SECURITY_KEY_INACTIVE', 'Only an active key can be rotated', 'conflict');
    }
    const graceMs = this.duration(options.grace ?? DEFAULT_ROTATION_GRACE, 'grace', true);
    const lifetime = previous.expiresAt ? previous.expiresAt.getTime() - previous.createdAt.getTime() : undefined;
    const draft = this.draft(
      {
        ownerId: previous.principalId,
        name: previous.name,
        scopes: previous.scopes ?? undefined,
        allowedCidrs: previous.allowedCidrs ?? undefined,
        // A stored limit that no longer parses is dropped rather than blocking the rotation.
        rateLimit: rateLimitOf(previous) ?? undefined,
      },
      previous.environment,
    );
    const rotated = await this.keys.rotate(
      previous.id,
      {
        ...draft.record,
        createdAt: new Date(now),
        expiresAt: lifetime === undefined ? null : new Date(now + lifetime),
        rotatedFrom: previous.id,
      },
      new Date(now + graceMs),
    );
    if (!rotated) {
      throw new SecurityOperationError('ERR_SECURITY_KEY_INACTIVE', 'Only an active key can be rotated', 'conflict');
    }
    await this.changed(previous.id, rotated.created.id);
    const previousValidUntil = rotated.previous.expiresAt ?? new Date(now + graceMs);
    await this.events.record({
      type: 'KEY_ROTATED',
      outcome: 'success',
      principalId: actor.principalId,
      keyId: rotated.created.id,
      request: actor.request,
      actor: actor.label,
      details: { ownerId: previous.principalId, rotatedFrom: previous.id, previousValidUntil },
    });
    return {
      id: rotated.created.id,
      key: draft.key,
      expiresAt: rotated.created.expiresAt?.toISOString() ?? null,
      rateLimit: rateLimitOf(rotated.created),
      rotatedFrom: previous.id,
      previousValidUntil: previousValidUntil.toISOString(),
    };
  }

  async revoke(id: string, actor: Actor): Promise<{ id: string; revokedAt: string }> {
    const revoked = await this.keys.revoke(id, new Date(this.clock.now()));
    if (!revoked) throw new SecurityOperationError('ERR_SECURITY_UNKNOWN_KEY', 'No such API key', 'not_found');
    await this.changed(id);
    await this.events.record({
      type: 'KEY_REVOKED',
      outcome: 'success',
      principalId: actor.principalId,
      keyId: id,
      request: actor.request,
      actor: actor.label,
      details: { ownerId: revoked.principalId },
    });
    return { id, revokedAt: revoked.revokedAt!.toISOString() };
  }

  private draft(
    input: Omit<CreateApiKeyInput, 'expiresIn' | 'environment'>,
    environment: 'live' | 'test',
  ): { key: string; record: Omit<NewApiKey, 'expiresAt' | 'rotatedFrom' | 'createdAt'> } {
    const name = input.name.trim();
    if (!NAME.test(name)) {
      throw new SecurityOperationError(
        'ERR_SECURITY_INVALID_KEY_NAME',
        'A key name has 1 to 100 letters, digits, spaces or ._:/()-',
        'invalid',
      );
    }
    const scopes = input.scopes ? [...new Set(input.scopes)] : null;
    for (const scope of scopes ?? []) {
      if (!isValidPermission(scope)) {
        throw new SecurityOperationError(
          'ERR_SECURITY_INVALID_SCOPE',
          `"${scope.slice(0, 64)}" is not a permission (resource:action)`,
          'invalid',
        );
      }
    }
    const allowedCidrs = input.allowedCidrs ? [...input.allowedCidrs] : null;
    for (const cidr of allowedCidrs ?? []) {
      const [address, bits, extra] = cidr.split('/');
      const family = isIP(address ?? '');
      const maxBits = family === 6 ? 128 : 32;
      if (
        family === 0 ||
        extra !== undefined ||
        (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits))
      ) {
        throw new SecurityOperationError(
          'ERR_SECURITY_INVALID_CIDR',
          `"${cidr.slice(0, 64)}" is not an address or CIDR`,
          'invalid',
        );
      }
    }
    if (input.rateLimit !== undefined && parseLimit(input.rateLimit) === undefined) {
      throw new SecurityOperationError(
        'ERR_SECURITY_INVALID_RATE_LIMIT',
        'rateLimit must be a limit such as 5000/60s (count/window, neither 0)',
        'invalid',
        { field: 'rateLimit' },
      );
    }
    const generated = generateApiKey({ prefix: this.settings().prefix, environment });
    return {
      key: generated.key,
      record: {
        id: generated.id,
        principalId: input.ownerId,
        name,
        environment,
        secretHash: hashSecret(generated.secret, this.pepper),
        hashVersion: this.pepper.current,
        scopes,
        allowedCidrs,
        metadata: input.rateLimit === undefined ? {} : { rateLimit: input.rateLimit },
      },
    };
  }

  private view(record: ApiKeyRecord): ApiKeyView {
    const now = this.clock.now();
    const status = record.revokedAt
      ? 'revoked'
      : record.expiresAt && record.expiresAt.getTime() <= now
        ? 'expired'
        : 'active';
    return {
      id: record.id,
      ownerId: record.principalId,
      name: record.name,
      environment: record.environment,
      scopes: record.scopes,
      allowedCidrs: record.allowedCidrs,
      rateLimit: rateLimitOf(record),
      createdAt: record.createdAt.toISOString(),
      expiresAt: record.expiresAt?.toISOString() ?? null,
      revokedAt: record.revokedAt?.toISOString() ?? null,
      rotatedFrom: record.rotatedFrom,
      lastUsedAt: record.lastUsedAt?.toISOString() ?? null,
      status,
    };
  }

  private settings() {
    if (!this.options.apiKeys) {
      throw new SecurityOperationError('ERR_SECURITY_API_KEYS_DISABLED', 'API keys are switched off', 'conflict');
    }
    return this.options.apiKeys;
  }

  private duration(text: string, name: string, allowZero = false): number {
    // A bare `0` is accepted where zero is meaningful (a rotation grace of 0 = the old key stops at once).
    const ms = allowZero && text === '0' ? 0 : parseDuration(text, { allowZero });
    if (ms === undefined) {
      throw new SecurityOperationError(
        'ERR_SECURITY_INVALID_DURATION',
        `${name} must be a duration such as 30d or 24h`,
        'invalid',
      );
    }
    return ms;
  }

  private async changed(...ids: string[]): Promise<void> {
    for (const id of ids) await this.bus.announce({ kind: 'api-key', id });
  }
}

/** A key's own rate limit from its metadata, or null when it has none or it does not parse. */
export function rateLimitOf(record: Pick<ApiKeyRecord, 'metadata'>): string | null {
  const value = record.metadata?.rateLimit;
  return typeof value === 'string' && parseLimit(value) !== undefined ? value : null;
}
