import { SecurityError } from '../core/errors.js';
import type { SignatureAlgorithm } from './core/signed-request.js';

/** A stored signing key. An HMAC secret is kept sealed (see `core/secret-box.ts`), an ed25519 key as its public half. */
export interface SigningKeyRecord {
  /** 20 upper-case letters and digits (`NAS` + 17 base32): the key id requests name. */
  accessKeyId: string;
  principalId: string;
  algorithm: SignatureAlgorithm;
  /** hmac-sha256: the sealed secret (base64 of iv | tag | ciphertext); null for ed25519. */
  secretCiphertext: string | null;
  /** hmac-sha256: the master key version that sealed it (`v2`); null for ed25519. */
  masterKeyVersion: string | null;
  /** ed25519: the public key, SPKI PEM; null for hmac-sha256. */
  publicKey: string | null;
  name: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/** What `SigningKeyStore.create` takes: a record without `revokedAt` (`createdAt` defaults to now). */
export type NewSigningKey = Omit<SigningKeyRecord, 'createdAt' | 'revokedAt'> & { createdAt?: Date };

/** `SigningKeyStore.create` was given an access key id that another key already has. */
export class SigningKeyIdTakenError extends SecurityError {
  override readonly code = 'ERR_SECURITY_SIGNING_KEY_ID_TAKEN';
  constructor(readonly accessKeyId: string) {
    super('A signing key with this access key id already exists', { accessKeyId });
  }
}

/**
 * Throws a `TypeError` unless the key carries exactly the material of its algorithm: a sealed secret and
 * its master key version for hmac-sha256, a public key for ed25519 (the `signing_keys_material_check`).
 */
export function assertSigningKeyMaterial(key: NewSigningKey): void {
  const hmac = key.secretCiphertext !== null && key.masterKeyVersion !== null && key.publicKey === null;
  const ed25519 = key.publicKey !== null && key.secretCiphertext === null && key.masterKeyVersion === null;
  if (key.algorithm === 'hmac-sha256' ? hmac : key.algorithm === 'ed25519' ? ed25519 : false) return;
  throw new TypeError(
    `signing key ${key.accessKeyId}: ${String(key.algorithm)} needs ` +
      (key.algorithm === 'ed25519'
        ? 'a public key and no secret'
        : 'a sealed secret with its master key version and no public key'),
  );
}

/**
 * The port of signing key persistence, and its DI token. Every mutation is atomic and returns what it
 * changed; adapters pass `describeSigningKeyStoreContract`.
 */
export abstract class SigningKeyStore {
  /** Which adapter this is, for the boot log. */
  abstract readonly kind: string;

  /**
   * Stores a new key. Throws `SigningKeyIdTakenError` (`ERR_SECURITY_SIGNING_KEY_ID_TAKEN`) for a duplicate
   * id, `UnknownPrincipalError` (`ERR_SECURITY_UNKNOWN_PRINCIPAL`) when the principal does not exist, and a
   * `TypeError` when the material does not fit the algorithm (`assertSigningKeyMaterial`).
   */
  abstract create(key: NewSigningKey): Promise<SigningKeyRecord>;

  /** The key with this access key id, revoked included; null when there is none. */
  abstract findById(accessKeyId: string): Promise<SigningKeyRecord | null>;

  /** Keys of one principal, or every key, revoked included, newest first (`createdAt`, then id, descending). */
  abstract list(principalId?: string): Promise<SigningKeyRecord[]>;

  /** Revokes a key; idempotent: revoking again keeps the first `revokedAt`. False when there is no such key. */
  abstract revoke(accessKeyId: string, at: Date): Promise<boolean>;

  /** Revokes every key of the principal still in force; returns the ids it revoked now, sorted. */
  abstract revokeAllOf(principalId: string, at: Date): Promise<string[]>;
}
