/** The types shared by the three signature schemes (re-exported by `signed-request.ts`). */
import type { KeyObject } from 'node:crypto';

/** The three request-signing dialects: the seed HMAC scheme, AWS Signature Version 4 and RFC 9421. */
export type SignatureScheme = 'hmac-sha256' | 'aws4-hmac-sha256' | 'rfc9421';

/** The algorithm of a signing key: it decides how a signature is checked, never the request. */
export type SignatureAlgorithm = 'hmac-sha256' | 'ed25519';

/** A header as Node gives it: a string, the field lines of a repeated header, or nothing. */
export type HeaderValue = string | readonly string[] | undefined;

/** The request as received. */
export interface SignedRequestInput {
  /** As received (each scheme upper-cases it where it says so). */
  readonly method: string;
  /** Raw path as sent, percent-encoding untouched, without the query. */
  readonly path: string;
  /** Raw query without '?', '' when none. */
  readonly query: string;
  /** Node `IncomingHttpHeaders`: lower-case names; an array keeps the field lines of a repeated header apart. */
  readonly headers: Readonly<Record<string, HeaderValue>>;
  /** Exact bytes received (an empty Buffer when none). */
  readonly body: Buffer;
  /** The scheme the request came in on, for RFC 9421 `@scheme` and `@target-uri` ('http' when not given). */
  readonly scheme?: 'http' | 'https';
}

/** Why a signed request was refused; stable, for the `SIGNATURE_REJECTED` event. */
export type SignatureFailureReason =
  | 'malformed'
  | 'missing_header'
  | 'header_not_signed'
  | 'unsupported_algorithm'
  | 'algorithm_mismatch'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'replayed'
  | 'unknown_key'
  | 'revoked_key'
  | 'content_digest_mismatch'
  | 'unsigned_payload'
  | 'scope_mismatch'
  | 'ambiguous';

/** HTTP-free: the authenticator maps it to a generic 401 and a SIGNATURE_REJECTED event with `reason`. */
export class SignatureVerificationError extends Error {
  override readonly name = 'SignatureVerificationError';

  constructor(
    readonly reason: SignatureFailureReason,
    message?: string,
  ) {
    super(message ?? reason);
  }
}

/** What the server holds for a key id. */
export interface SigningKeyMaterial {
  readonly algorithm: SignatureAlgorithm;
  /** hmac-sha256: the key bytes (UTF-8 of the secret text the client holds). */
  readonly secret?: Buffer;
  /** ed25519: the public key. */
  readonly publicKey?: KeyObject;
}

/** A signed request whose structure was checked; `verify` checks the signature itself. */
export interface ParsedSignature {
  readonly scheme: SignatureScheme;
  /** Seed X-Key-Id, SigV4 access key id, RFC 9421 keyid. */
  readonly keyId: string;
  /** Unix seconds (seed X-Timestamp, SigV4 x-amz-date, RFC 9421 created). */
  readonly created: number;
  /** RFC 9421 expires, unix seconds. */
  readonly expires?: number;
  /** Unique per signed request, for the replay store: seed nonce, RFC 9421 nonce (or the signature), SigV4 signature. */
  readonly replayId: string;
  /** What the key must be: seed and SigV4 'hmac-sha256'; RFC 9421 the `alg` parameter when present. */
  readonly algorithm?: SignatureAlgorithm;
  /** Lower-case names of the covered headers (RFC 9421: component names, derived ones like @method included). */
  readonly coveredHeaders: readonly string[];
  /** Constant-time check of the signature (which covers the body hash or digest) with the key. */
  verify(material: SigningKeyMaterial): boolean;
}

/** What `parseSignedRequest` needs besides the request. */
export interface ParseOptions {
  /** The credential scope a SigV4 signature must name. */
  readonly sigv4: { readonly region: string; readonly service: string };
  /** Headers (lower-case) that must be covered in addition to each scheme's own minimum. */
  readonly requiredHeaders?: readonly string[];
}
