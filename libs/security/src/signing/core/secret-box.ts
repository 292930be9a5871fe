/**
 * Encryption at rest of HMAC signing secrets. The server must hold the secret itself to check an HMAC, so it
 * is sealed with AES-256-GCM under a master key from `SIGNING_MASTER_KEYS`, with the access key id as
 * additional authenticated data: a ciphertext copied onto another key's row does not open.
 *
 * `SIGNING_MASTER_KEYS` is a ring `v2:<base64 of 32 bytes>,v1:<base64>`: the first key seals, every key
 * opens what was sealed under its version, so the master key rotates by putting the new one first and
 * keeping the old ones until every secret sealed under them is re-created.
 * Stored form: base64 of iv (12 bytes) | tag (16 bytes) | ciphertext, next to the version that sealed it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SecurityConfigError, SecurityError } from '../../core/errors.js';

/** The parsed master keys. Build it with {@link parseMasterKeys}; the keys stay inside. */
export interface MasterKeyRing {
  /** Version new secrets are sealed with (the first of the ring). */
  readonly current: string;
  /** Every version that can open, current first. */
  readonly versions: readonly string[];
  /** Whether secrets sealed under this version can be opened. */
  has(version: string): boolean;
}

/** A sealed secret as stored: `signing_keys.secret_ciphertext` and `master_key_version`. */
export interface SealedSecret {
  readonly ciphertext: string;
  readonly version: string;
}

/** Why a sealed secret could not be opened. */
export type SecretUnreadableReason = 'unknown_version' | 'malformed' | 'tampered';

/**
 * A sealed secret could not be opened: the ring lacks the master key that sealed it, the stored text is
 * not a sealed secret, or it (or the key id it is bound to) was altered. The secret is never in the message.
 */
export class SecretUnreadableError extends SecurityError {
  override readonly code = 'ERR_SECURITY_SECRET_UNREADABLE';
  constructor(
    readonly reason: SecretUnreadableReason,
    message: string,
    context: Record<string, unknown> = {},
  ) {
    super(message, { ...context, reason });
  }
}

/** Option named in configuration errors. */
export const MASTER_KEYS_OPTION = 'signing.masterKeys';
/** Bytes of a master key (AES-256). */
export const MASTER_KEY_BYTES = 32;

const IV_BYTES = 12;
const TAG_BYTES = 16;
const ENTRY = /^(v\d{1,6}):([A-Za-z0-9+/]+={0,2})$/;
const FIX = 'use v<N>:<base64 of 32 random bytes>, comma-separated, current first, e.g. v2:…=,v1:…=';

/** Master keys live here rather than on the ring so they never show up in logs, JSON or inspection. */
const keysOf = new WeakMap<MasterKeyRing, ReadonlyMap<string, Buffer>>();

/**
 * Reads `SIGNING_MASTER_KEYS` (`v2:<base64>,v1:<base64>`, first is current). Throws `SecurityConfigError`
 * `ERR_SECURITY_CONFIG_INVALID_MASTER_KEYS` naming the fix; the message never contains a key.
 * @example parseMasterKeys(process.env.SIGNING_MASTER_KEYS!).current // 'v2'
 */
export function parseMasterKeys(text: string): MasterKeyRing {
  if (typeof text !== 'string' || text.trim() === '') fail(`is empty; ${FIX}`);
  const keys = new Map<string, Buffer>();
  for (const [index, raw] of text.split(',').entries()) {
    const match = ENTRY.exec(raw.trim());
    if (!match) fail(`entry ${index + 1} is not v<N>:<base64>; ${FIX}`);
    const [, version, encoded] = match;
    const key = Buffer.from(encoded!, 'base64');
    // Buffer.from ignores what is not base64; re-encoding tells a clean value from a damaged one.
    if (key.length !== MASTER_KEY_BYTES || key.toString('base64') !== encoded) {
      fail(`${version} is not the base64 of exactly ${MASTER_KEY_BYTES} bytes; ${FIX}`);
    }
    if (keys.has(version!)) fail(`${version} appears twice; give each key its own version`);
    keys.set(version!, key);
  }
  const versions = Object.freeze([...keys.keys()]);
  const ring: MasterKeyRing = Object.freeze({
    current: versions[0]!,
    versions,
    has: (version: string) => keys.has(version),
  });
  keysOf.set(ring, keys);
  return ring;
}

/**
 * A new random master key as a ring entry, `v1:<base64 of 32 bytes>` by default.
 * @example generateMasterKey('v3') // prepend it to SIGNING_MASTER_KEYS to rotate
 */
export function generateMasterKey(version = 'v1'): string {
  if (!/^v\d{1,6}$/.test(version)) throw new TypeError(`generateMasterKey: version must be v<N>, got ${version}`);
  return `${version}:${randomBytes(MASTER_KEY_BYTES).toString('base64')}`;
}

/**
 * Seals `secret` under the ring's current key, bound to `accessKeyId` (the AAD).
 * @example const { ciphertext, version } = sealSecret(ring, secret, accessKeyId);
 */
export function sealSecret(ring: MasterKeyRing, secret: string | Buffer, accessKeyId: string): SealedSecret {
  const key = keyOf(ring, ring.current);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(accessKeyId, 'utf8'));
  const body = Buffer.concat([
    cipher.update(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret),
    cipher.final(),
  ]);
  return { ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64'), version: ring.current };
}

/**
 * Opens a secret sealed by {@link sealSecret} for `accessKeyId`. Throws `SecretUnreadableError` when the
 * ring lacks its version, the text is not a sealed secret, or the ciphertext or key id was altered.
 */
export function openSecret(ring: MasterKeyRing, sealed: SealedSecret, accessKeyId: string): Buffer {
  if (!ring.has(sealed.version)) {
    throw new SecretUnreadableError(
      'unknown_version',
      `the secret was sealed under master key ${sealed.version}, which SIGNING_MASTER_KEYS does not hold ` +
        `(it has ${ring.versions.join(', ')}): add ${sealed.version} back after the current key, or re-create the signing key`,
      { version: sealed.version, accessKeyId },
    );
  }
  const raw = Buffer.from(sealed.ciphertext, 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES || raw.toString('base64') !== sealed.ciphertext) {
    throw new SecretUnreadableError('malformed', 'the stored secret is not a sealed secret', { accessKeyId });
  }
  const decipher = createDecipheriv('aes-256-gcm', keyOf(ring, sealed.version), raw.subarray(0, IV_BYTES), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(Buffer.from(accessKeyId, 'utf8'));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw new SecretUnreadableError(
      'tampered',
      'the stored secret does not authenticate: it was altered, copied from another key, or sealed under another key of the same version',
      { version: sealed.version, accessKeyId },
    );
  }
}

function keyOf(ring: MasterKeyRing, version: string): Buffer {
  const key = keysOf.get(ring)?.get(version);
  if (!key) throw new RangeError(`master key ring: no key ${version} (build the ring with parseMasterKeys)`);
  return key;
}

function fail(message: string): never {
  throw new SecurityConfigError('ERR_SECURITY_CONFIG_INVALID_MASTER_KEYS', MASTER_KEYS_OPTION, message);
}
