import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as connectTcp, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls, DEFAULT_CIPHERS, type Server as TlsServer } from 'node:tls';
import { promisify } from 'node:util';
import { onTestFinished } from 'vitest';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { ROOT } from './support/processes.js';
import { send, type WireResponse } from './support/signing.js';
import { sendTls, TlsServerWatch } from './support/tls.js';

const run = promisify(execFile);

// Short limits, so that cutting a slow client takes about a second; a prompt request is unaffected.
const TIMEOUTS = { HTTP_HEADERS_TIMEOUT: '1s', HTTP_REQUEST_TIMEOUT: '2s' };
const SLOW_TEST_MS = 20_000;
const PUBLIC_ORIGIN = 'https://api.example.test:8443';
const HSTS = 'max-age=31536000; includeSubDomains';

interface DevCert {
  readonly dataDir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
}

/** Runs `npm run dev-cert` (the script itself) with its own DATA_DIR. */
async function devCert(dataDir: string, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['scripts/dev-cert.mjs', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir },
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

let cert: DevCert;
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'nas-https-'));
  const dataDir = join(workDir, 'data');
  const result = await devCert(dataDir);
  expect(result.code, result.stderr).toBe(0);
  const certFile = join(dataDir, 'tls', 'cert.pem');
  cert = { dataDir, certFile, keyFile: join(dataDir, 'tls', 'key.pem'), cert: await readFile(certFile, 'utf8') };
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('npm run dev-cert', () => {
  it('writes a certificate for localhost, 127.0.0.1 and ::1 and its key, readable by the owner only', async () => {
    const x509 = new X509Certificate(cert.cert);
    expect(x509.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(x509.checkPrivateKey(createPrivateKey(await readFile(cert.keyFile)))).toBe(true);
    expect(x509.publicKey.asymmetricKeyType).toBe('rsa');
    expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const validMs = Date.parse(x509.validTo) - Date.parse(x509.validFrom);
    expect(validMs).toBeLessThanOrEqual(90 * 86_400_000);
    expect((await stat(cert.keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(cert.dataDir, 'tls'))).mode & 0o777).toBe(0o700);
  });

  it('prints the TLS_CERT and TLS_KEY lines, and replaces an existing pair only with --force', async () => {
    const dataDir = join(workDir, 'again');
    const first = await devCert(dataDir, 'api.local.test');
    expect(first.stdout).toContain(`TLS_CERT=${join(dataDir, 'tls', 'cert.pem')}\n`);
    expect(first.stdout).toContain(`TLS_KEY=${join(dataDir, 'tls', 'key.pem')}\n`);
    const original = await readFile(join(dataDir, 'tls', 'key.pem'), 'utf8');
    expect(new X509Certificate(await readFile(join(dataDir, 'tls', 'cert.pem'))).subjectAltName).toContain(
      'DNS:api.local.test',
    );

    const refused = await devCert(dataDir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--force');
    expect(await readFile(join(dataDir, 'tls', 'key.pem'), 'utf8')).toBe(original);

    const replaced = await devCert(dataDir, '--force');
    expect(replaced.code).toBe(0);
    expect(await readFile(join(dataDir, 'tls', 'key.pem'), 'utf8')).not.toBe(original);
    expect((await stat(join(dataDir, 'tls', 'key.pem'))).mode & 0o777).toBe(0o600);
  });
});

// The client offers that the demo must refuse, each tried first against Node's own defaults: if a
// plain server accepts it, the demo's refusal is the demo's doing and not the client's.
const REFUSED_OFFERS = {
  'TLS 1.0': { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' },
  'TLS 1.1': { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
  'a CBC suite (ECDHE-RSA-AES128-SHA)': { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' },
  'a static-RSA suite without forward secrecy (AES128-GCM-SHA256)': {
    maxVersion: 'TLSv1.2',
    ciphers: 'AES128-GCM-SHA256',
  },
} as const;
type RefusedOffer = keyof typeof REFUSED_OFFERS;
const REFUSAL_CODES: Record<RefusedOffer, string> = {
  'TLS 1.0': 'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'TLS 1.1': 'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'a CBC suite (ECDHE-RSA-AES128-SHA)': 'ERR_SSL_NO_SHARED_CIPHER',
  'a static-RSA suite without forward secrecy (AES128-GCM-SHA256)': 'ERR_SSL_NO_SHARED_CIPHER',
};

describe('control: a Node HTTPS server with its defaults, on the same certificate', () => {
  let server: HttpsServer;
  let watch: TlsServerWatch;

  beforeAll(async () => {
    const key = await readFile(cert.keyFile);
    // Node's default suites; security level 0 only so that TLS 1.0/1.1 (SHA-1 signatures) can be shown too.
    server = createHttpsServer({
      cert: cert.cert,
      key,
      minVersion: 'TLSv1',
      ciphers: `${DEFAULT_CIPHERS}:@SECLEVEL=0`,
    });
    watch = new TlsServerWatch(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    watch.dispose();
    await new Promise((resolve) => server.close(resolve));
  });

  it.each(Object.keys(REFUSED_OFFERS) as RefusedOffer[])('accepts %s from the test client', async (offer) => {
    const result = await watch.handshake((server.address() as AddressInfo).port, {
      ca: cert.cert,
      ...REFUSED_OFFERS[offer],
    });
    expect(result.server).toMatchObject({ accepted: true });
  });
});

describe.each(ADAPTERS)('HTTPS on %s', (adapter) => {
  let secure: RunningDemo;
  let plain: RunningDemo;
  let proxied: RunningDemo;
  let watch: TlsServerWatch;

  beforeAll(async () => {
    [secure, plain, proxied] = await Promise.all([
      startDemo(adapter, {
        ...TIMEOUTS,
        TLS_CERT: cert.certFile,
        TLS_KEY: cert.keyFile,
        HTTP_REDIRECT_PORT: '0',
        PUBLIC_ORIGIN,
      }),
      startDemo(adapter, TIMEOUTS),
      startDemo(adapter, { ...TIMEOUTS, TRUST_PROXY: '127.0.0.1' }),
    ]);
    watch = new TlsServerWatch(secure.demo.app.getHttpServer() as TlsServer);
  });
  afterAll(async () => {
    watch?.dispose();
    await Promise.all([secure?.close(), plain?.close(), proxied?.close()]);
  });

  const port = () => Number(new URL(secure.baseUrl).port);
  const get = (target: string, headers: Record<string, string> = {}) =>
    sendTls(secure.baseUrl, cert.cert, { method: 'GET', target, headers });

  describe('TLS, judged by the server', () => {
    it('serves HTTPS with the certificate from TLS_CERT/TLS_KEY', async () => {
      expect(secure.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const response = await get('/health');
      expect(response.status).toBe(200);
      expect(response.json()).toMatchObject({ status: 'ok' });
    });

    it.each(Object.keys(REFUSED_OFFERS) as RefusedOffer[])('refuses %s', async (offer) => {
      const result = await watch.handshake(port(), { ca: cert.cert, ...REFUSED_OFFERS[offer] });
      expect(result.server).toMatchObject({ accepted: false, code: REFUSAL_CODES[offer] });
    });

    it.each([
      ['TLSv1.2', 'ECDHE-RSA-AES128-GCM-SHA256'],
      ['TLSv1.3', 'TLS_AES_128_GCM_SHA256'],
    ] as const)('accepts %s (%s, the server’s first choice)', async (version, cipher) => {
      const result = await watch.handshake(port(), { ca: cert.cert, minVersion: version, maxVersion: version });
      expect(result.server).toEqual({ accepted: true, protocol: version, cipher });
      expect(result.client).toBe('ok');
    });

    it('accepts ChaCha20-Poly1305 from a client that only offers it', async () => {
      const result = await watch.handshake(port(), {
        ca: cert.cert,
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-RSA-CHACHA20-POLY1305',
      });
      expect(result.server).toEqual({ accepted: true, protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-CHACHA20-POLY1305' });
    });
  });

  describe('Strict-Transport-Security', () => {
    it('is sent over HTTPS, on success and on errors', async () => {
      expect((await get('/health')).headers['strict-transport-security']).toBe(HSTS);
      const unauthenticated = await get('/me');
      expect(unauthenticated.status).toBe(401);
      expect(unauthenticated.headers['strict-transport-security']).toBe(HSTS);
    });

    it('is not sent over plain HTTP', async () => {
      const response = await send(plain.baseUrl, { method: 'GET', target: '/health', headers: {} });
      expect(response.status).toBe(200);
      expect(response.headers['strict-transport-security']).toBeUndefined();
    });

    it('is not sent for X-Forwarded-Proto: https from a client that is not a trusted proxy', async () => {
      const response = await send(plain.baseUrl, {
        method: 'GET',
        target: '/health',
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(response.status).toBe(200);
      expect(response.headers['strict-transport-security']).toBeUndefined();
    });

    it('is sent for X-Forwarded-Proto: https from a trusted proxy (TRUST_PROXY), and only for https', async () => {
      const call = (headers: Record<string, string>) =>
        send(proxied.baseUrl, { method: 'GET', target: '/health', headers });
      expect((await call({ 'x-forwarded-proto': 'https' })).headers['strict-transport-security']).toBe(HSTS);
      expect((await call({ 'x-forwarded-proto': 'http' })).headers['strict-transport-security']).toBeUndefined();
      expect((await call({})).headers['strict-transport-security']).toBeUndefined();
    });
  });

  describe('the plain-HTTP redirect listener (HTTP_REDIRECT_PORT)', () => {
    const redirect = (method: string, target: string, headers: Record<string, string> = {}) =>
      send(secure.redirectUrl!, { method, target, headers: { host: 'evil.example', ...headers } });

    function expectRedirect(response: WireResponse, status: number, location: string): void {
      expect(response.status).toBe(status);
      expect(response.headers.location).toBe(location);
      // Whatever the request said, the target is the configured origin.
      expect(new URL(response.headers.location!).origin).toBe(PUBLIC_ORIGIN);
      expect(response.body.length).toBe(0);
    }

    it('sends GET and HEAD to PUBLIC_ORIGIN with the path and query (301), never to the request’s Host', async () => {
      expect(secure.redirectUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expectRedirect(
        await redirect('GET', '/v1/items?page=2&q=a%20b'),
        301,
        `${PUBLIC_ORIGIN}/v1/items?page=2&q=a%20b`,
      );
      expectRedirect(await redirect('HEAD', '/health'), 301, `${PUBLIC_ORIGIN}/health`);
    });

    it('answers other methods with 308, which keeps the method and body', async () => {
      const response = await redirect('POST', '/login', { 'content-type': 'application/json' });
      expectRedirect(response, 308, `${PUBLIC_ORIGIN}/login`);
    });

    it('ignores X-Forwarded-Host and the host of an absolute-form target', async () => {
      expectRedirect(await redirect('GET', '/me', { 'x-forwarded-host': 'evil.example' }), 301, `${PUBLIC_ORIGIN}/me`);
      expectRedirect(await redirect('GET', 'http://evil.example/me?x=1'), 301, `${PUBLIC_ORIGIN}/me?x=1`);
    });

    it('keeps a path that starts with // on the configured host', async () => {
      expectRedirect(await redirect('GET', '//evil.example/x'), 301, `${PUBLIC_ORIGIN}//evil.example/x`);
    });
  });

  describe('slow clients', () => {
    // Sends `head`, then one `drip` every 100 ms until the server closes the connection; returns its answer.
    async function trickle(socket: Socket, head: string, drip: string): Promise<string> {
      onTestFinished(() => void socket.destroy());
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
      socket.on('error', () => undefined);
      socket.write(head);
      const timer = setInterval(() => socket.writable && socket.write(drip), 100);
      await new Promise((resolve) => socket.once('close', resolve));
      clearInterval(timer);
      return answer;
    }

    const tlsSocket = async () => {
      const socket = connectTls({ host: '127.0.0.1', port: port(), ca: cert.cert });
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      return socket;
    };
    const plainSocket = (baseUrl: string) => connectTcp(Number(new URL(baseUrl).port), '127.0.0.1');
    const SLOW_HEAD = 'GET /health HTTP/1.1\r\nHost: localhost\r\n';

    it(
      'cuts a client that sends its headers too slowly over HTTPS (408, connection closed)',
      async () => {
        expect(await trickle(await tlsSocket(), SLOW_HEAD, 'X-Slow: 1\r\n')).toMatch(/^HTTP\/1\.1 408 /);
      },
      SLOW_TEST_MS,
    );

    it(
      'cuts a client that sends its headers too slowly over plain HTTP',
      async () => {
        expect(await trickle(plainSocket(plain.baseUrl), SLOW_HEAD, 'X-Slow: 1\r\n')).toMatch(/^HTTP\/1\.1 408 /);
      },
      SLOW_TEST_MS,
    );

    it(
      'cuts a client that sends its body too slowly',
      async () => {
        const head =
          'POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{';
        const answer = await trickle(await tlsSocket(), head, ' ');
        expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      },
      SLOW_TEST_MS,
    );

    it(
      'cuts a client that opens a connection and never completes the TLS handshake',
      async () => {
        const socket = connectTcp(port(), '127.0.0.1');
        // Without the server's cut the socket would stay open and hold the app's close() in afterAll.
        onTestFinished(() => void socket.destroy());
        const localPort = await new Promise<number>((resolve) =>
          socket.once('connect', () => resolve(socket.localPort!)),
        );
        const closed = new Promise((resolve) => socket.once('close', resolve));
        expect(await watch.verdict(localPort)).toMatchObject({ accepted: false, code: 'ERR_TLS_HANDSHAKE_TIMEOUT' });
        await closed;
      },
      SLOW_TEST_MS,
    );

    it(
      'cuts slow clients on the redirect listener too',
      async () => {
        expect(await trickle(plainSocket(secure.redirectUrl!), SLOW_HEAD, 'X-Slow: 1\r\n')).toMatch(/^HTTP\/1\.1 408 /);
      },
      SLOW_TEST_MS,
    );

    it('still answers a prompt request on the same limits', async () => {
      const response = await get('/health');
      expect(response.status).toBe(200);
    });
  });
});
