import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRedirectServer, redirectLocation } from './redirect-server.js';

const ORIGIN = 'https://api.example.com';

describe('redirectLocation', () => {
  it('keeps the path and query of an origin-form target', () => {
    expect(redirectLocation(ORIGIN, '/v1/items?page=2&q=a%20b')).toBe(`${ORIGIN}/v1/items?page=2&q=a%20b`);
    expect(redirectLocation(ORIGIN, '/')).toBe(`${ORIGIN}/`);
    expect(redirectLocation('https://api.example.com:8443/', '/me')).toBe('https://api.example.com:8443/me');
  });

  it('never lets the target choose the host', () => {
    const cases: Array<[string | undefined, string]> = [
      ['//evil.example/x', '//evil.example/x'],
      ['/\\evil.example/x', '//evil.example/x'],
      ['http://evil.example/me?x=1', '/me?x=1'],
      ['HTTPS://evil.example', '/'],
      ['evil.example:443', '/'],
      ['*', '/'],
      ['@evil.example', '/'],
      [undefined, '/'],
    ];
    for (const [target, path] of cases) {
      const location = redirectLocation(ORIGIN, target);
      expect(location, String(target)).toBe(`${ORIGIN}${path}`);
      expect(new URL(location).origin, String(target)).toBe(ORIGIN);
    }
  });

  it('percent-encodes what a header must not carry', () => {
    expect(redirectLocation(ORIGIN, '/caf\u00e9 x?a=\u00e9')).toBe(`${ORIGIN}/caf%C3%A9%20x?a=%C3%A9`);
  });
});

describe('createRedirectServer', () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createRedirectServer(`${ORIGIN}:8443`);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function call(method: string, path: string, headers: Record<string, string> = {}) {
    return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const outgoing = request({ host: '127.0.0.1', port, method, path, headers }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
      });
      outgoing.once('error', reject);
      outgoing.end(method === 'POST' ? '{"a":1}' : undefined);
    });
  }

  it('answers GET and HEAD with 301 to the configured origin, whatever the Host header says', async () => {
    for (const method of ['GET', 'HEAD']) {
      const response = await call(method, '/health?x=1', { host: 'evil.example' });
      expect(response.status).toBe(301);
      expect(response.headers.location).toBe(`${ORIGIN}:8443/health?x=1`);
      expect(response.headers.connection).toBe('close');
      expect(response.body).toBe('');
    }
  });

  it('answers other methods with 308, so that clients keep the method and body', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const response = await call(method, '/documents/1', { host: 'evil.example' });
      expect(response.status, method).toBe(308);
      expect(response.headers.location, method).toBe(`${ORIGIN}:8443/documents/1`);
    }
  });
});
