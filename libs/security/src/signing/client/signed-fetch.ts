/**
 * A small signed `fetch` for Node (node:http / node:https, no undici): every request is signed with
 * `signRequest`, and the server certificate can be pinned by the SHA-256 fingerprint of its DER encoding
 * (what `openssl x509 -noout -fingerprint -sha256 -in cert.pem` prints). With a pin, the TLS connection is
 * opened and checked first; a certificate that does not match ends it before any byte of the request is sent.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { bytesEqual } from '../core/http-canonical.js';
import type { SignatureScheme } from '../core/signed-request.types.js';
import { signRequest, type SigningCredentials, type SignRequestOptions } from './sign-request.js';

export interface SignedFetchOptions {
  credentials: SigningCredentials;
  scheme: SignatureScheme;
  /** SHA-256 fingerprints of the accepted server certificates (DER), hex with or without ':' separators. */
  pinnedSha256?: string | string[];
  /** SigV4 credential scope. */
  region?: string;
  service?: string;
  /** Extra headers to sign on every request (when present). */
  signedHeaders?: string[];
  /** Trusted CA certificates (PEM), e.g. a development certificate. */
  ca?: string | Buffer | (string | Buffer)[];
  /**
   * Set to false to accept a certificate no CA vouches for; only sensible together with `pinnedSha256`, which
   * is then the one check of the server's identity.
   */
  rejectUnauthorized?: boolean;
  /** Gives up after this long without activity (default 30 s). */
  timeoutMs?: number;
}

export interface SignedFetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer | Uint8Array;
}

/** The answer, read whole. */
export interface SignedFetchResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  text(): Promise<string>;
  json<T = unknown>(): Promise<T>;
}

export type SignedFetch = (url: string | URL, init?: SignedFetchInit) => Promise<SignedFetchResponse>;

/** The server certificate's fingerprint is not one of the pinned ones. */
export class CertificatePinMismatchError extends Error {
  override readonly name = 'CertificatePinMismatchError';
  readonly code = 'ERR_SECURITY_CERT_PIN_MISMATCH';

  constructor(readonly actualSha256: string) {
    super(`the server certificate (sha256 ${actualSha256}) is not pinned`);
  }
}

/** Lower-case hex SHA-256 of a certificate's DER bytes. */
export function certificateSha256(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

function parsePin(pin: string): Buffer {
  const hex = pin
    .trim()
    .replace(/^sha256(?:\s+fingerprint)?[=:]\s*/i, '')
    .replace(/:/g, '')
    .toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new TypeError(`${pin} is not a SHA-256 fingerprint (64 hex digits)`);
  return Buffer.from(hex, 'hex');
}

/**
 * Creates a `fetch`-like function that signs each request.
 * @example
 * const fetch = createSignedFetch({ credentials: { accessKeyId, secret }, scheme: 'hmac-sha256',
 *   pinnedSha256: 'AB:CD:...' });
 * const response = await fetch('https://127.0.0.1:3000/payments', { method: 'POST', body: JSON.stringify(p),
 *   headers: { 'content-type': 'application/json' } });
 */
export function createSignedFetch(options: SignedFetchOptions): SignedFetch {
  const pins =
    options.pinnedSha256 === undefined
      ? undefined
      : (Array.isArray(options.pinnedSha256) ? options.pinnedSha256 : [options.pinnedSha256]).map(parsePin);
  if (pins?.length === 0) throw new TypeError('pinnedSha256 is empty');
  const timeoutMs = options.timeoutMs ?? 30_000;

  return async (target, init = {}) => {
    const url = new URL(target);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`${url.protocol} is not http(s)`);
    if (pins && url.protocol !== 'https:') throw new TypeError('certificate pinning needs an https URL');
    const method = (init.method ?? 'GET').toUpperCase();
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    const signOptions: SignRequestOptions = { scheme: options.scheme };
    if (options.region !== undefined) signOptions.region = options.region;
    if (options.service !== undefined) signOptions.service = options.service;
    const given = Object.fromEntries(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const extra = (options.signedHeaders ?? []).map((name) => name.toLowerCase()).filter((name) => name in given);
    if (extra.length > 0) signOptions.headers = extra;
    const request = { method, url, headers: given, ...(body === undefined ? {} : { body }) };
    const headers: Record<string, string> = {
      ...given,
      ...signRequest(request, options.credentials, signOptions),
      ...(body === undefined ? {} : { 'content-length': String(body.length) }),
    };
    const requestOptions: RequestOptions & { ca?: SignedFetchOptions['ca']; rejectUnauthorized?: boolean } = {
      method,
      headers,
      timeout: timeoutMs,
    };
    if (url.protocol === 'https:') {
      if (options.ca !== undefined) requestOptions.ca = options.ca;
      if (options.rejectUnauthorized !== undefined) requestOptions.rejectUnauthorized = options.rejectUnauthorized;
    }
    if (pins) {
      const socket = await connectPinned(url, pins, options, timeoutMs);
      requestOptions.createConnection = () => socket;
    }
    return send(url, requestOptions, body);
  };
}

function connectPinned(url: URL, pins: Buffer[], options: SignedFetchOptions, timeoutMs: number): Promise<TLSSocket> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port: Number(url.port || 443),
      ...(isIP(host) ? {} : { servername: host }),
      ALPNProtocols: ['http/1.1'],
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      rejectUnauthorized: options.rejectUnauthorized ?? true,
      timeout: timeoutMs,
    });
    const onError = (error: Error) => reject(error);
    socket.once('error', onError);
    socket.once('timeout', () => socket.destroy(new Error(`TLS connection to ${url.host} timed out`)));
    socket.once('secureConnect', () => {
      socket.off('error', onError);
      const der = socket.getPeerCertificate().raw;
      const actual = der ? createHash('sha256').update(der).digest() : Buffer.alloc(32);
      // Not secret, but compared without early exit anyway; `some` stops only at a match.
      if (!der || !pins.some((pin) => bytesEqual(pin, actual))) {
        socket.destroy();
        reject(new CertificatePinMismatchError(actual.toString('hex')));
        return;
      }
      socket.setTimeout(0);
      resolve(socket);
    });
  });
}

function send(url: URL, options: RequestOptions, body: Buffer | undefined): Promise<SignedFetchResponse> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, (response) => {
      readAll(response).then(resolve, reject);
    });
    request.once('timeout', () => request.destroy(new Error(`request to ${url.host} timed out`)));
    request.once('error', reject);
    request.end(body);
  });
}

async function readAll(response: IncomingMessage): Promise<SignedFetchResponse> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const status = response.statusCode ?? 0;
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: response.headers,
    body,
    text: async () => body.toString('utf8'),
    json: async <T>() => JSON.parse(body.toString('utf8')) as T,
  };
}
