import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions } from 'node:https';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import { connect as connectTls, DEFAULT_CIPHERS, getCiphers } from 'node:tls';
import { applyServerTimeouts, secureTlsOptions, TLS12_CIPHER_SUITES } from '../../src/http/tls.js';
import { testCertificate, TlsServerWatch, type TestCertificate } from '../../../../test/support/tls.js';

// Every TLS 1.2 suite this OpenSSL knows (TLS 1.3 suites are the `tls_` ones), in OpenSSL's spelling.
const ALL_TLS12_SUITES = getCiphers()
  .filter((name) => !name.startsWith('tls_'))
  .map((name) => name.toUpperCase());

interface RunningServer {
  readonly server: HttpsServer;
  readonly port: number;
  readonly watch: TlsServerWatch;
  close(): Promise<void>;
}

async function listen(options: ServerOptions): Promise<RunningServer> {
  const server = createHttpsServer(options, (_request, response) => response.end('ok'));
  const watch = new TlsServerWatch(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    watch,
    close: () => {
      watch.dispose();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// Which TLS 1.2 suites the server accepts, asking for each alone (at security level 0, so the client
// offers even the weak ones); judged by the server's `secureConnection`.
async function acceptedTls12Suites(running: RunningServer, ca: string): Promise<string[]> {
  const accepted: string[] = [];
  for (const suite of ALL_TLS12_SUITES) {
    const result = await running.watch.handshake(running.port, {
      ca,
      maxVersion: 'TLSv1.2',
      ciphers: `${suite}:@SECLEVEL=0`,
    });
    if (result.server.accepted) accepted.push(result.server.cipher);
  }
  return accepted.sort();
}

describe('secureTlsOptions on a Node HTTPS server', () => {
  let rsa: TestCertificate;
  let ec: TestCertificate;

  beforeAll(async () => {
    [rsa, ec] = await Promise.all([testCertificate('rsa'), testCertificate('ec')]);
  });

  describe.each([
    ['RSA', () => rsa, 'ECDHE-RSA-'],
    ['ECDSA', () => ec, 'ECDHE-ECDSA-'],
  ] as const)('with an %s certificate', (_label, certificate, prefix) => {
    let strict: RunningServer;
    let lenient: RunningServer;

    beforeAll(async () => {
      strict = await listen(secureTlsOptions(certificate()));
      // Control: Node's default suites, down to TLS 1.0 (security level 0 for its SHA-1 signatures). The same
      // client offers must succeed there, so that a refusal by `strict` is the server's choice, not the client's.
      lenient = await listen({ ...certificate(), minVersion: 'TLSv1', ciphers: `${DEFAULT_CIPHERS}:@SECLEVEL=0` });
    });
    afterAll(async () => {
      await strict?.close();
      await lenient?.close();
    });

    it('accepts exactly the ECDHE + AEAD suites for this key type over TLS 1.2, no CBC and no static RSA', async () => {
      const expected = TLS12_CIPHER_SUITES.filter((suite) => suite.startsWith(prefix)).sort();
      expect(await acceptedTls12Suites(strict, certificate().cert)).toEqual(expected);
    });

    it('control: Node’s defaults accept CBC and (for RSA) static-RSA suites from the same client', async () => {
      const accepted = await acceptedTls12Suites(lenient, certificate().cert);
      expect(accepted).toContain(`${prefix}AES128-SHA`);
      if (prefix === 'ECDHE-RSA-') expect(accepted).toContain('AES128-GCM-SHA256');
    });

    it.each(['TLSv1', 'TLSv1.1'] as const)('refuses %s on the server side', async (version) => {
      const offer = { ca: certificate().cert, minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' };
      const refused = await strict.watch.handshake(strict.port, offer);
      expect(refused.server).toMatchObject({ accepted: false, code: 'ERR_SSL_UNSUPPORTED_PROTOCOL' });
      // Control: the client really speaks that version.
      const control = await lenient.watch.handshake(lenient.port, offer);
      expect(control.server).toMatchObject({ accepted: true, protocol: version });
    });

    it.each(['TLSv1.2', 'TLSv1.3'] as const)('accepts %s', async (version) => {
      const result = await strict.watch.handshake(strict.port, {
        ca: certificate().cert,
        minVersion: version,
        maxVersion: version,
      });
      expect(result.server).toMatchObject({ accepted: true, protocol: version });
      expect(result.client).toBe('ok');
    });

    it('picks the suite in its own order, not the client’s', async () => {
      const result = await strict.watch.handshake(strict.port, {
        ca: certificate().cert,
        maxVersion: 'TLSv1.2',
        ciphers: `${prefix}AES256-GCM-SHA384:${prefix}AES128-GCM-SHA256`,
      });
      expect(result.server).toMatchObject({ accepted: true, cipher: `${prefix}AES128-GCM-SHA256` });
    });

    it('refuses client-initiated renegotiation', async () => {
      const socket = connectTls({
        host: '127.0.0.1',
        port: strict.port,
        ca: certificate().cert,
        maxVersion: 'TLSv1.2',
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      const outcome = await new Promise<string>((resolve) => {
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(String(error.code)));
        socket.renegotiate({}, (error) => resolve(error ? String((error as NodeJS.ErrnoException).code) : 'ok'));
      });
      socket.destroy();
      // The server's no_renegotiation alert.
      expect(outcome).toBe('ERR_SSL_NO_RENEGOTIATION');
    });
  });

  it('cuts a client that opens a connection and never completes the handshake', async () => {
    const running = await listen(secureTlsOptions({ ...rsa, handshakeTimeoutMs: 300 }));
    try {
      const socket = connectTcp(running.port, '127.0.0.1');
      const port = await new Promise<number>((resolve) => socket.once('connect', () => resolve(socket.localPort!)));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      expect(await running.watch.verdict(port)).toMatchObject({ accepted: false, code: 'ERR_TLS_HANDSHAKE_TIMEOUT' });
      await closed;
    } finally {
      await running.close();
    }
  });
});

describe('applyServerTimeouts on a Node server', () => {
  let server: HttpServer;
  let port: number;

  beforeAll(async () => {
    server = createHttpServer((request, response) => {
      request.resume();
      request.on('end', () => response.end('ok'));
    });
    applyServerTimeouts(server, { headersTimeoutMs: 300, requestTimeoutMs: 600 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  // Sends `head`, then keeps trickling `drip` until the server closes the connection; returns what it answered.
  async function trickle(head: string, drip: string): Promise<string> {
    const socket = connectTcp(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.write(head);
    const timer = setInterval(() => socket.writable && socket.write(drip), 50);
    await new Promise((resolve) => socket.once('close', resolve));
    clearInterval(timer);
    return answer;
  }

  it('answers 408 and closes when the headers come too slowly', async () => {
    const answer = await trickle('GET / HTTP/1.1\r\nHost: localhost\r\n', 'X-Slow: 1\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('answers 408 and closes when the body comes too slowly', async () => {
    const answer = await trickle('POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n', 'x');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('still answers a prompt request', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/`);
    expect(await response.text()).toBe('ok');
  });
});
