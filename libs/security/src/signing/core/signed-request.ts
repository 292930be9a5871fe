/**
 * Entry point of signature verification: which scheme a request uses, and its parsed, structurally checked
 * signature. HTTP-free and pure (node:crypto only): the authenticator checks the clock, the key and replays.
 */
import { headerValue } from './http-canonical.js';
import { parseRfc9421 } from './rfc9421.js';
import { parseSeedSignature, SEED_HEADERS } from './seed-hmac.js';
import {
  SignatureVerificationError,
  type ParsedSignature,
  type ParseOptions,
  type SignatureScheme,
  type SignedRequestInput,
} from './signed-request.types.js';
import { isSigV4Presigned, parseSigV4 } from './sigv4.js';

export {
  SignatureVerificationError,
  type HeaderValue,
  type ParsedSignature,
  type ParseOptions,
  type SignatureAlgorithm,
  type SignatureFailureReason,
  type SignatureScheme,
  type SignedRequestInput,
  type SigningKeyMaterial,
} from './signed-request.types.js';

/**
 * Which scheme the request uses, from its headers (and, when given, its raw query, so that a SigV4 presigned
 * URL is recognised and then refused clearly by `parseSignedRequest`); undefined when none; throws
 * SignatureVerificationError('ambiguous') for two.
 */
export function detectSignatureScheme(
  headers: SignedRequestInput['headers'],
  query?: string,
): SignatureScheme | undefined {
  const found: SignatureScheme[] = [];
  if (headers[SEED_HEADERS.signature] !== undefined) found.push('hmac-sha256');
  const authorization = headerValue(headers, 'authorization')?.trimStart();
  if ((authorization !== undefined && /^AWS4-/i.test(authorization)) || (query && isSigV4Presigned(query))) {
    found.push('aws4-hmac-sha256');
  }
  if (headers['signature-input'] !== undefined || headers['signature'] !== undefined) found.push('rfc9421');
  if (found.length > 1) {
    throw new SignatureVerificationError('ambiguous', `the request carries several signatures (${found.join(', ')})`);
  }
  return found[0];
}

/**
 * Parses and checks the structure (required headers present and covered, body hash headers consistent,
 * UNSIGNED-PAYLOAD / STREAMING-* refused, scope region/service) — throws SignatureVerificationError. Does NOT
 * check the clock, the key or replays.
 * @example
 * const parsed = parseSignedRequest(input, { sigv4: { region: 'us-east-1', service: 'demo' } });
 * if (!parsed.verify(material)) throw new SignatureVerificationError('bad_signature');
 */
export function parseSignedRequest(input: SignedRequestInput, options: ParseOptions): ParsedSignature {
  const scheme = detectSignatureScheme(input.headers, input.query);
  switch (scheme) {
    case 'hmac-sha256':
      return parseSeedSignature(input, options);
    case 'aws4-hmac-sha256':
      return parseSigV4(input, options);
    case 'rfc9421':
      return parseRfc9421(input, options);
    default:
      throw new SignatureVerificationError('missing_header', 'the request is not signed');
  }
}
