/**
 * The text of an API key: `<prefix>_<live|test>_` + 12 base62 characters of key id + 22 of secret + 6 of
 * CRC32 over everything before them. The checksum lets scanners and the guard reject typos and truncated
 * keys without a database lookup; it is public and proves nothing about authenticity.
 */
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { SecurityConfigError } from '../../core/errors.js';

/** Base62 digits in ascending order: `0-9A-Za-z`. */
export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Length of the public key id. */
export const API_KEY_ID_LENGTH = 12;
/** Length of the secret part (22 base62 characters, about 131 bits). */
export const API_KEY_SECRET_LENGTH = 22;
/** Length of the base62 CRC32 checksum. */
export const API_KEY_CHECKSUM_LENGTH = 6;
/** Prefix used when none is configured. */
export const DEFAULT_API_KEY_PREFIX = 'sk';
/** Lower-case letters and digits, 2 to 16 characters, starting with a letter. */
export const API_KEY_PREFIX_PATTERN = /^[a-z][a-z0-9]{1,15}$/;

/**
 * Finds keys with the default `sk` prefix in free text, for secret scanners and log redaction. Global, so
 * use it with `String.prototype.matchAll`, `match` or `replace`, which reset `lastIndex`; build
 * {@link apiKeyRegex} for another prefix.
 * @example [...text.matchAll(API_KEY_REGEX)].map((m) => m[0])
 */
export const API_KEY_REGEX = /\bsk_(?:live|test)_[0-9A-Za-z]{40}\b/g;

/** Environment a key belongs to; a `test` key never authenticates against a `live` deployment. */
export type ApiKeyEnvironment = 'live' | 'test';

/** The parts of a well-formed key whose checksum matches. */
export interface ParsedApiKey {
  readonly ok: true;
  readonly prefix: string;
  readonly environment: ApiKeyEnvironment;
  /** Public key id, the `api_keys.id` to look up. */
  readonly id: string;
  /** The secret part; only its hash is ever stored. */
  readonly secret: string;
}

/** Why a text is not a key; carries nothing of the text itself. */
export interface ApiKeyParseFailure {
  readonly ok: false;
  readonly reason: 'malformed' | 'checksum';
}

/** A newly generated key. `key` is shown once to its owner; store only `id` and a hash of `secret`. */
export interface GeneratedApiKey {
  readonly id: string;
  readonly secret: string;
  readonly key: string;
  readonly environment: ApiKeyEnvironment;
}

const BODY_LENGTH = API_KEY_ID_LENGTH + API_KEY_SECRET_LENGTH + API_KEY_CHECKSUM_LENGTH;
// 248 = 62 * 4: bytes at or above it are dropped so that `byte % 62` is uniform.
const REJECTION_LIMIT = 248;
const MALFORMED: ApiKeyParseFailure = Object.freeze({ ok: false, reason: 'malformed' });
const CHECKSUM: ApiKeyParseFailure = Object.freeze({ ok: false, reason: 'checksum' });

/**
 * Writes a non-negative safe integer in base62, most significant digit first, left-padded with `0` to
 * `width`. Throws a `RangeError` when it does not fit.
 * @example encodeBase62Fixed(61, 3) // '00z'
 */
export function encodeBase62Fixed(n: number, width: number): string {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError('encodeBase62Fixed: n must be a non-negative safe integer');
  if (!Number.isSafeInteger(width) || width < 1)
    throw new RangeError('encodeBase62Fixed: width must be a positive integer');
  let digits = '';
  for (let rest = n; rest > 0; rest = Math.floor(rest / 62)) digits = BASE62_ALPHABET[rest % 62] + digits;
  if (digits.length > width) throw new RangeError(`encodeBase62Fixed: ${n} needs more than ${width} digits`);
  return digits.padStart(width, '0');
}

/**
 * Returns `length` base62 characters drawn uniformly from `crypto.randomBytes` (rejection sampling, so
 * no modulo bias).
 */
