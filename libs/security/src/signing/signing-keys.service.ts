import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Actor } from '../audit/actor.js';
import { SecurityEvents } from '../audit/security-events.service.js';
import { effectiveKeyPermissions } from '../authz/core/permissions.js';
import { CredentialCache } from '../changes/credential-cache.js';
import { SecurityChangeBus } from '../changes/security-change.bus.js';
import { Clock } from '../core/clock.js';
import { parseLimit } from '../core/durations.js';
import { SecurityOperationError, SecurityStoreUnavailableError } from '../core/errors.js';
import type { Principal } from '../principals/principal.js';
import { PrincipalStore } from '../principals/principal.store.js';
import { openSecret, sealSecret, type MasterKeyRing } from './core/secret-box.js';
import { SignatureVerificationError, type SignatureAlgorithm, type SigningKeyMaterial } from './core/signed-request.js';
import { SIGNING_MASTER_KEY_RING } from './master-keys.js';
import { SigningKeyIdTakenError, SigningKeyStore, type SigningKeyRecord } from './signing-key.store.js';

/** What may be asked for when creating a signing key. */
export interface CreateSigningKeyInput {
  readonly ownerId: string;
  /** Default `signing key`. */
  readonly name?: string;
  /** Default `hmac-sha256`. */
  readonly algorithm?: SignatureAlgorithm;
}

/** The one answer that carries the secret (hmac-sha256) or the private key (ed25519): shown once, never stored. */
export interface IssuedSigningKey {
  readonly accessKeyId: string;
  readonly algorithm: SignatureAlgorithm;
  /** hmac-sha256: the secret text the client signs with (its UTF-8 bytes are the HMAC key). */
  readonly secret?: string;
  /** ed25519: the private key, PKCS#8 PEM. */
  readonly privateKey?: string;
}

/** A signing key as lists show it: never the secret, sealed or not. */
export interface SigningKeyView {
  readonly accessKeyId: string;
  readonly ownerId: string;
  readonly name: string;
  readonly algorithm: SignatureAlgorithm;
  /** ed25519: the public key (SPKI PEM); null for hmac-sha256. */
  readonly publicKey: string | null;
  /** hmac-sha256: the master key version its secret is sealed under; null for ed25519. */
  readonly masterKeyVersion: string | null;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly status: 'active' | 'revoked';
}

/** A key the authenticator may check a signature with, and the principal it authenticates. */
export interface ResolvedSigningKey {
  readonly record: SigningKeyRecord;
  readonly material: SigningKeyMaterial;
  /** Roles and permissions as of the load; `authMethod: 'signature'`, `keyId` the access key id. */
  readonly principal: Principal;
}

/** `NAS` + 17 base32 characters: upper-case letters and digits only, so it fits a SigV4 credential scope. */
export const ACCESS_KEY_ID_PATTERN = /^[A-Z0-9]{20}$/;
/** Length of an HMAC signing secret, base62 (about 238 bits). */
export const SIGNING_SECRET_LENGTH = 40;

const ALGORITHMS: readonly SignatureAlgorithm[] = ['hmac-sha256', 'ed25519'];
const DEFAULT_NAME = 'signing key';
const NAME = /^[\p{L}\p{N} ._:/()-]{1,100}$/u;
const CACHE_TTL_MS = 30_000;
const NEGATIVE_TTL_MS = 5_000;
const CACHE_MAX = 10_000;

interface CachedKey {
  readonly record: SigningKeyRecord;
  readonly disabled: boolean;
  readonly resolved: ResolvedSigningKey;
}

/**
 * The lifecycle of request-signing keys (create, list, revoke, each audited with its actor and broadcast)
 * and their look-up for the signature authenticator. An HMAC secret is generated here, returned once and
 * stored only sealed under the master key ring; an ed25519 key pair is generated here, its private half
 * returned once and its public half stored.
 */
@Injectable()
export class SigningKeys implements OnModuleDestroy {
  private readonly cache: CredentialCache<CachedKey>;

  constructor(
    private readonly keys: SigningKeyStore,
    @Inject(SIGNING_MASTER_KEY_RING) private readonly ring: MasterKeyRing | null,
    private readonly principals: PrincipalStore,
    private readonly events: SecurityEvents,
    private readonly bus: SecurityChangeBus,
    private readonly clock: Clock,
  ) {
    this.cache = new CredentialCache({
      bus,
      kind: 'signing-key',
      max: CACHE_MAX,
      ttlMs: CACHE_TTL_MS,
      negativeTtlMs: NEGATIVE_TTL_MS,
    });
  }

