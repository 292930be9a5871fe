import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '../core/clock.js';
import { SignatureRejectedError } from '../core/errors.js';
import type { HttpRequestLike } from '../http/http-request.js';
import type { ResolvedSecurityOptions, ResolvedSigningOptions } from '../options/security-options.js';
import { Authenticator } from '../principals/authenticator.js';
import type { Principal } from '../principals/principal.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import {
  detectSignatureScheme,
  parseSignedRequest,
  SignatureVerificationError,
  type ParsedSignature,
  type SignatureScheme,
  type SignedRequestInput,
} from './core/signed-request.js';
import { SecretUnreadableError } from './core/secret-box.js';
import { NonceStore } from './nonce.store.js';
import { rawBodyOf } from './raw-body.js';
import { SigningKeys } from './signing-keys.service.js';

const SIGNATURE = Symbol.for('nest-api-security.signature');

/** What a verified signature tells the guards after authentication (`@Signed()` options). */
export interface VerifiedSignature {
  readonly scheme: SignatureScheme;
  readonly accessKeyId: string;
  /** The signature's time, unix seconds. */
  readonly created: number;
  /** Covered headers and components, lower-case. */
  readonly covered: readonly string[];
}

/** The verified signature of this request, or undefined when it was not authenticated by one. */
export function signatureOf(request: object & { raw?: object }): VerifiedSignature | undefined {
  return ((request as Record<symbol, unknown>)[SIGNATURE] ??
    (request.raw as Record<symbol, unknown> | undefined)?.[SIGNATURE]) as VerifiedSignature | undefined;
}

/**
 * Authenticates a request by its signature (the seed HMAC scheme, AWS Signature Version 4 or RFC 9421),
 * on its own: the signing key's principal. Checks, in this order: structure (`parseSignedRequest`), the
 * clock window, the key (known, not revoked, of the algorithm the scheme needs: never the algorithm the
 * request names), the signature over the exact body bytes, and last the replay store, so forged requests
 * cannot fill it. Every refusal is a `SignatureRejectedError` with its precise reason (a
 * `SIGNATURE_REJECTED` event); the client gets the generic 401.
 */
@Injectable()
export class SignatureAuthenticator extends Authenticator {
  readonly name = 'signature';
  readonly challenge = 'Signature realm="api"';
  private readonly logger = new Logger('Security');
  private readonly options: ResolvedSigningOptions;
  private rawBodyWarned = false;

  constructor(
    @Inject(SECURITY_OPTIONS) options: ResolvedSecurityOptions,
    private readonly keys: SigningKeys,
    private readonly nonces: NonceStore,
    private readonly clock: Clock,
  ) {
    super();
    if (!options.signing) throw new Error('SignatureAuthenticator needs the signing option');
    this.options = options.signing;
  }

  present(request: HttpRequestLike): boolean {
    try {
      return detectSignatureScheme(request.headers, queryOf(request)) !== undefined;
    } catch {
      // Two signature schemes at once: present, and refused by authenticate().
      return true;
    }
  }

  async authenticate(request: HttpRequestLike): Promise<Principal> {
    try {
      return await this.verify(request);
    } catch (error) {
      if (error instanceof SignatureVerificationError) {
        throw new SignatureRejectedError(error.reason, { detail: error.message }, { cause: error });
      }
      throw error;
    }
  }

