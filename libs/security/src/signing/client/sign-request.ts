/**
 * The client side of request signing: the headers to add to a request for the seed HMAC scheme, AWS Signature
 * Version 4 or RFC 9421, computed with the same canonicalisers the server verifies with.
 */
import { createHmac, createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { InnerList, Item, Parameters } from 'structured-headers';
import { contentDigest } from '../core/content-digest.js';
import { compareAscii, HEADER_NAME, sha256Hex } from '../core/http-canonical.js';
import { rfc9421SignatureBase, rfc9421SignatureParams } from '../core/rfc9421.js';
import { SEED_HEADERS, SEED_NONCE, seedSignature, seedStringToSign } from '../core/seed-hmac.js';
import type { SignatureScheme } from '../core/signed-request.types.js';
import {
  sigv4AmzDate,
  sigv4CanonicalRequest,
  sigv4Signature,
  sigv4SigningKey,
  sigv4StringToSign,
  SIGV4_ALGORITHM,
} from '../core/sigv4.js';

/** A request to sign: the URL it will be sent to, its headers and exact body. */
export interface SignableRequest {
  method: string;
  url: string | URL;
  headers?: Record<string, string>;
  body?: string | Buffer | Uint8Array;
}

/** An HMAC secret (all three schemes) or an Ed25519 private key in PEM (RFC 9421 only). */
export type SigningCredentials =
  { accessKeyId: string; secret: string } | { accessKeyId: string; privateKey: string | KeyObject };

export interface SignRequestOptions {
  scheme: SignatureScheme;
  /** The signing time (default: now). */
  now?: Date;
  /** Seed and RFC 9421 nonce (default: 24 random base64url characters). */
  nonce?: string;
  /** SigV4 credential scope (required for SigV4). */
  region?: string;
  service?: string;
  /** Extra headers to sign (they must be in `request.headers`). */
  headers?: string[];
  /** RFC 9421: an `expires` this many seconds after `created`. */
  expiresInSeconds?: number;
  /** RFC 9421 signature label (default 'sig1'). */
  label?: string;
}

/**
 * Returns the headers to add to the request (lower-case names): `host` and the scheme's own (seed `x-*`,
 * SigV4 `x-amz-date`, `x-amz-content-sha256` and `authorization`, RFC 9421 `content-digest`, `signature-input`
 * and `signature`). `content-type` is signed when present; the body is covered by its hash or digest. Send the
 * URL's path and query exactly as `new URL(url)` serialises them.
 * @example
 * const headers = signRequest({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body },
 *   { accessKeyId, secret }, { scheme: 'hmac-sha256' });
 */
export function signRequest(
  request: SignableRequest,
  credentials: SigningCredentials,
  options: SignRequestOptions,
): Record<string, string> {
  const url = new URL(request.url);
  const method = request.method.toUpperCase();
  const body = toBuffer(request.body);
  const given: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) given[name.toLowerCase()] = value;
  const host = given.host ?? url.host;
  const headers: Record<string, string> = { ...given, host };
  const extra = (options.headers ?? []).map((name) => name.toLowerCase());
  for (const name of extra) {
    if (!HEADER_NAME.test(name) || headers[name] === undefined) {
      throw new TypeError(`the header ${name} to sign is not in the request`);
    }
  }
  const covered = unique([...(headers['content-type'] === undefined ? [] : ['content-type']), ...extra]);
  const now = options.now ?? new Date();
  const path = url.pathname;
  const query = url.search.slice(1);

  switch (options.scheme) {
    case 'hmac-sha256': {
      const secret = secretOf(credentials, options.scheme);
      const nonce = options.nonce ?? randomNonce();
      if (!SEED_NONCE.test(nonce)) throw new TypeError('the nonce must be 16 to 128 of [A-Za-z0-9_-]');
      const signedHeaders = unique(['host', ...covered]);
      const timestamp = String(Math.floor(now.getTime() / 1000));
      const stringToSign = seedStringToSign({
        method,
        path,
        query,
        headers,
        signedHeaders,
        timestamp,
        nonce,
        keyId: credentials.accessKeyId,
        body,
      });
      return {
        host,
        [SEED_HEADERS.keyId]: credentials.accessKeyId,
        [SEED_HEADERS.timestamp]: timestamp,
        [SEED_HEADERS.nonce]: nonce,
        [SEED_HEADERS.signedHeaders]: signedHeaders.join(';'),
        [SEED_HEADERS.signature]: seedSignature(secret, stringToSign),
      };
    }
    case 'aws4-hmac-sha256': {
      const secret = secretOf(credentials, options.scheme);
      const { region, service } = options;
      if (!region || !service) throw new TypeError('SigV4 signing needs region and service');
      const amzDate = sigv4AmzDate(now);
      const payloadHash = sha256Hex(body);
      const added = { 'x-amz-date': amzDate, 'x-amz-content-sha256': payloadHash };
      const all = { ...headers, ...added };
      const signedHeaders = unique(['host', 'x-amz-content-sha256', 'x-amz-date', ...covered]).sort(compareAscii);
      const scope = `${amzDate.slice(0, 8)}/${region}/${service}/aws4_request`;
      const canonicalRequest = sigv4CanonicalRequest({ method, path, query, headers: all }, signedHeaders, payloadHash);
      const key = sigv4SigningKey(secret, amzDate.slice(0, 8), region, service);
      const signature = sigv4Signature(key, sigv4StringToSign(amzDate, scope, canonicalRequest));
      return {
        host,
        ...added,
        authorization:
          `${SIGV4_ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, ` +
          `SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`,
      };
    }
    case 'rfc9421': {
      const label = options.label ?? 'sig1';
      const added: Record<string, string> = {};
      if (body.length > 0) added['content-digest'] = contentDigest(body);
      const all = { ...headers, ...added };
      const components = unique([
        '@method',
        '@authority',
        '@path',
        '@query',
        ...(body.length > 0 ? ['content-digest'] : []),
        ...covered,
      ]);
      const created = Math.floor(now.getTime() / 1000);
      const key = signingKeyOf(credentials);
      const params: Parameters = new Map<string, string | number>([['created', created]]);
      if (options.expiresInSeconds !== undefined) params.set('expires', created + options.expiresInSeconds);
      params.set('keyid', credentials.accessKeyId);
      params.set('nonce', options.nonce ?? randomNonce());
      params.set('alg', key.algorithm);
      const input: InnerList = [components.map((name): Item => [name, new Map()]), params];
      const base = Buffer.from(
        rfc9421SignatureBase({ method, path, query, headers: all, scheme: url.protocol.slice(0, -1) }, input),
        'utf8',
      );
      const signature =
        key.algorithm === 'hmac-sha256'
          ? createHmac('sha256', key.secret).update(base).digest()
          : sign(null, base, key.privateKey);
      return {
        host,
        ...added,
        'signature-input': `${label}=${rfc9421SignatureParams(input)}`,
        signature: `${label}=:${signature.toString('base64')}:`,
      };
    }
    default:
      throw new TypeError(`unknown signature scheme ${String(options.scheme)}`);
  }
}

function toBuffer(body: SignableRequest['body']): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}

function randomNonce(): string {
  return randomBytes(18).toString('base64url');
}

function secretOf(credentials: SigningCredentials, scheme: SignatureScheme): string {
  if (!('secret' in credentials)) throw new TypeError(`the ${scheme} scheme needs an HMAC secret`);
  return credentials.secret;
}

type SigningKey = { algorithm: 'hmac-sha256'; secret: string } | { algorithm: 'ed25519'; privateKey: KeyObject };

function signingKeyOf(credentials: SigningCredentials): SigningKey {
  if ('secret' in credentials) return { algorithm: 'hmac-sha256', secret: credentials.secret };
  const privateKey =
    typeof credentials.privateKey === 'string' ? createPrivateKey(credentials.privateKey) : credentials.privateKey;
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new TypeError('the private key must be an Ed25519 private key');
  }
  return { algorithm: 'ed25519', privateKey };
}
