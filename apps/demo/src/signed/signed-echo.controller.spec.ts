import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signedEchoController } from './signed-echo.controller.js';

// The routing and the echo on both adapters, with the signature check stood in for (no SecurityModule
// here): a request "signed" here names its key in X-Test-Key. The signing e2e suite covers the real thing.
vi.mock('@app/security', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  signatureOf: (request: { headers: Record<string, string | undefined> }) =>
    request.headers['x-test-key']
      ? { scheme: 'rfc9421', accessKeyId: request.headers['x-test-key'], created: 0, covered: [] }
      : undefined,
}));

const sha256 = (body: string) => createHash('sha256').update(body).digest('hex');

describe.each(['express', 'fastify'] as const)('signed echo on %s', (adapter) => {
  let app: INestApplication;
  let baseUrl: string;

  beforeAll(async () => {
    @Module({ controllers: [signedEchoController(adapter)] })
    class EchoModule {}
    app = await NestFactory.create(EchoModule, adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter(), {
      rawBody: true,
      logger: false,
    });
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });

  afterAll(() => app?.close());

  it('answers any method on any sub-path with the path and query as received', async () => {
    for (const method of ['GET', 'DELETE', 'OPTIONS', 'PATCH']) {
      const response = await fetch(`${baseUrl}/signed/echo/a/b%20c?x=1&x=2`, {
        method,
        headers: { 'x-test-key': 'AKIDEXAMPLE' },
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        method,
        path: '/signed/echo/a/b%20c',
        query: 'x=1&x=2',
        bodySha256: sha256(''),
        accessKeyId: 'AKIDEXAMPLE',
        scheme: 'rfc9421',
      });
    }
  });

  it('keeps encoded slashes, dots and an empty query as sent', async () => {
    const response = await fetch(`${baseUrl}/signed/echo/%2F..%2Fx/%7Euser/?`, { headers: { 'x-test-key': 'K' } });
    expect(await response.json()).toMatchObject({ path: '/signed/echo/%2F..%2Fx/%7Euser/', query: '' });
  });

  it('hashes the exact bytes of a JSON body, not its parsed form', async () => {
    const body = '{ "b": 1,\n  "a": [2, 3] }';
    const response = await fetch(`${baseUrl}/signed/echo/payments`, {
      method: 'POST',
      headers: { 'x-test-key': 'K', 'content-type': 'application/json' },
      body,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ method: 'POST', bodySha256: sha256(body) });
  });

  it('answers HEAD without a body', async () => {
    const response = await fetch(`${baseUrl}/signed/echo/x?y`, { method: 'HEAD', headers: { 'x-test-key': 'K' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });

  it('answers an empty sub-path, but not the prefix alone', async () => {
    const response = await fetch(`${baseUrl}/signed/echo/`, { headers: { 'x-test-key': 'K' } });
    expect(await response.json()).toMatchObject({ path: '/signed/echo/', query: '' });
    expect((await fetch(`${baseUrl}/signed/echo`, { headers: { 'x-test-key': 'K' } })).status).toBe(404);
  });
});
