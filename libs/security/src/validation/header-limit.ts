import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

const INSTALLED = new WeakSet<object>();

/**
 * Caps the request's header block at `maxBytes` on the Node server under either adapter, and answers a
 * block over it with a `431` problem (`Connection: close`) instead of the framework's own text. Node reads
 * `server.maxHeaderSize` for each new connection, so setting it at boot applies to every request.
 */
export function installHeaderLimit(server: Server | undefined, maxBytes: number, typeBaseUri: string): void {
  if (!server || INSTALLED.has(server)) return;
  INSTALLED.add(server);
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
        'Cache-Control: no-store\r\n' +
        `X-Request-Id: ${requestId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
      () => socket.destroy(),
    );
  });
}

// What Node does with a client error when nobody listens: 408 for a timeout, 400 otherwise, then close.
function answerLikeNode(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`, () => socket.destroy());
}