export function randomBase62(length: number): string {
  if (!Number.isSafeInteger(length) || length < 0)
    throw new RangeError('randomBase62: length must be a non-negative integer');
  let out = '';
  while (out.length < length) {
    // 248/256 of the bytes are kept; ask for a little more than needed so one draw usually suffices.
    const bytes = randomBytes(Math.ceil((length - out.length) * 1.1) + 4);
    for (const byte of bytes) {
      if (byte >= REJECTION_LIMIT) continue;
      out += BASE62_ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/**
 * The 6-character checksum of a key body (`<prefix>_<env>_<id><secret>`): its CRC32 as an unsigned
 * integer, in base62.
 * @example apiKeyChecksum('123456789') // '3jZRME' (CRC32 0xCBF43926)
 */
export function apiKeyChecksum(body: string): string {
  return encodeBase62Fixed(crc32(body) >>> 0, API_KEY_CHECKSUM_LENGTH);
}

/**
 * The anchored pattern of a whole key with the given prefix, with named groups `prefix`, `environment`,
 * `id`, `secret` and `checksum`. It checks the shape only, not the checksum.
 * @example apiKeyRegex('sk').test(key)
 */
export function apiKeyRegex(prefix: string = DEFAULT_API_KEY_PREFIX): RegExp {
  assertPrefix(prefix);
  return new RegExp(
    `^(?<prefix>${prefix})_(?<environment>live|test)_(?<id>[0-9A-Za-z]{${API_KEY_ID_LENGTH}})` +
      `(?<secret>[0-9A-Za-z]{${API_KEY_SECRET_LENGTH}})(?<checksum>[0-9A-Za-z]{${API_KEY_CHECKSUM_LENGTH}})$`,
  );
}

/**
 * Generates a key from `crypto.randomBytes`.
 * @example const { id, secret, key } = generateApiKey({ environment: 'test' })
 */
export function generateApiKey({
  prefix = DEFAULT_API_KEY_PREFIX,
  environment = 'live',
}: { prefix?: string; environment?: ApiKeyEnvironment } = {}): GeneratedApiKey {
  assertPrefix(prefix);
  if (environment !== 'live' && environment !== 'test') {
    throw new SecurityConfigError('ERR_SECURITY_CONFIG_INVALID_VALUE', 'apiKeys.environment', "use 'live' or 'test'");
  }
  const id = randomBase62(API_KEY_ID_LENGTH);
  const secret = randomBase62(API_KEY_SECRET_LENGTH);
  const body = `${prefix}_${environment}_${id}${secret}`;
  return { id, secret, key: body + apiKeyChecksum(body), environment };
}

/**
 * Splits a presented key into its parts. Checks the exact length first (so huge inputs cost nothing), then
 * the shape, then the checksum. The result never echoes the input.
 * @example parseApiKey(request.headers['x-api-key'], options.apiKeys.prefix)
 */
export function parseApiKey(text: string, prefix: string = DEFAULT_API_KEY_PREFIX): ParsedApiKey | ApiKeyParseFailure {
  assertPrefix(prefix);
  // Both environments are 4 characters long, so every valid key has this one length.
  if (typeof text !== 'string' || text.length !== prefix.length + '_live_'.length + BODY_LENGTH) return MALFORMED;
  const groups = compiledApiKeyRegex(prefix).exec(text)?.groups;
  if (!groups) return MALFORMED;
  const checksumStart = text.length - API_KEY_CHECKSUM_LENGTH;
  if (apiKeyChecksum(text.slice(0, checksumStart)) !== text.slice(checksumStart)) return CHECKSUM;
  return {
    ok: true,
    prefix,
    environment: groups.environment as ApiKeyEnvironment,
    id: groups.id!,
    secret: groups.secret!,
  };
}

// parseApiKey runs on every request: compile each prefix's pattern once (no g flag, so no lastIndex state).
const compiled = new Map<string, RegExp>();
function compiledApiKeyRegex(prefix: string): RegExp {
  let pattern = compiled.get(prefix);
  if (!pattern) {
    pattern = apiKeyRegex(prefix);
    if (compiled.size < 16) compiled.set(prefix, pattern);
  }
  return pattern;
}

function assertPrefix(prefix: string): void {
  if (typeof prefix !== 'string' || !API_KEY_PREFIX_PATTERN.test(prefix)) {
    throw new SecurityConfigError(
      'ERR_SECURITY_CONFIG_INVALID_KEY_PREFIX',
      'apiKeys.prefix',
      'use 2 to 16 lower-case letters or digits starting with a letter, e.g. "sk"',
    );
  }
}
