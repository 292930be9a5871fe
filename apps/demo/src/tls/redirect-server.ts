import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * Where a plain-HTTP request is sent: the configured HTTPS origin plus the request's path and query.
 * The host always comes from configuration: the request's `Host` (or an absolute-form target such as
 * `GET http://evil.example/ HTTP/1.1`) is never used, so the listener cannot be made an open redirect.
 * @example redirectLocation('https://api.example.com', '/v1/items?page=2') // 'https://api.example.com/v1/items?page=2'
 */
export function redirectLocation(publicOrigin: string, target: string | undefined): string {
  const origin = new URL(publicOrigin).origin;
  let path = '/';
  if (target?.startsWith('/')) {
    // Parsed under a fixed base so that `//evil.example/x` stays a path and odd bytes are percent-encoded.
    const url = new URL(`http://redirect.invalid${target}`);
    path = url.pathname + url.search;
  } else if (target !== undefined && /^https?:\/\//i.test(target)) {
    const url = URL.canParse(target) ? new URL(target) : undefined;
    if (url) path = url.pathname + url.search;
  }
  return origin + path;
}

/**
 * A plain-HTTP server that answers every request with a redirect to `publicOrigin`: `301` for GET and HEAD,
 * `308` for other methods (which keeps the method and body; a 301 lets clients turn a POST into a GET).
 * It reads nothing else from the request and closes the connection after answering.
 */
export function createRedirectServer(publicOrigin: string): Server {
  const origin = new URL(publicOrigin).origin;
  return createServer((request: IncomingMessage, response: ServerResponse) => {
    const method = request.method ?? 'GET';
    response.writeHead(method === 'GET' || method === 'HEAD' ? 301 : 308, {
      Location: redirectLocation(origin, request.url),
      'Content-Length': '0',
      Connection: 'close',
    });
    response.end();
  });
}