  /** Creates a key for `ownerId`; the answer is the only time its secret or private key is seen. */
  async create(input: CreateSigningKeyInput, actor: Actor): Promise<IssuedSigningKey> {
    const algorithm = input.algorithm ?? 'hmac-sha256';
    if (!ALGORITHMS.includes(algorithm)) {
      throw new SecurityOperationError(
        'ERR_SECURITY_INVALID_SIGNING_ALGORITHM',
        `algorithm must be one of ${ALGORITHMS.join(', ')}`,
        'invalid',
        { field: 'algorithm' },
      );
    }
    const name = (input.name ?? DEFAULT_NAME).trim();
    if (!NAME.test(name)) {
      throw new SecurityOperationError(
        'ERR_SECURITY_INVALID_KEY_NAME',
        'A key name has 1 to 100 letters, digits, spaces or ._:/()-',
        'invalid',
        { field: 'name' },
      );
    }
    const owner = await this.principals.findById(input.ownerId);
    if (!owner) throw new SecurityOperationError('ERR_SECURITY_UNKNOWN_PRINCIPAL', 'No such principal', 'not_found');
    if (owner.disabledAt) {
      throw new SecurityOperationError('ERR_SECURITY_PRINCIPAL_DISABLED', 'The principal is disabled', 'conflict');
    }
    const ring = algorithm === 'hmac-sha256' ? this.requireRing() : undefined;
    const createdAt = new Date(this.clock.now());
    let issued: IssuedSigningKey | undefined;
    let record: SigningKeyRecord | undefined;
    // 85 random bits make a collision all but impossible; retrying keeps a freak one from failing the call.
    for (let attempt = 0; !record; attempt++) {
      const accessKeyId = generateAccessKeyId();
      let material: Pick<SigningKeyRecord, 'secretCiphertext' | 'masterKeyVersion' | 'publicKey'>;
      if (ring) {
        const secret = generateSigningSecret();
        const sealed = sealSecret(ring, secret, accessKeyId);
        material = { secretCiphertext: sealed.ciphertext, masterKeyVersion: sealed.version, publicKey: null };
        issued = { accessKeyId, algorithm, secret };
      } else {
        const pair = generateKeyPairSync('ed25519', {
          publicKeyEncoding: { type: 'spki', format: 'pem' },
          privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        });
        material = { secretCiphertext: null, masterKeyVersion: null, publicKey: pair.publicKey };
        issued = { accessKeyId, algorithm, privateKey: pair.privateKey };
      }
      try {
        record = await this.keys.create({
          accessKeyId,
          principalId: owner.id,
          algorithm,
          name,
          createdAt,
          ...material,
        });
      } catch (error) {
        if (!(error instanceof SigningKeyIdTakenError) || attempt >= 2) throw error;
      }
    }
    await this.bus.announce({ kind: 'signing-key', id: record.accessKeyId });
    await this.events.record({
      type: 'KEY_CREATED',
      outcome: 'success',
      principalId: actor.principalId,
      keyId: record.accessKeyId,
      request: actor.request,
      actor: actor.label,
      details: { kind: 'signing', ownerId: record.principalId, name: record.name, algorithm },
    });
    return issued!;
  }

  /** Keys of one principal, or every key, revoked included, newest first. */
  async list(ownerId?: string): Promise<SigningKeyView[]> {
    return (await this.keys.list(ownerId)).map(view);
  }

  async get(accessKeyId: string): Promise<SigningKeyView | null> {
    const record = await this.keys.findById(accessKeyId);
    return record ? view(record) : null;
  }

  /** Revokes a key at once, everywhere; idempotent (the first `revokedAt` is kept). */
  async revoke(accessKeyId: string, actor: Actor): Promise<{ accessKeyId: string; revokedAt: string }> {
    const now = new Date(this.clock.now());
    const revoked = (await this.keys.revoke(accessKeyId, now)) ? await this.keys.findById(accessKeyId) : null;
    if (!revoked) {
      throw new SecurityOperationError('ERR_SECURITY_UNKNOWN_SIGNING_KEY', 'No such signing key', 'not_found');
    }
    await this.bus.announce({ kind: 'signing-key', id: accessKeyId });
    await this.events.record({
      type: 'KEY_REVOKED',
      outcome: 'success',
      principalId: actor.principalId,
      keyId: accessKeyId,
      request: actor.request,
      actor: actor.label,
      details: { kind: 'signing', ownerId: revoked.principalId },
    });
    return { accessKeyId, revokedAt: (revoked.revokedAt ?? now).toISOString() };
  }

