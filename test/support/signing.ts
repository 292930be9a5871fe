import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import { signRequest, type SignatureScheme, type SigningCredentials, type StoredAuditEvent } from '@app/security';
import type { RunningDemo } from './demo-app.js';
import { eventOf } from './events.js';

/** The demo's SigV4 credential scope (SIGV4_REGION, SIGV4_SERVICE defaults). */
export const SIGV4_SCOPE = { region: 'us-east-1', service: 'demo' } as const;
/** An explicit master key ring, shared by the demo and the CLI. */
export const SIGNING_MASTER_KEYS = `v1:${Buffer.alloc(32, 9).toString('base64')}`;

export const sha256 = (body: Uint8Array | string = '') => createHash('sha256').update(body).digest('hex');

/** A request as it goes on the wire: the target (path and query) exactly as sent. */
export interface WireRequest {
  method: string;
  /** Path and query, sent byte for byte. */
  target: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface WireResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly requestId: string;
  json(): any;
}

/** Sends a request with node:http, so the method, target, Host and every header are exactly the ones given. */
export function send(baseUrl: string, request: WireRequest): Promise<WireResponse> {
  const url = new URL(baseUrl);
  const headers = { ...request.headers };
  if (request.body !== undefined) headers['content-length'] = String(request.body.length);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: url.hostname, port: url.port, method: request.method, path: request.target, headers },
      (response) => collectResponse(response).then(resolve, reject),
    );
    outgoing.once('error', reject);
    outgoing.end(request.body);
  });
}

/** Reads a whole response into a `WireResponse`. */
export function collectResponse(response: IncomingMessage): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.once('error', reject);
    response.once('end', () => {
      const body = Buffer.concat(chunks);
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        body,
        requestId: String(response.headers['x-request-id'] ?? ''),
        json: () => JSON.parse(body.toString('utf8')),
      });
    });
  });
}

/** How a test signs: one of the three schemes with an HMAC secret, or RFC 9421 with an Ed25519 key. */
export interface Signer {
  readonly label: string;
  readonly scheme: SignatureScheme;
  readonly credentials: SigningCredentials;
}

export interface SignInput {
  method: string;
  target: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  now?: Date;
  nonce?: string;
  /** Extra headers to sign. */
  sign?: string[];
}

/** Signs with our client (`signRequest`) for `baseUrl` and returns the wire request (not sent). */
export function signed(baseUrl: string, signer: Signer, input: SignInput): WireRequest {
  const body = input.body === undefined ? undefined : Buffer.from(input.body);
  const headers = { ...input.headers };
  const added = signRequest(
    { method: input.method, url: `${baseUrl}${input.target}`, headers, ...(body ? { body } : {}) },
    signer.credentials,
    {
      scheme: signer.scheme,
      ...SIGV4_SCOPE,
      ...(input.now ? { now: input.now } : {}),
      ...(input.nonce ? { nonce: input.nonce } : {}),
      ...(input.sign ? { headers: input.sign } : {}),
    },
  );
  return { method: input.method, target: input.target, headers: { ...headers, ...added }, ...(body ? { body } : {}) };
}

/** The signed POST the suites of several instances share: accepted by one, a replay to every other. */
export function sharedSignedPost(baseUrl: string, signer: Signer): WireRequest {
  return signed(baseUrl, signer, {
    method: 'POST',
    target: '/signed/echo/shared?x=1',
    headers: { 'content-type': 'application/json' },
    body: '{"once":true}',
  });
}

/** Sends `copies` copies of one signed request at once, to the servers in turn; their statuses. */
export function raceCopies(baseUrls: readonly string[], request: WireRequest, copies = 10): Promise<number[]> {
  return Promise.all(
    Array.from({ length: copies }, (_, i) => send(baseUrls[i % baseUrls.length]!, request).then((r) => r.status)),
  );
}

/** The SIGNATURE_REJECTED event of one request (by its request id). */
export function rejectionOf(server: RunningDemo, requestId: string): Promise<StoredAuditEvent | undefined> {
  return eventOf(server, 'SIGNATURE_REJECTED', requestId);
}

/** The parts of a 401 problem every refusal shares (the request id and instance differ per request). */
export function genericPart(response: WireResponse): Record<string, unknown> {
  const { request_id: _id, instance: _instance, ...rest } = response.json() as Record<string, unknown>;
  return { ...rest, keys: Object.keys(response.json() as object).sort() };
}
