import { createSecurityValidationPipe, InvalidInputError } from '@app/security';
import { describe, expect, it } from 'vitest';
import { PaymentDto } from './payment.dto.js';

// Through the pipe the app uses: no implicit conversion, unknown fields refused.
const pipe = createSecurityValidationPipe();
const validate = (body: unknown) => pipe.transform(body, { type: 'body', metatype: PaymentDto });
const VALID = { amount: 12.5, currency: 'EUR', reference: 'invoice 42' };

describe('PaymentDto', () => {
  it.each<[string, Record<string, unknown>]>([
    ['a plain payment', VALID],
    ['the smallest amount', { ...VALID, amount: 0.01 }],
    ['the largest amount', { ...VALID, amount: 1_000_000_000 }],
    ['two decimals near the top', { ...VALID, amount: 999_999_999.99 }],
    ['another currency', { ...VALID, currency: 'JPY' }],
    ['every reference character', { ...VALID, reference: 'Az09 _.-' }],
    ['a 64-character reference', { ...VALID, reference: 'r'.repeat(64) }],
  ])('accepts %s', async (_name, body) => {
    await expect(validate(body)).resolves.toBeInstanceOf(PaymentDto);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a zero amount', { ...VALID, amount: 0 }, 'amount'],
    ['a negative amount', { ...VALID, amount: -1 }, 'amount'],
    ['three decimals', { ...VALID, amount: 1.005 }, 'amount'],
    ['a tiny amount', { ...VALID, amount: 1e-7 }, 'amount'],
    ['an amount over 1e9', { ...VALID, amount: 1_000_000_000.01 }, 'amount'],
    ['an amount in a string', { ...VALID, amount: '12.50' }, 'amount'],
    ['a lower-case currency', { ...VALID, currency: 'eur' }, 'currency'],
    ['a made-up currency', { ...VALID, currency: 'ABC' }, 'currency'],
    ['a 4-letter currency', { ...VALID, currency: 'EURO' }, 'currency'],
    ['an empty reference', { ...VALID, reference: '' }, 'reference'],
    ['a 65-character reference', { ...VALID, reference: 'r'.repeat(65) }, 'reference'],
    ['a slash in the reference', { ...VALID, reference: 'a/b' }, 'reference'],
    ['a non-ASCII reference', { ...VALID, reference: 'café' }, 'reference'],
    ['a missing field', { amount: 1, currency: 'EUR' }, 'reference'],
    ['an unknown field', { ...VALID, payee: 'x' }, 'payee'],
  ])('refuses %s', async (_name, body, field) => {
    const error: unknown = await validate(body).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(new Set((error as InvalidInputError).invalidParams.map((param) => param.name))).toEqual(new Set([field]));
  });
});
