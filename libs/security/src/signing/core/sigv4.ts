/**
 * AWS Signature Version 4 (`Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`),
 * verified as AWS does for non-S3 services: the path as received, dot segments and empty segments removed, then
 * URI-encoded once more ("double-encoded": `/a%20b` signs as `/a%2520b`, as `@smithy/signature-v4` and `aws4`
 * sign it); the query decoded, re-encoded and sorted; headers lower-cased, trimmed and folded.
 *
 * Presigned query-string URLs (`X-Amz-Signature` in the query) are NOT supported and are refused as
 * 'malformed' with a message saying so: a URL that carries its own credential can be replayed from logs,
 * caches and browser history, which the per-request replay protection here is meant to prevent.
 */
import { createHmac } from 'node:crypto';
import { constantTimeEqualHex } from '../../core/constant-time.js';
import {
  canonicalQuery,
  compareAscii,
  foldWhitespace,
  HEADER_NAME,
  headerLines,
  headerValue,
  rfc3986Encode,
  sha256Hex,
} from './http-canonical.js';
import {
  SignatureVerificationError,
  type HeaderValue,
  type ParsedSignature,
  type ParseOptions,
  type SignedRequestInput,
  type SigningKeyMaterial,
} from './signed-request.types.js';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const SIGNATURE = /^[0-9a-f]{64}$/;
const PRESIGNED = /(?:^|&)X-Amz-(?:Signature|Credential|Algorithm)=/i;

/** What a SigV4 canonical request is made of. */
export interface SigV4Request {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Readonly<Record<string, HeaderValue>>;
}

/** The parts of a SigV4 `Authorization` header. */
export interface SigV4Authorization {
  readonly accessKeyId: string;
  /** `YYYYMMDD` of the credential scope. */
  readonly date: string;
  readonly region: string;
  readonly service: string;
  /** `<date>/<region>/<service>/aws4_request`. */
  readonly scope: string;
  /** Lower-case, sorted. */
  readonly signedHeaders: readonly string[];
  /** Lower-case hex. */
  readonly signature: string;
}

/** True when the query carries SigV4 presigned-URL parameters (which are refused). */
export function isSigV4Presigned(query: string): boolean {
  return PRESIGNED.test(query);
}

/**
 * The canonical URI for non-S3 services: the path as received, with empty and `.` segments removed and `..`
 * applied, then every byte but the unreserved ones and `/` percent-encoded (so an existing `%XX` becomes
 * `%25XX`).
 * @example sigv4CanonicalUri('/documents/./a%20b//c') // '/documents/a%2520b/c'
 */
