import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/** The issuer and audience the OAuth suites configure and sign tokens for. */
export const TEST_ISSUER = 'https://idp.test.example/';
export const TEST_AUDIENCE = 'demo-api';

/** A signing key of the test authorization server, with its public JWK (`kid`, `alg`, `use: sig`). */
export interface TestSigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

/** Generates a key pair for `alg` with jose and exports the public half as a JWK with `kid`. */
export async function generateTestSigningKey(alg: 'RS256' | 'ES256' | 'PS256' | 'EdDSA', kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk } satisfies TestSigningKey;
}

/** A loopback HTTP server in the role of the authorization server: its JWKS and, optionally, introspection. */
export interface TestAuthorizationServer {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  readonly jwksUrl: string;
  readonly introspectionUrl: string;
  /** The keys served at `jwksUrl`; replace the list to rotate. */
  keys: TestSigningKey[];
  /** How many times the JWKS was fetched. */
  jwksFetches: number;
  /** Answers of the introspection endpoint by token (an unknown token is `{ active: false }`). */
  readonly introspection: Map<string, Record<string, unknown>>;
  /** What the introspection endpoint received, in order. */
  readonly introspectionCalls: Array<{ authorization: string | undefined; body: string }>;
  /** Status the introspection endpoint answers with (default 200). */
  introspectionStatus: number;
  close(): Promise<void>;
}

/** Starts a `TestAuthorizationServer` on 127.0.0.1 with the given keys. */
export async function startTestAuthorizationServer(keys: TestSigningKey[] = []): Promise<TestAuthorizationServer> {
  const state = {
    keys,
    jwksFetches: 0,
    introspection: new Map<string, Record<string, unknown>>(),
    introspectionCalls: [] as Array<{ authorization: string | undefined; body: string }>,
    introspectionStatus: 200,
  };
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method === 'GET' && request.url === '/jwks.json') {
        state.jwksFetches++;
        reply(response, 200, { keys: state.keys.map((key) => key.publicJwk) });
      } else if (request.method === 'POST' && request.url === '/introspect') {
        const body = Buffer.concat(chunks).toString('utf8');
        state.introspectionCalls.push({ authorization: request.headers.authorization, body });
        const token = new URLSearchParams(body).get('token') ?? '';
        reply(response, state.introspectionStatus, state.introspection.get(token) ?? { active: false });
      } else {
        reply(response, 404, { error: 'not_found' });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    origin,
    jwksUrl: `${origin}/jwks.json`,
    introspectionUrl: `${origin}/introspect`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

/** What `signAccessToken` puts in the protected header besides `alg` and `kid`; `typ` defaults to `at+jwt`. */
export interface AccessTokenHeader {
  readonly typ?: string | null;
  readonly kid?: string | null;
}

/**
 * Signs an access token with `key`: claims as given (times in unix seconds), protected header
 * `{ alg, kid, typ: 'at+jwt' }` unless `header` changes it (`null` leaves a member out).
 */
export function signAccessToken(key: TestSigningKey, claims: JWTPayload, header: AccessTokenHeader = {}) {
  const typ = header.typ === undefined ? 'at+jwt' : header.typ;
  const kid = header.kid === undefined ? key.kid : header.kid;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, ...(kid === null ? {} : { kid }), ...(typ === null ? {} : { typ }) })
    .sign(key.privateKey);
}

/** A compact JWS from a header and a payload, "signed" with HMAC-SHA256 over the given secret bytes, or unsigned. */
export function forgeToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  hmacSecret?: Uint8Array,
): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode(header)}.${encode(payload)}`;
  const signature = hmacSecret ? createHmac('sha256', hmacSecret).update(input).digest('base64url') : '';
  return `${input}.${signature}`;
}

/** The token with its payload replaced by `payload`, the signature kept (a tampered token). */
export function tamperPayload(token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;
}
