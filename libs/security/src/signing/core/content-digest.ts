/** RFC 9530 `Content-Digest`: a structured-field dictionary of hash algorithm -> byte sequence of the body's hash. */
import { createHash } from 'node:crypto';
import { parseDictionary } from 'structured-headers';
import { bytesEqual } from './http-canonical.js';

/** The digest algorithms checked here (RFC 9530 "standard" ones); others in a field are ignored. */
export type ContentDigestAlgorithm = 'sha-256' | 'sha-512';

const NODE_HASH: Readonly<Record<ContentDigestAlgorithm, string>> = { 'sha-256': 'sha256', 'sha-512': 'sha512' };

/** What a `Content-Digest` field says about a body. */
export type ContentDigestCheck =
  /** every supported digest in the field matches the body (and there is at least one) */
  | 'match'
  /** a supported digest differs from the body's */
  | 'mismatch'
  /** no sha-256 or sha-512 member: nothing to check */
  | 'unsupported'
  /** not a dictionary, or a supported member is not a byte sequence */
  | 'malformed';

/**
 * The `Content-Digest` value for a body.
 * @example contentDigest('{"hello": "world"}') // 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:'
 */
export function contentDigest(
  body: Uint8Array | string,
  algorithms: readonly ContentDigestAlgorithm[] = ['sha-256'],
): string {
  return algorithms
    .map((algorithm) => `${algorithm}=:${createHash(NODE_HASH[algorithm]).update(body).digest('base64')}:`)
    .join(', ');
}

/**
 * Checks a `Content-Digest` field value against the exact body bytes, in constant time per digest. Every
 * sha-256 and sha-512 member must match; unknown algorithms are ignored (RFC 9530 lets a recipient ignore
 * them), so a field with only those is 'unsupported'.
 */
export function checkContentDigest(fieldValue: string, body: Uint8Array): ContentDigestCheck {
  let dictionary;
  try {
    dictionary = parseDictionary(fieldValue);
  } catch {
    return 'malformed';
  }
  let checked = 0;
  let matches = true;
  for (const [key, member] of dictionary) {
    if (key !== 'sha-256' && key !== 'sha-512') continue;
    const value = member[0];
    if (!(value instanceof ArrayBuffer)) return 'malformed';
    const expected = createHash(NODE_HASH[key]).update(body).digest();
    matches = bytesEqual(new Uint8Array(value), expected) && matches;
    checked++;
  }
  if (checked === 0) return 'unsupported';
  return matches ? 'match' : 'mismatch';
}