  /**
   * For the authenticator: the key's material and the principal it authenticates, from a bounded cache
   * (30 s, dropped by change broadcasts and resyncs; unknown ids remembered 5 s). Undefined when there is
   * no such key; throws `SignatureVerificationError('revoked_key')` when it is revoked or its principal
   * disabled, `('unsupported_algorithm')` for an HMAC key without master keys configured,
   * `SecurityStoreUnavailableError` when the store cannot answer (refused, never accepted), and
   * `SecretUnreadableError` when its sealed secret does not open (the ring lacks its version, or the row
   * was altered).
   */
  async resolve(accessKeyId: string): Promise<ResolvedSigningKey | undefined> {
    if (!ACCESS_KEY_ID_PATTERN.test(accessKeyId) || this.cache.isUnknown(accessKeyId)) return undefined;
    const entry = this.cache.get(accessKeyId) ?? (await this.cache.load(accessKeyId, () => this.load(accessKeyId)));
    if (!entry) return undefined;
    const { record } = entry;
    if (entry.disabled) throw new SignatureVerificationError('revoked_key', 'the key’s principal is disabled');
    if (record.revokedAt && record.revokedAt.getTime() <= this.clock.now()) {
      throw new SignatureVerificationError('revoked_key', 'the key is revoked');
    }
    return entry.resolved;
  }

  onModuleDestroy(): void {
    this.cache.close();
  }

  // null: no such key, or its principal is gone (remembered as unknown).
  private async load(accessKeyId: string): Promise<CachedKey | null> {
    let record: SigningKeyRecord | null;
    let access: Awaited<ReturnType<PrincipalStore['accessOf']>>;
    // A store that cannot answer is a 503 (deny, retry later), never a 500 and never an accepted key.
    try {
      record = await this.keys.findById(accessKeyId);
      access = record && (await this.principals.accessOf(record.principalId));
    } catch (error) {
      throw new SecurityStoreUnavailableError('credential', 2, { cause: error });
    }
    if (!record || !access) return null;
    const principal = access.principal;
    const rateLimit = principal.attributes?.rateLimit;
    const entry: CachedKey = {
      record,
      disabled: principal.disabledAt !== null,
      resolved: Object.freeze({
        record,
        material: this.materialOf(record),
        principal: Object.freeze({
          id: principal.id,
          kind: principal.kind,
          roles: Object.freeze([...access.roles]),
          // A signing key carries all of its principal's permissions (it has no scopes).
          permissions: Object.freeze(effectiveKeyPermissions(access.permissions, null)),
          attributes: principal.attributes,
          authMethod: 'signature',
          keyId: accessKeyId,
          createdAt: principal.createdAt,
          ...(typeof rateLimit === 'string' && parseLimit(rateLimit) !== undefined
            ? { rateLimit: Object.freeze({ limit: rateLimit, per: 'principal' as const }) }
            : {}),
        }),
      }),
    };
    return entry;
  }

  private materialOf(record: SigningKeyRecord): SigningKeyMaterial {
    if (record.algorithm === 'ed25519') {
      return Object.freeze({ algorithm: 'ed25519', publicKey: createPublicKey(record.publicKey!) });
    }
    if (!this.ring) {
      throw new SignatureVerificationError(
        'unsupported_algorithm',
        'HMAC signing keys cannot be used: no master keys are configured (SIGNING_MASTER_KEYS)',
      );
    }
    const secret = openSecret(
      this.ring,
      { ciphertext: record.secretCiphertext!, version: record.masterKeyVersion! },
      record.accessKeyId,
    );
    return Object.freeze({ algorithm: 'hmac-sha256', secret });
  }

  private requireRing(): MasterKeyRing {
    if (!this.ring) {
      throw new SecurityOperationError(
        'ERR_SECURITY_SIGNING_MASTER_KEYS_MISSING',
        'HMAC signing keys need master keys: set SIGNING_MASTER_KEYS (signing.masterKeys), or create an ed25519 key',
        'conflict',
      );
    }
    return this.ring;
  }
}

function view(record: SigningKeyRecord): SigningKeyView {
  return {
    accessKeyId: record.accessKeyId,
    ownerId: record.principalId,
    name: record.name,
    algorithm: record.algorithm,
    publicKey: record.publicKey,
    masterKeyVersion: record.masterKeyVersion,
    createdAt: record.createdAt.toISOString(),
    revokedAt: record.revokedAt?.toISOString() ?? null,
    status: record.revokedAt ? 'revoked' : 'active',
  };
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * A new access key id: `NAS` + 17 random base32 characters (85 bits), matching `ACCESS_KEY_ID_PATTERN`.
 * @example generateAccessKeyId() // 'NASK7Q2M4XW9ZB3TPLD6' (no '/', so it fits a SigV4 Credential)
 */
export function generateAccessKeyId(): string {
  // 256 is a multiple of 32, so `byte % 32` is uniform.
  return `NAS${[...randomBytes(17)].map((byte) => BASE32[byte % 32]).join('')}`;
}

/** A new HMAC signing secret: 40 random base62 characters. */
export function generateSigningSecret(): string {
  let secret = '';
  while (secret.length < SIGNING_SECRET_LENGTH) {
    // 248 = 62 * 4: bytes at or above it are dropped so that `byte % 62` is uniform.
    for (const byte of randomBytes(SIGNING_SECRET_LENGTH)) {
      if (byte < 248 && secret.length < SIGNING_SECRET_LENGTH) secret += BASE62[byte % 62];
    }
  }
  return secret;
}
