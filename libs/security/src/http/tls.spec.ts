import { constants } from 'node:crypto';
import { createServer } from 'node:http';
import { getCiphers } from 'node:tls';
import { SecurityConfigError } from '../core/errors.js';
import {
  applyServerTimeouts,
  DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
  SECURE_TLS_CIPHERS,
  secureTlsOptions,
  SERVER_TIMEOUT_DEFAULTS,
  TLS12_CIPHER_SUITES,
  TLS13_CIPHER_SUITES,
} from './tls.js';

const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';

describe('SECURE_TLS_CIPHERS', () => {
  it('lists the TLS 1.3 suites, then only ECDHE suites with AES-GCM or ChaCha20-Poly1305 for TLS 1.2', () => {
    expect(SECURE_TLS_CIPHERS.split(':')).toEqual([...TLS13_CIPHER_SUITES, ...TLS12_CIPHER_SUITES]);
    expect(TLS13_CIPHER_SUITES).toEqual([
      'TLS_AES_128_GCM_SHA256',
      'TLS_AES_256_GCM_SHA384',
      'TLS_CHACHA20_POLY1305_SHA256',
    ]);
    for (const suite of TLS12_CIPHER_SUITES) {
      // Forward secrecy (ephemeral ECDH) and an AEAD cipher; never CBC, a SHA-1 MAC or static RSA.
      expect(suite).toMatch(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    }
    // Both certificate types are served, with each AEAD cipher.
    expect(TLS12_CIPHER_SUITES.filter((suite) => suite.startsWith('ECDHE-ECDSA-'))).toHaveLength(3);
    expect(TLS12_CIPHER_SUITES.filter((suite) => suite.startsWith('ECDHE-RSA-'))).toHaveLength(3);
  });

  it('names only suites this OpenSSL knows (OpenSSL skips unknown names in a list without a word)', () => {
    const known = new Set(getCiphers());
    for (const suite of SECURE_TLS_CIPHERS.split(':')) expect(known, suite).toContain(suite.toLowerCase());
  });
});

describe('secureTlsOptions', () => {
  it('allows TLS 1.2 and 1.3 only, with the explicit suites in the server order, and no renegotiation', () => {
    const options = secureTlsOptions({ cert: PEM_CERT, key: Buffer.from(PEM_KEY) });
    expect(options).toEqual({
      cert: PEM_CERT,
      key: Buffer.from(PEM_KEY),
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      ciphers: SECURE_TLS_CIPHERS,
      honorCipherOrder: true,
      secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_PRIORITIZE_CHACHA,
      handshakeTimeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
    });
    expect(DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS).toBe(10_000);
    expect(Object.isFrozen(options)).toBe(true);
  });

  it('passes a passphrase through and takes the handshake timeout', () => {
    const options = secureTlsOptions({ cert: PEM_CERT, key: PEM_KEY, passphrase: 'secret', handshakeTimeoutMs: 2_000 });
    expect(options.passphrase).toBe('secret');
    expect(options.handshakeTimeout).toBe(2_000);
  });

  it.each([
    ['a file path instead of PEM', { cert: '/etc/tls/cert.pem', key: PEM_KEY }, 'tls.cert'],
    ['a key that is not PEM', { cert: PEM_CERT, key: Buffer.from('not a key') }, 'tls.key'],
    ['a zero handshake timeout', { cert: PEM_CERT, key: PEM_KEY, handshakeTimeoutMs: 0 }, 'tls.handshakeTimeoutMs'],
    [
      'a fractional handshake timeout',
      { cert: PEM_CERT, key: PEM_KEY, handshakeTimeoutMs: 1.5 },
      'tls.handshakeTimeoutMs',
    ],
  ])('refuses %s at boot', (_label, input, option) => {
    expect(() => secureTlsOptions(input)).toThrow(
      expect.objectContaining({ name: expect.any(String), code: 'ERR_SECURITY_CONFIG_INVALID_VALUE', option }),
    );
    expect(() => secureTlsOptions(input)).toThrow(SecurityConfigError);
  });
});

describe('applyServerTimeouts', () => {
  it('sets the headers, request, keep-alive and idle timeouts, and checks them at least every second', () => {
    const server = createServer();
    const applied = applyServerTimeouts(server, { headersTimeoutMs: 2_000, requestTimeoutMs: 4_000 });
    expect(applied).toEqual({ ...SERVER_TIMEOUT_DEFAULTS, headersTimeoutMs: 2_000, requestTimeoutMs: 4_000 });
    expect(server.headersTimeout).toBe(2_000);
    expect(server.requestTimeout).toBe(4_000);
    expect(server.keepAliveTimeout).toBe(SERVER_TIMEOUT_DEFAULTS.keepAliveTimeoutMs);
    expect(server.timeout).toBe(SERVER_TIMEOUT_DEFAULTS.idleTimeoutMs);
    expect((server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval).toBe(1_000);
  });

  it('defaults far below Node’s own limits (60 s for headers, 300 s per request, no idle limit)', () => {
    const server = createServer();
    applyServerTimeouts(server);
    expect(SERVER_TIMEOUT_DEFAULTS).toEqual({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
      idleTimeoutMs: 60_000,
    });
    expect(server.headersTimeout).toBe(10_000);
    expect(server.requestTimeout).toBe(30_000);
  });

  it('checks as often as the headers timeout when that is under a second', () => {
    const server = createServer();
    applyServerTimeouts(server, { headersTimeoutMs: 300 });
    expect((server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval).toBe(300);
  });

  it.each([
    ['a zero timeout', { keepAliveTimeoutMs: 0 }, 'serverTimeouts.keepAliveTimeoutMs'],
    ['a negative timeout', { idleTimeoutMs: -1 }, 'serverTimeouts.idleTimeoutMs'],
    [
      'a headers timeout longer than the request timeout',
      { headersTimeoutMs: 5_000, requestTimeoutMs: 4_000 },
      'serverTimeouts.headersTimeoutMs',
    ],
  ])('refuses %s', (_label, options, option) => {
    expect(() => applyServerTimeouts(createServer(), options)).toThrow(
      expect.objectContaining({ code: 'ERR_SECURITY_CONFIG_INVALID_VALUE', option }),
    );
  });

  it('refuses a server that already listens (its checking interval is fixed by then)', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      expect(() => applyServerTimeouts(server)).toThrow(expect.objectContaining({ option: 'serverTimeouts' }));
    } finally {
      server.close();
    }
  });
});
