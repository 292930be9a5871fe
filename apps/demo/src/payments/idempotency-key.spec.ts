import { InvalidInputError, type HttpRequestLike } from '@app/security';
import { describe, expect, it } from 'vitest';
import { idempotencyKeyOf } from './idempotency-key.js';

// Node's request: joined headers, and each field line in `headersDistinct`.
const request = (...keys: string[]): HttpRequestLike & { headersDistinct: Record<string, string[]> } => ({
  headers: keys.length ? { 'idempotency-key': keys.join(', ') } : {},
  headersDistinct: keys.length ? { 'idempotency-key': keys } : {},
});

describe('idempotencyKeyOf', () => {
  it('is undefined without the header', () => {
    expect(idempotencyKeyOf(request())).toBeUndefined();
  });

  it.each(['k', 'a'.repeat(255), ' !"#$%&\'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~', '8e0f9b5c-3a7e-4b1d-9c2f-1a2b3c4d5e6f'])(
    'takes %j as it is',
    (key) => {
      expect(idempotencyKeyOf(request(key))).toBe(key);
    },
  );

  it('reads the field lines of a Fastify request from its raw request', () => {
    const raw = request('one', 'two');
    expect(() => idempotencyKeyOf({ headers: raw.headers, raw })).toThrow(InvalidInputError);
  });

  it.each<[string, HttpRequestLike]>([
    ['empty', request('')],
    ['over 255 characters', request('a'.repeat(256))],
    ['a tab', request('a\tb')],
    ['non-ASCII', request('clé')],
    ['sent twice', request('one', 'two')],
    ['sent twice alike', request('same', 'same')],
  ])('refuses a key that is %s with a 400 naming the header', (_name, input) => {
    expect(() => idempotencyKeyOf(input)).toThrow(
      expect.objectContaining({ invalidParams: [expect.objectContaining({ name: 'Idempotency-Key' })] }),
    );
  });
});