export function sigv4CanonicalUri(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${trailing}`;
  return rfc3986Encode(normalized, '/');
}

/** The canonical query: names and values decoded, RFC 3986 encoded, sorted by name then value. */
export function sigv4CanonicalQuery(query: string): string {
  return canonicalQuery(query);
}

/**
 * The canonical headers block: one `name:value\n` line per signed header (values trimmed, inner whitespace
 * folded, the field lines of a repeated header joined by ','), in the order given (sorted by the caller).
 */
export function sigv4CanonicalHeaders(
  headers: Readonly<Record<string, HeaderValue>>,
  signedHeaders: readonly string[],
): string {
  return signedHeaders
    .map((name) => `${name}:${(headerLines(headers, name) ?? []).map(foldWhitespace).join(',')}\n`)
    .join('');
}

/**
 * The canonical request: method, canonical URI, canonical query, canonical headers, signed headers and the
 * payload hash (lower-case hex SHA-256 of the body), joined by `\n`.
 */
export function sigv4CanonicalRequest(
  request: SigV4Request,
  signedHeaders: readonly string[],
  payloadHash: string,
): string {
  return [
    request.method,
    sigv4CanonicalUri(request.path),
    sigv4CanonicalQuery(request.query),
    sigv4CanonicalHeaders(request.headers, signedHeaders),
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

/** `AWS4-HMAC-SHA256\n<x-amz-date>\n<scope>\n<hex SHA-256 of the canonical request>`. */
export function sigv4StringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return [SIGV4_ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
}

/** The derived key: HMAC chain from `'AWS4' + secret` over date, region, service and `aws4_request`. */
export function sigv4SigningKey(secret: Uint8Array | string, date: string, region: string, service: string): Buffer {
  const secretBytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  const dateKey = hmac(Buffer.concat([Buffer.from('AWS4', 'utf8'), secretBytes]), date);
  return hmac(hmac(hmac(dateKey, region), service), 'aws4_request');
}

/** Lower-case hex HMAC-SHA256 of the string to sign with the signing key. */
export function sigv4Signature(signingKey: Uint8Array, stringToSign: string): string {
  return createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
}

/** `20150830T123600Z` for a date (seconds precision). */
export function sigv4AmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** Unix seconds of an `x-amz-date` value, or undefined when it is not a valid `YYYYMMDDTHHMMSSZ`. */
export function sigv4ParseAmzDate(value: string): number | undefined {
  const match = AMZ_DATE.exec(value);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  return sigv4AmzDate(new Date(ms)) === value ? ms / 1000 : undefined;
}

function hmac(key: Uint8Array, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** Parses an `Authorization` header value of SigV4; throws SignatureVerificationError. */
export function parseSigV4Authorization(value: string): SigV4Authorization {
  const trimmed = value.trim();
  const space = trimmed.indexOf(' ');
  const algorithm = space === -1 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) {
    throw new SignatureVerificationError(
      'unsupported_algorithm',
      `${algorithm} is not supported (${SIGV4_ALGORITHM} is)`,
    );
  }
  const fields = new Map<string, string>();
  for (const part of trimmed.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    if (eq === -1 || fields.has(name) || !['Credential', 'SignedHeaders', 'Signature'].includes(name)) {
      throw new SignatureVerificationError('malformed', 'the Authorization header is not SigV4');
    }
    fields.set(name, part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeadersValue = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeadersValue === undefined || signature === undefined) {
    throw new SignatureVerificationError('malformed', 'Credential, SignedHeaders and Signature are all required');
  }
  const scopeParts = credential.split('/');
  if (scopeParts.length !== 5 || scopeParts[4] !== 'aws4_request' || !/^\d{8}$/.test(scopeParts[1]!)) {
    throw new SignatureVerificationError(
      'malformed',
      'Credential must be <key id>/<date>/<region>/<service>/aws4_request',
    );
  }
  const [accessKeyId, date, region, service] = scopeParts as [string, string, string, string, string];
  if (!/^[\x21-\x7e]{1,128}$/.test(accessKeyId) || region === '' || service === '') {
    throw new SignatureVerificationError('malformed', 'the credential scope is incomplete');
  }
  if (!SIGNATURE.test(signature)) {
    throw new SignatureVerificationError('malformed', 'Signature must be 64 lower-case hex digits');
  }
  const signedHeaders = signedHeadersValue.split(';');
  const sorted = [...signedHeaders].sort(compareAscii);
  if (
    signedHeaders.some((name, index) => !HEADER_NAME.test(name) || name !== sorted[index]) ||
    new Set(signedHeaders).size !== signedHeaders.length
  ) {
    throw new SignatureVerificationError('malformed', 'SignedHeaders must be distinct lower-case names, sorted');
  }
  return {
    accessKeyId,
    date,
    region,
    service,
    scope: scopeParts.slice(1).join('/'),
    signedHeaders,
    signature,
  };
}

/** Parses and checks a SigV4 request (structure, scope and body hash; no clock, key or replay check). */
export function parseSigV4(input: SignedRequestInput, options: ParseOptions): ParsedSignature {
  if (isSigV4Presigned(input.query)) {
    throw new SignatureVerificationError(
      'malformed',
      'presigned SigV4 URLs (X-Amz-Signature in the query) are not supported: sign the Authorization header',
    );
  }
  const authorizationLines = headerLines(input.headers, 'authorization');
  if (authorizationLines === undefined) {
    throw new SignatureVerificationError('missing_header', 'the Authorization header is missing');
  }
  if (authorizationLines.length !== 1) {
    throw new SignatureVerificationError('malformed', 'the Authorization header is repeated');
  }
  const authorization = parseSigV4Authorization(authorizationLines[0]!);
  if (authorization.region !== options.sigv4.region || authorization.service !== options.sigv4.service) {
    throw new SignatureVerificationError(
      'scope_mismatch',
      `the credential scope must be <date>/${options.sigv4.region}/${options.sigv4.service}/aws4_request`,
    );
  }
  for (const required of ['host', 'x-amz-date', ...(options.requiredHeaders ?? [])]) {
    if (!authorization.signedHeaders.includes(required)) {
      throw new SignatureVerificationError('header_not_signed', `${required} must be in SignedHeaders`);
    }
  }
  for (const name of authorization.signedHeaders) {
    if (headerLines(input.headers, name) === undefined) {
      throw new SignatureVerificationError('missing_header', `the signed header ${name} is missing`);
    }
  }
  const amzDate = (headerValue(input.headers, 'x-amz-date') ?? '').trim();
  const created = sigv4ParseAmzDate(amzDate);
  if (created === undefined) throw new SignatureVerificationError('malformed', 'X-Amz-Date is not YYYYMMDDTHHMMSSZ');
  if (amzDate.slice(0, 8) !== authorization.date) {
    throw new SignatureVerificationError('scope_mismatch', 'the credential scope date is not the X-Amz-Date date');
  }
  const payloadHash = sha256Hex(input.body);
  const declared = headerValue(input.headers, 'x-amz-content-sha256')?.trim();
  if (declared !== undefined) {
    if (declared === 'UNSIGNED-PAYLOAD' || declared.startsWith('STREAMING-')) {
      throw new SignatureVerificationError('unsigned_payload', `x-amz-content-sha256 ${declared} is not accepted`);
    }
    if (!constantTimeEqualHex(declared, payloadHash)) {
      throw new SignatureVerificationError('content_digest_mismatch', 'x-amz-content-sha256 is not the body hash');
    }
  }
  return {
    scheme: 'aws4-hmac-sha256',
    keyId: authorization.accessKeyId,
    created,
    replayId: authorization.signature,
    algorithm: 'hmac-sha256',
    coveredHeaders: authorization.signedHeaders,
    verify(material: SigningKeyMaterial): boolean {
      if (material.algorithm !== 'hmac-sha256' || !material.secret) return false;
      const canonicalRequest = sigv4CanonicalRequest(input, authorization.signedHeaders, payloadHash);
      const stringToSign = sigv4StringToSign(amzDate, authorization.scope, canonicalRequest);
      const key = sigv4SigningKey(material.secret, authorization.date, authorization.region, authorization.service);
      return constantTimeEqualHex(authorization.signature, sigv4Signature(key, stringToSign));
    },
  };
}
