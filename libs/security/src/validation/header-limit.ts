import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SecurityHeaderPlan } from '../headers/security-headers.js';

const INSTALLED = new WeakSet<object>();

/**
 * Caps the request's header block at `maxBytes` on the Node server under either adapter, and answers a
 * block over it with a `431` problem (`Connection: close`) instead of the framework's own text. Node reads
 * `server.maxHeaderSize` for each new connection, so setting it at boot applies to every request. The
 * answer carries the security headers of `plan` (its default set: the path was never read; HSTS on a TLS
 * connection), as every other response does.
 */
export function installHeaderLimit(
  server: Server | undefined,
  maxBytes: number,
  typeBaseUri: string,
  plan: SecurityHeaderPlan | null = null,
): void {
  if (!server || INSTALLED.has(server)) return;
  INSTALLED.add(server);
  const securityHeaders = securityHeaderLines(plan);
  (server as Server & { maxHeaderSize?: number }).maxHeaderSize = maxBytes;
  // Ours answers an oversized header block; any other client error goes to the listeners already there
  // (Fastify's), which would otherwise write their own 431 over ours.
  const others = server.listeners('clientError') as Array<(error: Error, socket: Duplex) => void>;
  server.removeAllListeners('clientError');
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code !== 'HPE_HEADER_OVERFLOW') {
      if (others.length === 0) answerLikeNode(error, socket);
      for (const listener of others) listener.call(server, error, socket);
      return;
    }
    if (!socket.writable) return void socket.destroy();
    const requestId = randomUUID();
    const body = JSON.stringify({
      type: `${typeBaseUri}header-fields-too-large`,
      title: 'Request Header Fields Too Large',
      status: 431,
      detail: 'The request headers are larger than this server accepts.',
      request_id: requestId,
    });
    socket.end(
      'HTTP/1.1 431 Request Header Fields Too Large\r\n' +
        'Content-Type: application/problem+json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        ((socket as Duplex & { encrypted?: boolean }).encrypted === true
          ? securityHeaders.secure
          : securityHeaders.plain) +
        `X-Request-Id: ${requestId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
      () => socket.destroy(),
    );
  });
}

// The plan's lines, built once at boot. Without a `Cache-Control` in the plan (`cacheControl: false`, or no
// plan) the answer still says `no-store`: nothing may cache an error about this client's own request.
function securityHeaderLines(plan: SecurityHeaderPlan | null): { plain: string; secure: string } {
  const headers = (plan?.headers ?? []).filter((header) => header.value !== null);
  if (!headers.some((header) => header.name.toLowerCase() === 'cache-control')) {
    headers.push({ name: 'Cache-Control', value: 'no-store' });
  }
  const plain = headers.map((header) => `${header.name}: ${header.value}\r\n`).join('');
  return { plain, secure: plan?.hsts ? `${plain}${plan.hsts.name}: ${plan.hsts.value}\r\n` : plain };
}

// What Node does with a client error when nobody listens: 408 for a timeout, 400 otherwise, then close.
// Like Node, it writes only where no response has started and then destroys the socket at once: on an HTTPS
// server a handshake that never finished is a client error too, and a write there would wait forever.
function answerLikeNode(error: NodeJS.ErrnoException, socket: Duplex): void {
  const http = socket as Duplex & { parser?: unknown; _httpMessage?: { headersSent?: boolean } };
  const answerable = socket.writable && http.parser !== undefined && !http._httpMessage?.headersSent;
  if (error.code !== 'ECONNRESET' && answerable) {
    const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  }
  socket.destroy();
}
