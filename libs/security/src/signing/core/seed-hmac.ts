/**
 * The seed HMAC scheme (DESIGN.md "Seed HMAC scheme"): `X-Key-Id`, `X-Timestamp`, `X-Nonce`, `X-Signed-Headers`
 * and `X-Signature` (lower-case hex HMAC-SHA256 of the string to sign). The nonce, key id and signed-header list
 * are inside the signature, so a captured request cannot be replayed under a fresh nonce.
 */
import { createHmac } from 'node:crypto';
import { constantTimeEqualHex } from '../../core/constant-time.js';
import { canonicalQuery, foldWhitespace, HEADER_NAME, headerLines, headerValue, sha256Hex } from './http-canonical.js';
import {
  SignatureVerificationError,
  type HeaderValue,
  type ParsedSignature,
  type ParseOptions,
  type SignedRequestInput,
  type SigningKeyMaterial,
} from './signed-request.types.js';

/** The header names of the seed scheme, lower-case. */
export const SEED_HEADERS = Object.freeze({
  keyId: 'x-key-id',
  timestamp: 'x-timestamp',
  nonce: 'x-nonce',
  signedHeaders: 'x-signed-headers',
  signature: 'x-signature',
} as const);

/** 16 to 128 of `[A-Za-z0-9_-]`. */
export const SEED_NONCE = /^[A-Za-z0-9_-]{16,128}$/;
const KEY_ID = /^[A-Za-z0-9._~+/=-]{1,128}$/;
const TIMESTAMP = /^\d{1,12}$/;
const SIGNATURE = /^[0-9a-f]{64}$/;

/** What the seed string to sign is made of. */
export interface SeedStringToSignInput {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Readonly<Record<string, HeaderValue>>;
  /** Lower-case names, in the order of `X-Signed-Headers`. */
  readonly signedHeaders: readonly string[];
  /** Unix seconds, as sent. */
  readonly timestamp: string;
  readonly nonce: string;
  readonly keyId: string;
  readonly body: Uint8Array;
}

/**
 * The seed string to sign, lines joined by `\n`: METHOD (upper case), the path as sent, the canonical query,
 * one `name:value` line per signed header in the listed order (value trimmed, inner whitespace folded), the
 * `X-Signed-Headers` value, timestamp, nonce, key id, and the lower-case hex SHA-256 of the raw body.
 */
export function seedStringToSign(input: SeedStringToSignInput): string {
  const headerLinesOut = input.signedHeaders.map(
    (name) => `${name}:${foldWhitespace(headerValue(input.headers, name) ?? '')}`,
  );
  return [
    input.method.toUpperCase(),
    input.path,
    canonicalQuery(input.query),
    ...headerLinesOut,
    input.signedHeaders.join(';'),
    input.timestamp,
    input.nonce,
    input.keyId,
    sha256Hex(input.body),
  ].join('\n');
}

/** Lower-case hex HMAC-SHA256 of the string to sign; the key is the secret's UTF-8 bytes. */
export function seedSignature(secret: Uint8Array | string, stringToSign: string): string {
  return createHmac('sha256', secret).update(stringToSign, 'utf8').digest('hex');
}

function single(input: SignedRequestInput, name: string): string {
  const lines = headerLines(input.headers, name);
  if (lines === undefined) throw new SignatureVerificationError('missing_header', `the ${name} header is missing`);
  if (lines.length !== 1) throw new SignatureVerificationError('malformed', `the ${name} header is repeated`);
  return lines[0]!.trim();
}

/** Parses and checks a seed-scheme request (structure only: no clock, key or replay check). */
export function parseSeedSignature(input: SignedRequestInput, options: ParseOptions): ParsedSignature {
  const keyId = single(input, SEED_HEADERS.keyId);
  const timestamp = single(input, SEED_HEADERS.timestamp);
  const nonce = single(input, SEED_HEADERS.nonce);
  const signedHeadersValue = single(input, SEED_HEADERS.signedHeaders);
  const signature = single(input, SEED_HEADERS.signature);
  if (!KEY_ID.test(keyId)) throw new SignatureVerificationError('malformed', 'X-Key-Id is not a key id');
  if (!TIMESTAMP.test(timestamp)) throw new SignatureVerificationError('malformed', 'X-Timestamp is not unix seconds');
  if (!SEED_NONCE.test(nonce)) {
    throw new SignatureVerificationError('malformed', 'X-Nonce must be 16 to 128 of [A-Za-z0-9_-]');
  }
  if (!SIGNATURE.test(signature)) {
    throw new SignatureVerificationError('malformed', 'X-Signature must be 64 lower-case hex digits');
  }
  const signedHeaders = signedHeadersValue.split(';');
  if (signedHeaders.some((name) => !HEADER_NAME.test(name)) || new Set(signedHeaders).size !== signedHeaders.length) {
    throw new SignatureVerificationError('malformed', 'X-Signed-Headers must be distinct lower-case names joined by ;');
  }
  if (signedHeaders.includes(SEED_HEADERS.signature)) {
    throw new SignatureVerificationError('malformed', 'X-Signature cannot sign itself');
  }
  for (const required of ['host', ...(options.requiredHeaders ?? [])]) {
    if (!signedHeaders.includes(required)) {
      throw new SignatureVerificationError('header_not_signed', `${required} must be in X-Signed-Headers`);
    }
  }
  for (const name of signedHeaders) {
    if (headerLines(input.headers, name) === undefined) {
      throw new SignatureVerificationError('missing_header', `the signed header ${name} is missing`);
    }
  }
  const stringToSign = seedStringToSign({
    method: input.method,
    path: input.path,
    query: input.query,
    headers: input.headers,
    signedHeaders,
    timestamp,
    nonce,
    keyId,
    body: input.body,
  });
  return {
    scheme: 'hmac-sha256',
    keyId,
    created: Number(timestamp),
    replayId: nonce,
    algorithm: 'hmac-sha256',
    coveredHeaders: signedHeaders,
    verify(material: SigningKeyMaterial): boolean {
      if (material.algorithm !== 'hmac-sha256' || !material.secret) return false;
      return constantTimeEqualHex(signature, seedSignature(material.secret, stringToSign));
    },
  };
}
