import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { connect, type ConnectionOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { collectResponse, type WireRequest, type WireResponse } from './signing.js';

/** A certificate and its key, in PEM. */
export interface TestCertificate {
  readonly cert: string;
  readonly key: string;
}

/** A self-signed certificate for `localhost` and `127.0.0.1`, with an RSA or an ECDSA (P-256) key. */
export async function testCertificate(keyType: 'rsa' | 'ec' = 'rsa'): Promise<TestCertificate> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** What the server saw of one connection: the negotiated protocol and suite, or its `tlsClientError`. */
export type ServerVerdict =
  | { readonly accepted: true; readonly protocol: string; readonly cipher: string }
  | { readonly accepted: false; readonly code: string; readonly message: string };

/** A handshake as both ends saw it. The server's verdict is the one tests judge. */
export interface HandshakeResult {
  readonly server: ServerVerdict;
  /** `ok`, or the client's error code (a client refusing on its own shows up here, not as the server's refusal). */
  readonly client: string;
}

/**
 * Records, per client port, what a TLS server made of each connection: `secureConnection` (accepted) or
 * `tlsClientError` (refused, with OpenSSL's reason). Tests judge the server's side, so a client that refuses
 * for its own reasons cannot pass for a server refusal.
 */
export class TlsServerWatch {
  private readonly verdicts = new Map<number, ServerVerdict>();
  private readonly waiters = new Map<number, (verdict: ServerVerdict) => void>();
  private readonly onSecure = (socket: TLSSocket) => {
    const cipher = socket.getCipher();
    this.record(clientPort(socket), { accepted: true, protocol: String(socket.getProtocol()), cipher: cipher.name });
  };
  private readonly onError = (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    this.record(clientPort(socket), { accepted: false, code: String(error.code), message: error.message });
  };
  // Node caches a socket's peer address once read: reading it now keeps it readable after a failed handshake
  // has destroyed the socket.
  private readonly onConnection = (raw: Socket) => void raw.remotePort;

  constructor(private readonly server: TlsServer) {
    server.on('connection', this.onConnection);
    server.on('secureConnection', this.onSecure);
    server.on('tlsClientError', this.onError);
  }

  /** The server's verdict on the connection from this client port, once it has one. */
  verdict(clientPort: number): Promise<ServerVerdict> {
    const known = this.verdicts.get(clientPort);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => this.waiters.set(clientPort, resolve));
  }

  /** Connects with these client options, waits until both ends have decided, and closes the connection. */
  async handshake(port: number, options: ConnectionOptions): Promise<HandshakeResult> {
    const socket = connect({ host: '127.0.0.1', port, ...options });
    const localPort = await new Promise<number>((resolve, reject) => {
      socket.once('connect', () => resolve(socket.localPort!));
      socket.once('error', reject);
    });
    const client = await new Promise<string>((resolve) => {
      if (socket.destroyed) return resolve('closed');
      socket.once('secureConnect', () => resolve('ok'));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(String(error.code)));
      socket.once('close', () => resolve('closed'));
    });
    // Closed only once the server has decided: in TLS 1.3 the client is done before the server has read its
    // Finished message, and an early close would look like a failed handshake.
    const server = await this.verdict(localPort);
    socket.destroy();
    return { client, server };
  }

  dispose(): void {
    this.server.off('connection', this.onConnection);
    this.server.off('secureConnection', this.onSecure);
    this.server.off('tlsClientError', this.onError);
  }

  private record(port: number | undefined, verdict: ServerVerdict): void {
    if (port === undefined) return;
    this.verdicts.set(port, verdict);
    this.waiters.get(port)?.(verdict);
    this.waiters.delete(port);
  }
}

// A TLS socket destroyed by a failed handshake no longer knows its peer; the TCP socket under it (which
// Node keeps as `_parent`) does, once `onConnection` has read it.
function clientPort(socket: TLSSocket): number | undefined {
  return socket.remotePort ?? (socket as TLSSocket & { _parent?: Socket })._parent?.remotePort;
}

/** Sends a request over HTTPS, trusting only `ca`, with exactly the given method, target and headers. */
export function sendTls(baseUrl: string, ca: string, request: WireRequest): Promise<WireResponse> {
  const url = new URL(baseUrl);
  const headers = { ...request.headers };
  if (request.body !== undefined) headers['content-length'] = String(request.body.length);
  return new Promise((resolve, reject) => {
    const outgoing = httpsRequest(
      { host: url.hostname, port: url.port, method: request.method, path: request.target, headers, ca, agent: false },
      (response) => collectResponse(response).then(resolve, reject),
    );
    outgoing.once('error', reject);
    outgoing.end(request.body);
  });
}
