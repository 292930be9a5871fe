import { constants } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { SecurityConfigError } from '../core/errors.js';

/**
 * The TLS 1.3 suites, in the server's order of preference. All of them are AEAD and TLS 1.3 only has
 * ephemeral key exchange, so every one has forward secrecy; they are listed so the whole policy is in one place.
 */
export const TLS13_CIPHER_SUITES = Object.freeze([
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
] as const);

/**
 * The TLS 1.2 suites: ECDHE key exchange (forward secrecy) with an AEAD cipher (AES-GCM or ChaCha20-Poly1305),
 * for ECDSA and RSA certificates. Left out on purpose: CBC suites (padding-oracle attacks such as Lucky13, and
 * SHA-1 MACs), static RSA key exchange (no forward secrecy: a stolen key decrypts every recorded session),
 * and finite-field DHE (slow, and only as strong as its group).
 */
export const TLS12_CIPHER_SUITES = Object.freeze([
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const);

/**
 * The OpenSSL cipher string of `secureTlsOptions`: TLS 1.3 suites, then TLS 1.2 suites. Node's default list
 * still accepts CBC-SHA1 and static-RSA suites (through `HIGH`), hence an explicit list.
 */
export const SECURE_TLS_CIPHERS = [...TLS13_CIPHER_SUITES, ...TLS12_CIPHER_SUITES].join(':');

/** What `secureTlsOptions` needs: the certificate chain and private key (PEM), and optional extras. */
export interface SecureTlsInput {
  /** The certificate chain in PEM, leaf first. */
  readonly cert: string | Buffer;
  /** The private key in PEM. */
  readonly key: string | Buffer;
  /** The key's passphrase, when it is encrypted. */
  readonly passphrase?: string;
  /** How long a client may take to complete the handshake before it is cut (default 10 s; Node's is 120 s). */
  readonly handshakeTimeoutMs?: number;
}

/** Options for `https.createServer`, Nest's `httpsOptions` or `new FastifyAdapter({ https })`. */
export interface SecureTlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly passphrase?: string;
  readonly minVersion: 'TLSv1.2';
  readonly maxVersion: 'TLSv1.3';
  readonly ciphers: string;
  readonly honorCipherOrder: true;
  readonly secureOptions: number;
  readonly handshakeTimeout: number;
}

/** Default TLS handshake timeout: a client that opens a connection and stalls holds it for at most this long. */
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Server TLS options: TLS 1.2 and 1.3 only, the AEAD + forward-secrecy suites of `SECURE_TLS_CIPHERS` in the
 * server's order (with ChaCha20 first for clients that prefer it, i.e. those without AES hardware), no
 * client-initiated renegotiation (a CPU cost a client could impose at will), and a short handshake timeout.
 * @example NestFactory.create(AppModule, { httpsOptions: secureTlsOptions({ cert, key }) })
 * @example new FastifyAdapter({ https: secureTlsOptions({ cert, key }) })
 */
export function secureTlsOptions(input: SecureTlsInput): SecureTlsOptions {
  if (!isPem(input.cert)) fail('tls.cert', 'is not a PEM certificate; give the contents of the .pem file');
  if (!isPem(input.key)) fail('tls.key', 'is not a PEM private key; give the contents of the .pem file');
  const handshakeTimeout = input.handshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS;
  positive('tls.handshakeTimeoutMs', handshakeTimeout);
  return Object.freeze({
    cert: input.cert,
    key: input.key,
    ...(input.passphrase === undefined ? {} : { passphrase: input.passphrase }),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: SECURE_TLS_CIPHERS,
    honorCipherOrder: true,
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_PRIORITIZE_CHACHA,
    handshakeTimeout,
  });
}

/** Limits on how long a client may take; every value in milliseconds. */
export interface ServerTimeoutOptions {
  /** Time to receive the whole request head (request line and headers); slow-header clients are cut (408). */
  readonly headersTimeoutMs?: number;
  /** Time to receive the whole request, body included; slow-body clients are cut (408). */
  readonly requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open between requests. */
  readonly keepAliveTimeoutMs?: number;
  /** A socket with no traffic either way for this long is closed (slow readers, stalled peers). */
  readonly idleTimeoutMs?: number;
}

/** The timeouts `applyServerTimeouts` applied. */
export type ResolvedServerTimeouts = Required<ServerTimeoutOptions>;

/**
 * Defaults far tighter than Node's (60 s for headers, 300 s per request, no idle limit): an API request's
 * head arrives in one round trip, and its body is capped in size.
 */
export const SERVER_TIMEOUT_DEFAULTS: ResolvedServerTimeouts = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
});

// Node checks the headers and request timeouts of open connections on this interval (default 30 s), so a
// 10 s headers timeout could otherwise take 40 s to bite.
const MAX_CHECK_INTERVAL_MS = 1_000;

/**
 * Applies the timeouts to a Node HTTP or HTTPS server (the one under Express or Fastify:
 * `app.getHttpServer()`), before it listens: Node reads the checking interval when listening starts.
 * @example applyServerTimeouts(app.getHttpServer(), { headersTimeoutMs: 10_000 }); await app.listen(3000);
 */
export function applyServerTimeouts(
  server: HttpServer | HttpsServer,
  options: ServerTimeoutOptions = {},
): ResolvedServerTimeouts {
  const timeouts: ResolvedServerTimeouts = Object.freeze({ ...SERVER_TIMEOUT_DEFAULTS, ...definedOnly(options) });
  for (const [name, value] of Object.entries(timeouts)) positive(`serverTimeouts.${name}`, value);
  if (timeouts.headersTimeoutMs > timeouts.requestTimeoutMs) {
    fail('serverTimeouts.headersTimeoutMs', 'must not be longer than requestTimeoutMs, which also covers the headers');
  }
  if (server.listening) {
    fail('serverTimeouts', 'apply them before the server listens (Node reads the checking interval then)');
  }
  server.headersTimeout = timeouts.headersTimeoutMs;
  server.requestTimeout = timeouts.requestTimeoutMs;
  server.keepAliveTimeout = timeouts.keepAliveTimeoutMs;
  server.setTimeout(timeouts.idleTimeoutMs);
  // A documented constructor option that Node also reads from the instance when listening starts.
  (server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.min(
    MAX_CHECK_INTERVAL_MS,
    timeouts.headersTimeoutMs,
  );
  return timeouts;
}

function definedOnly(options: ServerTimeoutOptions): ServerTimeoutOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

function isPem(value: unknown): boolean {
  const text = Buffer.isBuffer(value) ? value.toString('latin1') : value;
  return typeof text === 'string' && text.includes('-----BEGIN ');
}

function positive(option: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    fail(option, `${String(value)} is not a positive whole number of milliseconds`);
  }
}

function fail(option: string, message: string): never {
  throw new SecurityConfigError('ERR_SECURITY_CONFIG_INVALID_VALUE', option, message);
}
