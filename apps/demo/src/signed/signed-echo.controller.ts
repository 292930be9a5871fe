import { createHash } from 'node:crypto';
import { All, Controller, HttpCode, Req, type Type } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Signed, rawBodyOf, signatureOf, type HttpRequestLike } from '@app/security';

/** What `/signed/echo/*` answers: the request as its signature covered it. */
export interface SignedEcho {
  readonly method: string;
  /** The path as received, percent-encoding untouched. */
  readonly path: string;
  /** The query as received, without `?`; `''` when none. */
  readonly query: string;
  /** Hex SHA-256 of the exact body bytes (of nothing, without a body). */
  readonly bodySha256: string;
  readonly accessKeyId: string;
  readonly scheme: 'hmac-sha256' | 'aws4-hmac-sha256' | 'rfc9421';
}

/**
 * The signed echo controller for one adapter. Nest hands route paths to each router as written, and
 * the two read wildcards differently: Express 5 (path-to-regexp 8) needs a named one and refuses a bare
 * `*` (Nest rewrites it, with a warning), Fastify (find-my-way) takes only a bare trailing `*`. Both
 * paths match `/signed/echo/` and anything below it, not `/signed/echo`.
 */
export function signedEchoController(adapter: 'express' | 'fastify'): Type {
  /** A signed echo for client authors: any method, sub-path and content type; the body is taken raw. */
  @ApiTags('signing')
  @ApiSecurity('Signature')
  @Controller('signed/echo')
  class SignedEchoController {
    @All(adapter === 'express' ? '{*path}' : '*')
    @Signed()
    @HttpCode(200)
    @ApiOperation({ summary: 'What a signed request was: method, raw path and query, body hash, key and scheme' })
    echo(@Req() request: HttpRequestLike): SignedEcho {
      return echoOf(request);
    }
  }
  return SignedEchoController;
}

/** The echo of a request that `@Signed()` let through. */
export function echoOf(request: HttpRequestLike): SignedEcho {
  const signature = signatureOf(request);
  const body = rawBodyOf(request);
  // @Signed() lets no request through without both; this guards against the route losing it.
  if (!signature || !body) throw new Error('signed/echo reached without a verified signature over the body');
  // Not `request.url`: Express may rewrite it, and `path` must be the bytes the client signed.
  const target = request.originalUrl ?? request.raw?.url ?? request.url ?? '/';
  const mark = target.indexOf('?');
  return {
    method: request.method ?? 'GET',
    path: mark === -1 ? target : target.slice(0, mark),
    query: mark === -1 ? '' : target.slice(mark + 1),
    bodySha256: createHash('sha256').update(body).digest('hex'),
    accessKeyId: signature.accessKeyId,
    scheme: signature.scheme,
  };
}
