import { once } from 'node:events';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { buildSecurityHeaders } from '../../src/headers/security-headers.js';
import { resolveSecurityOptions } from '../../src/options/resolve-security-options.js';
import type { ResolvedSecurityHeadersOptions } from '../../src/options/security-options.js';
import { installHeaderLimit } from '../../src/validation/header-limit.js';
import { PRESET } from '../support/security-headers.js';

const plan = (headers = {}) =>
  buildSecurityHeaders(resolveSecurityOptions({ headers }, {}).headers as ResolvedSecurityHeadersOptions);

const OWN = ['connection', 'content-length', 'content-type', 'x-request-id'];

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

// Sends a header block over the 1 KB limit and returns the answer's headers.
async function oversized(port: number, tls = false): Promise<IncomingMessage> {
  const request = (tls ? httpsRequest : httpRequest)({
    host: '127.0.0.1',
    port,
    path: '/',
    headers: { 'x-padding': 'a'.repeat(4_000) },
    rejectUnauthorized: false,
  });
  request.end();
  const [response] = (await once(request, 'response')) as [IncomingMessage];
  response.resume();
  return response;
}

const securityHeadersOf = (response: IncomingMessage) =>
  Object.fromEntries(Object.entries(response.headers).filter(([name]) => !OWN.includes(name)));

/** The 431 the server writes itself, before any framework sees the request. */
describe('installHeaderLimit with the security header plan', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      server.close();
    }
  });
  const serve = (server: Server) => (servers.push(server), server);

  it('writes the preset on a 431 over plain HTTP, without HSTS', async () => {
    const server = serve(createHttpServer((_, response) => response.end('ok')));
    installHeaderLimit(server, 1024, 'urn:problem-type:', plan());
    const response = await oversized(await listen(server));
    expect(response.statusCode).toBe(431);
    expect(securityHeadersOf(response)).toEqual(PRESET);
  });

  it('adds HSTS on a TLS connection', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 });
    const server = serve(createHttpsServer({ key: pems.private, cert: pems.cert }, (_, response) => response.end()));
    installHeaderLimit(server as unknown as Server, 1024, 'urn:problem-type:', plan());
    const response = await oversized(await listen(server as unknown as Server), true);
    expect(response.statusCode).toBe(431);
    expect(securityHeadersOf(response)).toEqual({
      ...PRESET,
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
    });
  });

  it('follows the options, and keeps no-store without a plan or without Cache-Control in it', async () => {
    const custom = serve(createHttpServer((_, response) => response.end()));
    installHeaderLimit(custom, 1024, 'urn:problem-type:', plan({ frameOptions: 'SAMEORIGIN', cacheControl: false }));
    const customHeaders = securityHeadersOf(await oversized(await listen(custom)));
    expect(customHeaders).toEqual({ ...PRESET, 'x-frame-options': 'SAMEORIGIN' });
    const none = serve(createHttpServer((_, response) => response.end()));
    installHeaderLimit(none, 1024, 'urn:problem-type:');
    expect(securityHeadersOf(await oversized(await listen(none)))).toEqual({ 'cache-control': 'no-store' });
  });
});
