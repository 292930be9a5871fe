import { checkContentDigest, contentDigest } from './content-digest.js';

// Published values: RFC 9530 (Appendix B and Section 2) and RFC 9421's test-request.
const HELLO = Buffer.from('{"hello": "world"}', 'utf8');
const HELLO_SHA256 = 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:';
const HELLO_SHA512 =
  'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:';
const HELLO_NEWLINE_SHA512 =
  'sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7yZ/WkppmM44T3qg==:';
const EMPTY_SHA256 = 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:';

describe('contentDigest', () => {
  it('computes the RFC 9530 example values', () => {
    expect(contentDigest(HELLO)).toBe(HELLO_SHA256);
    expect(contentDigest('{"hello": "world"}', ['sha-512'])).toBe(HELLO_SHA512);
    expect(contentDigest('{"hello": "world"}\n', ['sha-512'])).toBe(HELLO_NEWLINE_SHA512);
    expect(contentDigest(Buffer.alloc(0))).toBe(EMPTY_SHA256);
    expect(contentDigest(HELLO, ['sha-256', 'sha-512'])).toBe(`${HELLO_SHA256}, ${HELLO_SHA512}`);
  });
});

describe('checkContentDigest', () => {
  it('matches the published digests of the body', () => {
    expect(checkContentDigest(HELLO_SHA256, HELLO)).toBe('match');
    expect(checkContentDigest(HELLO_SHA512, HELLO)).toBe('match');
    expect(checkContentDigest(`${HELLO_SHA256}, ${HELLO_SHA512}`, HELLO)).toBe('match');
    expect(checkContentDigest(EMPTY_SHA256, Buffer.alloc(0))).toBe('match');
  });

  it('is a mismatch when any supported digest differs', () => {
    expect(checkContentDigest(HELLO_SHA256, Buffer.from('{"hello": "World"}'))).toBe('mismatch');
    expect(checkContentDigest(`${HELLO_SHA256}, ${HELLO_NEWLINE_SHA512}`, HELLO)).toBe('mismatch');
  });

  it('ignores unknown algorithms, and says when nothing could be checked', () => {
    expect(checkContentDigest(`md5=:AAAA:, ${HELLO_SHA256}`, HELLO)).toBe('match');
    expect(checkContentDigest('md5=:AAAA:', HELLO)).toBe('unsupported');
  });

  it('refuses what is not a dictionary of byte sequences', () => {
    expect(checkContentDigest('sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=', HELLO)).toBe('malformed');
    expect(checkContentDigest('sha-256="abc"', HELLO)).toBe('malformed');
    expect(checkContentDigest('SHA-256=:AAAA:', HELLO)).toBe('malformed');
  });
});
