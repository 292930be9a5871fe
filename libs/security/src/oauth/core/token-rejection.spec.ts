import { errors } from 'jose';
import { joseRejectionOf } from './token-rejection.js';

describe('joseRejectionOf', () => {
  const claimsSet = {};

  it.each<[string, unknown, ReturnType<typeof joseRejectionOf>]>([
    ['JWTExpired', new errors.JWTExpired('x', claimsSet, 'exp', 'check_failed'), { reason: 'expired', claim: 'exp' }],
    [
      'nbf in the future',
      new errors.JWTClaimValidationFailed('x', claimsSet, 'nbf', 'check_failed'),
      { reason: 'not_yet_valid', claim: 'nbf' },
    ],
    [
      'nbf not a number',
      new errors.JWTClaimValidationFailed('x', claimsSet, 'nbf', 'invalid'),
      { reason: 'malformed', claim: 'nbf' },
    ],
    [
      'wrong iss',
      new errors.JWTClaimValidationFailed('x', claimsSet, 'iss', 'check_failed'),
      { reason: 'bad_issuer', claim: 'iss' },
    ],
    [
      'missing iss',
      new errors.JWTClaimValidationFailed('x', claimsSet, 'iss', 'missing'),
      { reason: 'bad_issuer', claim: 'iss' },
    ],
    [
      'wrong aud',
      new errors.JWTClaimValidationFailed('x', claimsSet, 'aud', 'check_failed'),
      { reason: 'bad_audience', claim: 'aud' },
    ],
    [
      'wrong typ',
      new errors.JWTClaimValidationFailed('x', claimsSet, 'typ', 'check_failed'),
      { reason: 'bad_typ', claim: 'typ' },
    ],
    [
      'missing sub',
      new errors.JWTClaimValidationFailed('x', claimsSet, 'sub', 'missing'),
      { reason: 'malformed', claim: 'sub' },
    ],
    ['alg not allowed', new errors.JOSEAlgNotAllowed('x'), { reason: 'bad_alg' }],
    ['alg not supported', new errors.JOSENotSupported('x'), { reason: 'bad_alg' }],
    ['no matching key', new errors.JWKSNoMatchingKey(), { reason: 'unknown_kid' }],
    ['several matching keys', new errors.JWKSMultipleMatchingKeys(), { reason: 'unknown_kid' }],
    ['bad signature', new errors.JWSSignatureVerificationFailed(), { reason: 'bad_signature' }],
    ['invalid JWS', new errors.JWSInvalid('x'), { reason: 'malformed' }],
    ['invalid JWT', new errors.JWTInvalid('x'), { reason: 'malformed' }],
  ])('maps %s', (_label, error, expected) => {
    expect(joseRejectionOf(error)).toEqual(expected);
  });

  it.each<[string, unknown]>([
    ['a JWKS timeout', new errors.JWKSTimeout()],
    ['an invalid JWKS', new errors.JWKSInvalid('x')],
    ['a generic jose error (HTTP status of the JWKS)', new errors.JOSEError('x')],
    ['a fetch failure', new TypeError('fetch failed')],
    ['a non-error', 'oops'],
  ])('says nothing about the token for %s', (_label, error) => {
    expect(joseRejectionOf(error)).toBeUndefined();
  });
});
