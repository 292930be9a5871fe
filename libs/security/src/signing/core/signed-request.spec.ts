import { detectSignatureScheme, parseSignedRequest, SignatureVerificationError } from './signed-request.js';

const OPTIONS = { sigv4: { region: 'us-east-1', service: 'demo' } };
const SIGV4_AUTH =
  'AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/demo/aws4_request, SignedHeaders=host;x-amz-date, Signature=' +
  '0'.repeat(64);

describe('detectSignatureScheme', () => {
  it('finds each scheme by its headers', () => {
    expect(detectSignatureScheme({ 'x-signature': 'ab' })).toBe('hmac-sha256');
    expect(detectSignatureScheme({ authorization: SIGV4_AUTH })).toBe('aws4-hmac-sha256');
    expect(detectSignatureScheme({ 'signature-input': 'sig1=()' })).toBe('rfc9421');
    expect(detectSignatureScheme({ signature: 'sig1=:AA==:' })).toBe('rfc9421');
  });

  it('is undefined for unsigned requests and other Authorization schemes', () => {
    expect(detectSignatureScheme({})).toBeUndefined();
    expect(detectSignatureScheme({ authorization: 'Bearer abc', 'x-api-key': 'sk_live_x' })).toBeUndefined();
  });

  it('recognises a SigV4 presigned URL from the query, so that it is refused clearly', () => {
    expect(detectSignatureScheme({}, 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00')).toBe('aws4-hmac-sha256');
    expect(() =>
      parseSignedRequest(
        {
          method: 'GET',
          path: '/',
          query: 'X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fdemo%2Faws4_request&X-Amz-Signature=00',
          headers: { host: 'example.com' },
          body: Buffer.alloc(0),
        },
        OPTIONS,
      ),
    ).toThrow(/presigned SigV4 URLs/);
  });

  it('throws ambiguous for two schemes at once', () => {
    expect(() => detectSignatureScheme({ 'x-signature': 'ab', 'signature-input': 'sig1=()' })).toThrow(
      expect.objectContaining({ reason: 'ambiguous' }),
    );
    expect(() => detectSignatureScheme({ authorization: SIGV4_AUTH, signature: 'sig1=:AA==:' })).toThrow(
      SignatureVerificationError,
    );
  });
});

describe('parseSignedRequest', () => {
  it('refuses an unsigned request', () => {
    expect(() =>
      parseSignedRequest({ method: 'GET', path: '/', query: '', headers: {}, body: Buffer.alloc(0) }, OPTIONS),
    ).toThrow(expect.objectContaining({ reason: 'missing_header' }));
  });

  it('dispatches to the scheme of the headers', () => {
    const input = { method: 'GET', path: '/', query: '', body: Buffer.alloc(0) };
    const sigv4 = { host: 'example.com', 'x-amz-date': '20150830T123600Z', authorization: SIGV4_AUTH };
    expect(parseSignedRequest({ ...input, headers: sigv4 }, OPTIONS).scheme).toBe('aws4-hmac-sha256');
    expect(() => parseSignedRequest({ ...input, headers: { 'x-signature': 'ab' } }, OPTIONS)).toThrow(
      expect.objectContaining({ reason: 'missing_header' }),
    );
    expect(() => parseSignedRequest({ ...input, headers: { 'signature-input': 'sig1=()' } }, OPTIONS)).toThrow(
      expect.objectContaining({ reason: 'missing_header' }),
    );
  });
});
