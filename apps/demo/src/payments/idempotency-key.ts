import { InvalidInputError, type HttpRequestLike } from '@app/security';

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

/** The request's `Idempotency-Key`, undefined without one; a malformed or repeated one is a 400. */
export function idempotencyKeyOf(request: HttpRequestLike): string | undefined {
  const node = (request.raw ?? request) as HttpRequestLike & { headersDistinct?: Record<string, string[]> };
  const values = node.headersDistinct?.['idempotency-key'];
  const value = request.headers['idempotency-key'];
  if (value === undefined) return undefined;
  if ((values && values.length > 1) || typeof value !== 'string' || !IDEMPOTENCY_KEY.test(value)) {
    throw new InvalidInputError([
      { name: 'Idempotency-Key', reason: 'must be one header of 1 to 255 printable ASCII characters' },
    ]);
  }
  return value;
}
