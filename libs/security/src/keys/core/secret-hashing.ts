/**
 * Hashes of API key secrets. Only the hash is stored: HMAC-SHA256 keyed with a pepper from
 * `API_KEY_PEPPER` when one is configured (so a leaked table alone cannot be used to test guesses), plain
 * SHA-256 otherwise. Each stored hash records its version so the pepper can be rotated and old hashes
 * upgraded on their next successful use.
 *
 * `API_KEY_PEPPER` and the `hash_version` each of its forms produces:
 * - unset or empty: no pepper, version `sha256`;
 * - a plain string of at least 32 bytes: the pepper's UTF-8 bytes, version `hmac-v1`;
 * - a ring `v2:<base64>,v1:<base64>` (first is current, each key at least 32 bytes): versions `hmac-v2`,
 *   `hmac-v1`. A plain pepper is ring entry `v1`, so rotating away from it is
 *   `v2:<new base64>,v1:<base64 of the old pepper>`. A trailing `sha256` entry (`v1:<base64>,sha256`)
 *   keeps hashes made before any pepper verifiable until they are upgraded; it is never implied, because
 *   it would let anyone who can write the table mint keys without knowing the pepper.
 * A value is read as a ring when it starts with `v<digits>:`; anything else is a plain pepper.
 */
import { createHash, createHmac } from 'node:crypto';
import { constantTimeEqualHex } from '../../core/constant-time.js';
import { SecurityConfigError } from '../../core/errors.js';

/** Version of hashes made without a pepper. */
export const UNPEPPERED_HASH_VERSION = 'sha256';
/** Smallest pepper accepted, in bytes. */
export const MIN_PEPPER_BYTES = 32;

/** The configured peppers, by hash version. Build it with {@link parsePepperRing}; the keys stay inside. */
export interface PepperRing {
  /** Version new hashes are made with. */
  readonly current: string;
  /** Every version that can be verified, current first. */
  readonly versions: readonly string[];
  /** Whether hashes of this version can be verified. */
  has(version: string): boolean;
}

const PEPPER_OPTION = 'API_KEY_PEPPER';
// A ring starts with a version (`sha256,` is caught here only so that it gets a clear error).
const RING_START = /^\s*(?:v\d+:|sha256\s*,)/;
const RING_ENTRY = /^(v\d{1,9}):([A-Za-z0-9+/_-]+={0,2})$/;
const HMAC_VERSION_PREFIX = 'hmac-';
const FIX = `set ${PEPPER_OPTION} to at least ${MIN_PEPPER_BYTES} random bytes (e.g. the output of \`openssl rand -base64 48\`) or to a ring such as v2:<base64>,v1:<base64> (first is current), or leave it unset`;

/** Peppers live here rather than on the ring so they never show up in logs, JSON or inspection. */
const peppersOf = new WeakMap<PepperRing, ReadonlyMap<string, Buffer | undefined>>();

/**
 * Reads `API_KEY_PEPPER` (see the module comment for its forms). Throws `SecurityConfigError` naming
 * `API_KEY_PEPPER` and the fix; the message never contains the value.
 * @example parsePepperRing(process.env.API_KEY_PEPPER).current // 'hmac-v2'
 */
export function parsePepperRing(value: string | undefined): PepperRing {
  const peppers = new Map<string, Buffer | undefined>();
  if (value === undefined || value === '') {
    peppers.set(UNPEPPERED_HASH_VERSION, undefined);
  } else if (typeof value !== 'string') {
    fail(`must be a string; ${FIX}`);
  } else if (RING_START.test(value)) {
    parseRing(value, peppers);
  } else {
    if (value.trim() !== value) fail(`has leading or trailing whitespace; remove it (it would be part of the pepper)`);
    const pepper = Buffer.from(value, 'utf8');
    if (pepper.length < MIN_PEPPER_BYTES) fail(`is shorter than ${MIN_PEPPER_BYTES} bytes; ${FIX}`);
    peppers.set(`${HMAC_VERSION_PREFIX}v1`, pepper);
  }
  const versions = Object.freeze([...peppers.keys()]);
  const ring: PepperRing = Object.freeze({
    current: versions[0]!,
    versions,
    has: (version: string) => peppers.has(version),
  });
  peppersOf.set(ring, peppers);
  return ring;
}

/**
 * Hashes a secret with the given version of the ring (default: its current one), as lower-case hex.
 * Throws a `RangeError` for a version the ring does not hold.
 * @example hashSecret(parsed.secret, ring) // store with hash_version = ring.current
 */
export function hashSecret(secret: string, ring: PepperRing, version: string = ring.current): string {
  const peppers = peppersOf.get(ring);
  if (!peppers) throw new TypeError('hashSecret: the pepper ring must come from parsePepperRing');
  if (!peppers.has(version)) throw new RangeError(`hashSecret: unknown API key hash version "${version}"`);
  const pepper = peppers.get(version);
  const digest = pepper ? createHmac('sha256', pepper) : createHash('sha256');
  return digest.update(secret, 'utf8').digest('hex');
}

/**
 * Whether `secret` matches a stored hash of the given version, compared in constant time. `false`, never
 * an exception, for an unknown version or a stored hash of the wrong length or alphabet.
 */
export function verifySecret(secret: string, storedHashHex: string, version: string, ring: PepperRing): boolean {
  if (typeof secret !== 'string' || typeof version !== 'string') return false;
  if (!peppersOf.get(ring)?.has(version)) return false;
  return constantTimeEqualHex(hashSecret(secret, ring, version), storedHashHex);
}

/** Whether a hash of this version should be replaced by one of the current version after it verifies. */
export function needsRehash(version: string, ring: PepperRing): boolean {
  return version !== ring.current;
}

function parseRing(value: string, peppers: Map<string, Buffer | undefined>): void {
  const entries = value.split(',').map((entry) => entry.trim());
  const seen: Buffer[] = [];
  entries.forEach((entry, index) => {
    const position = `entry ${index + 1}`;
    if (entry === UNPEPPERED_HASH_VERSION) {
      if (index === 0) fail(`${position}: "sha256" may only follow a pepper; the first entry is the current pepper`);
      if (peppers.has(entry)) fail(`${position}: "sha256" is listed twice`);
      peppers.set(entry, undefined);
      return;
    }
    const match = RING_ENTRY.exec(entry);
    if (!match) fail(`${position} is not of the form v<digits>:<base64>; ${FIX}`);
    const [, name, base64] = match;
    const version = `${HMAC_VERSION_PREFIX}${name}`;
    if (peppers.has(version)) fail(`${position}: version ${name} is listed twice; give each pepper its own version`);
    const pepper = decodeBase64(base64!);
    if (!pepper) fail(`${position} (${name}) is not valid base64; ${FIX}`);
    if (pepper.length < MIN_PEPPER_BYTES) {
      fail(`${position} (${name}) decodes to fewer than ${MIN_PEPPER_BYTES} bytes; ${FIX}`);
    }
    if (seen.some((other) => other.equals(pepper))) {
      fail(`${position} (${name}) repeats the pepper of another version; a new version needs a new random pepper`);
    }
    seen.push(pepper);
    peppers.set(version, pepper);
  });
}

/** Decodes standard or URL-safe base64, or returns undefined unless it re-encodes to the same text. */
function decodeBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  const canonical = (s: string) => s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  return canonical(bytes.toString('base64')) === canonical(text) ? bytes : undefined;
}

function fail(message: string): never {
  throw new SecurityConfigError('ERR_SECURITY_CONFIG_INVALID_PEPPER', PEPPER_OPTION, message);
}