  private async verify(request: HttpRequestLike): Promise<Principal> {
    const scheme = detectSignatureScheme(request.headers, queryOf(request));
    if (!scheme) throw new SignatureVerificationError('missing_header', 'no signature headers');
    if (!this.options.schemes.includes(scheme)) {
      throw new SignatureVerificationError('unsupported_algorithm', `the ${scheme} scheme is not accepted here`);
    }
    const body = rawBodyOf(request as Parameters<typeof rawBodyOf>[0]);
    if (!body) {
      if (!this.rawBodyWarned) {
        this.logger.error(
          'a signed request has a body whose bytes were not kept: another body parser read it before SecurityModule',
        );
        this.rawBodyWarned = true;
      }
      throw new SignatureVerificationError('malformed', 'the raw body is not available');
    }
    const parsed = parseSignedRequest(inputOf(request, body), { sigv4: this.options.sigv4 });
    this.checkClock(parsed);
    const resolved = await this.resolveKey(parsed.keyId);
    if (!resolved) throw new SignatureVerificationError('unknown_key', `no signing key ${parsed.keyId}`);
    const { material } = resolved;
    // The key decides the algorithm; a scheme or a request naming another is refused.
    if (
      (scheme !== 'rfc9421' && material.algorithm !== 'hmac-sha256') ||
      (parsed.algorithm && parsed.algorithm !== material.algorithm)
    ) {
      throw new SignatureVerificationError('algorithm_mismatch', `the key is ${material.algorithm}`);
    }
    if (!parsed.verify(material)) throw new SignatureVerificationError('bad_signature');
    const ttlMs = 2 * this.options.maxClockSkewMs + 1_000;
    if (!(await this.nonces.claim(`${scheme}:${parsed.keyId}:${parsed.replayId}`, ttlMs))) {
      throw new SignatureVerificationError('replayed', 'this signature was already used');
    }
    const verified: VerifiedSignature = {
      scheme,
      accessKeyId: parsed.keyId,
      created: parsed.created,
      covered: parsed.coveredHeaders,
    };
    (request as unknown as Record<symbol, unknown>)[SIGNATURE] = verified;
    if (request.raw) (request.raw as unknown as Record<symbol, unknown>)[SIGNATURE] = verified;
    return { ...resolved.principal, authMethod: 'signature', keyId: parsed.keyId };
  }

  private async resolveKey(accessKeyId: string): ReturnType<SigningKeys['resolve']> {
    try {
      return await this.keys.resolve(accessKeyId);
    } catch (error) {
      // A secret the master keys cannot open is the operator's problem (a master key removed too early):
      // say so in the log, and refuse the request like any unusable key.
      if (error instanceof SecretUnreadableError) {
        this.logger.error(`signing key ${accessKeyId}: its secret cannot be decrypted (${error.message})`);
        throw new SignatureVerificationError('unknown_key', 'the key secret cannot be decrypted');
      }
      throw error;
    }
  }

  private checkClock(parsed: ParsedSignature): void {
    const now = this.clock.now() / 1000;
    const skew = this.options.maxClockSkewMs / 1000;
    if (parsed.created > now + skew) throw new SignatureVerificationError('not_yet_valid');
    if (parsed.created < now - skew) throw new SignatureVerificationError('expired');
    if (parsed.expires !== undefined && parsed.expires < now) throw new SignatureVerificationError('expired');
  }
}

type NodeRequest = HttpRequestLike & {
  readonly headersDistinct?: Record<string, string[]>;
  readonly socket?: { readonly encrypted?: boolean; readonly remoteAddress?: string };
};

function targetOf(request: HttpRequestLike): string {
  return request.originalUrl ?? request.raw?.url ?? request.url ?? '/';
}

function queryOf(request: HttpRequestLike): string {
  const target = targetOf(request);
  const query = target.indexOf('?');
  return query === -1 ? '' : target.slice(query + 1);
}

function inputOf(request: HttpRequestLike, body: Buffer): SignedRequestInput {
  const target = targetOf(request);
  const query = target.indexOf('?');
  const node = (request.raw ?? request) as NodeRequest;
  return {
    method: request.method ?? 'GET',
    path: query === -1 ? target : target.slice(0, query),
    query: query === -1 ? '' : target.slice(query + 1),
    // Repeated headers as separate field lines: Node joins them with ", ", SigV4 with ",".
    headers: node.headersDistinct ?? request.headers,
    body,
    scheme: node.socket?.encrypted ? 'https' : 'http',
  };
}
