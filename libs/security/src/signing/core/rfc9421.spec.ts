import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import {
  parseRfc9421,
  parseRfc9421Signatures,
  rfc9421SignatureBase,
  rfc9421VerifySignature,
  type Rfc9421Message,
} from './rfc9421.js';
import { SignatureVerificationError, type SignedRequestInput } from './signed-request.types.js';

// RFC 9421 Appendix B: the test request (B.2), the shared secret (B.1.5) and the Ed25519 key (B.1.4).
const TEST_REQUEST = {
  method: 'POST',
  path: '/foo',
  query: 'param=Value&Pet=dog',
  headers: {
    host: 'example.com',
    date: 'Tue, 20 Apr 2021 02:07:55 GMT',
    'content-type': 'application/json',
    'content-digest':
      'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
    'content-length': '18',
  },
  body: Buffer.from('{"hello": "world"}', 'utf8'),
};
const SHARED_SECRET = Buffer.from(
  'uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==',
  'base64',
);
const ED25519_PUBLIC = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----`;
const ED25519_PRIVATE = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----`;
const OPTIONS = { sigv4: { region: 'us-east-1', service: 'demo' } };

function signedWith(input: string, signature: string, message: Rfc9421Message = TEST_REQUEST) {
  const headers = { ...message.headers, 'signature-input': input, signature };
  const [entry] = parseRfc9421Signatures(headers);
  return { headers, entry: entry!, base: rfc9421SignatureBase({ ...message, headers }, entry!.input) };
}

describe('RFC 9421 B.2.5: hmac-sha256', () => {
  const { entry, base } = signedWith(
    'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
    'sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:',
  );

  it('builds the exact signature base', () => {
    expect(base).toBe(
      '"date": Tue, 20 Apr 2021 02:07:55 GMT\n' +
        '"@authority": example.com\n' +
        '"content-type": application/json\n' +
        '"@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
    );
  });

  it('reproduces and verifies the published signature', () => {
    expect(createHmac('sha256', SHARED_SECRET).update(base).digest('base64')).toBe(
      'pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=',
    );
    expect(rfc9421VerifySignature(base, entry.signature, { algorithm: 'hmac-sha256', secret: SHARED_SECRET })).toBe(
      true,
    );
    expect(rfc9421VerifySignature(base, entry.signature, { algorithm: 'hmac-sha256', secret: Buffer.from('x') })).toBe(
      false,
    );
  });

  it('is refused by the request policy, which needs @method, the path and the body digest covered', () => {
    const headers = {
      ...TEST_REQUEST.headers,
      'signature-input': 'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
      signature: 'sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:',
    };
    expect(() => parseRfc9421({ ...TEST_REQUEST, headers }, OPTIONS)).toThrow(
      expect.objectContaining({ reason: 'header_not_signed' }),
    );
  });
});

describe('RFC 9421 B.2.6: ed25519', () => {
  const { entry, base } = signedWith(
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
    'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:',
  );

  it('builds the exact signature base', () => {
    expect(base).toBe(
      '"date": Tue, 20 Apr 2021 02:07:55 GMT\n' +
        '"@method": POST\n' +
        '"@path": /foo\n' +
        '"@authority": example.com\n' +
        '"content-type": application/json\n' +
        '"content-length": 18\n' +
        '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
    );
  });

  it('reproduces (Ed25519 is deterministic) and verifies the published signature', () => {
    expect(sign(null, Buffer.from(base), createPrivateKey(ED25519_PRIVATE)).toString('base64')).toBe(
      'wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==',
    );
    const material = { algorithm: 'ed25519', publicKey: createPublicKey(ED25519_PUBLIC) } as const;
    expect(rfc9421VerifySignature(base, entry.signature, material)).toBe(true);
    expect(rfc9421VerifySignature(base.replace('POST', 'PUT'), entry.signature, material)).toBe(false);
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(rfc9421VerifySignature(base, entry.signature, { algorithm: 'ed25519', publicKey: other })).toBe(false);
  });

  it('never verifies an ed25519 signature as HMAC, or with a key of another type', () => {
    expect(rfc9421VerifySignature(base, entry.signature, { algorithm: 'hmac-sha256', secret: SHARED_SECRET })).toBe(
      false,
    );
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(rfc9421VerifySignature(base, entry.signature, { algorithm: 'ed25519', publicKey: rsa })).toBe(false);
  });
});

describe('RFC 9421 signature bases of B.2.2 and B.2.3', () => {
  it('covers content-digest and @query-param (B.2.2)', () => {
    const { base } = signedWith(
      'sig-b22=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example"',
      'sig-b22=:AA==:',
    );
    expect(base).toBe(
      '"@authority": example.com\n' +
        '"content-digest": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:\n' +
        '"@query-param";name="Pet": dog\n' +
        '"@signature-params": ("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example"',
    );
  });

  it('covers the whole request (B.2.3)', () => {
    const { base } = signedWith(
      'sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"',
      'sig-b23=:AA==:',
    );
    expect(base).toBe(
      '"date": Tue, 20 Apr 2021 02:07:55 GMT\n' +
        '"@method": POST\n' +
        '"@path": /foo\n' +
        '"@query": ?param=Value&Pet=dog\n' +
        '"@authority": example.com\n' +
        '"content-type": application/json\n' +
        '"content-digest": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:\n' +
        '"content-length": 18\n' +
        '"@signature-params": ("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"',
    );
  });
});

describe('RFC 9421 B.4: transformations', () => {
  const material = { algorithm: 'ed25519', publicKey: createPublicKey(ED25519_PUBLIC) } as const;
  const signature = {
    'signature-input':
      'transform=("@method" "@path" "@authority" "accept");created=1618884473;keyid="test-key-ed25519"',
    signature: 'transform=:ZT1kooQsEHpZ0I1IjCqtQppOmIqlJPeo7DHR3SoMn0s5JZ1eRGS0A+vyYP9t/LXlh5QMFFQ6cpLt2m0pmj3NDA==:',
  };
  const verifies = (method: string, host: string, accept: string | string[], extra: Record<string, string> = {}) => {
    const message = { method, path: '/demo', query: 'name1=Value1&Name2=value2', headers: { host, accept, ...extra } };
    const { entry, base } = signedWith(signature['signature-input'], signature.signature, message);
    return rfc9421VerifySignature(base, entry.signature, material);
  };

  it('verifies the original and the allowed transformations', () => {
    expect(verifies('GET', 'example.org', ['application/json', '*/*'])).toBe(true);
    expect(
      verifies('GET', 'example.org', 'application/json, */*', { referer: 'https://developer.example.org/demo' }),
    ).toBe(true);
  });

  it('refuses a changed method and authority, and swapped Accept lines', () => {
    expect(verifies('POST', 'example.com', ['application/json', '*/*'])).toBe(false);
    expect(verifies('GET', 'example.org', ['*/*', 'application/json'])).toBe(false);
  });
});

describe('rfc9421SignatureBase components', () => {
  const message = {
    method: 'GET',
    path: '/parameters',
    query: 'var=this%20is%20a%20big%0Amultiline%20value&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something',
    headers: { host: 'WWW.Example.com:443', 'example-dict': ' a=1,    b=2;x=1;y=2, c=(a   b   c)' },
    scheme: 'https',
  };
  const line = (component: string, m: Rfc9421Message = message) =>
    signedWith(`s=(${component});created=1;keyid="k"`, 's=:AA==:', m).base.split('\n')[0];

  it('re-encodes query parameters as RFC 9421 §2.2.8 shows', () => {
    expect(line('"@query-param";name="var"')).toBe(
      '"@query-param";name="var": this%20is%20a%20big%0Amultiline%20value',
    );
    expect(line('"@query-param";name="bar"')).toBe('"@query-param";name="bar": with%20plus%20whitespace');
    expect(line('"@query-param";name="fa%C3%A7ade%22%3A%20"')).toBe(
      '"@query-param";name="fa%C3%A7ade%22%3A%20": something',
    );
  });

  it('derives the URI components, the authority normalised', () => {
    expect(line('"@authority"')).toBe('"@authority": www.example.com');
    expect(line('"@scheme"')).toBe('"@scheme": https');
    expect(line('"@target-uri"')).toBe(`"@target-uri": https://www.example.com/parameters?${message.query}`);
    expect(line('"@request-target"')).toBe(`"@request-target": /parameters?${message.query}`);
    expect(line('"@query"', { ...message, query: '' })).toBe('"@query": ?');
    expect(line('"@path"', { ...message, path: '' })).toBe('"@path": /');
  });

  it('supports the key, sf and bs field parameters (RFC 9421 §2.1)', () => {
    const digest = { ...message, headers: { ...message.headers, 'content-digest': 'sha-256=:AAAA:,  sha-512=:BBBB:' } };
    expect(line('"content-digest";key="sha-512"', digest)).toBe('"content-digest";key="sha-512": :BBBB:');
    expect(line('"content-digest";sf', digest)).toBe('"content-digest";sf: sha-256=:AAAA:, sha-512=:BBBB:');
    expect(line('"example-dict";bs')).toBe('"example-dict";bs: :YT0xLCAgICBiPTI7eD0xO3k9MiwgYz0oYSAgIGIgICBjKQ==:');
    expect(line('"example-dict"')).toBe('"example-dict": a=1,    b=2;x=1;y=2, c=(a   b   c)');
  });

  it.each([
    ['"@signature-params"', 'malformed'],
    ['"@unknown"', 'malformed'],
    ['"@method";req', 'malformed'],
    ['"host";tr', 'malformed'],
    ['"Host"', 'malformed'],
    ['"example-dict";sf', 'malformed'],
    ['"@query-param"', 'malformed'],
    ['"@query-param";name="missing"', 'missing_header'],
    ['"@status"', 'malformed'],
    ['"x-missing"', 'missing_header'],
    ['"host" "host"', 'malformed'],
    ['host', 'malformed'],
  ])('refuses %s', (component, reason) => {
    expect(() => line(component)).toThrow(expect.objectContaining({ reason }));
  });

  it('refuses a query parameter that is repeated', () => {
    expect(() => line('"@query-param";name="a"', { ...message, query: 'a=1&a=2' })).toThrow(
      expect.objectContaining({ reason: 'malformed' }),
    );
  });
});

describe('parseRfc9421 (request policy)', () => {
  const SECRET = Buffer.from('a-secret-of-forty-characters-0123456789a', 'utf8');
  const body = Buffer.from('{"amount":100}', 'utf8');
  const DIGEST = 'sha-256=:TUu+Wcaq0iRCzeGZpqil8DRAX814+1qBwk7ySd4cRfE=:';
  const FULL = '("@method" "@authority" "@path" "@query" "content-digest");created=1700000000;keyid="NAS1";nonce="n-1"';

  function request(
    params = FULL,
    changes: Partial<SignedRequestInput> = {},
    extraHeaders: Record<string, string> = {},
  ) {
    const base: SignedRequestInput = {
      method: 'POST',
      path: '/payments',
      query: 'x=1',
      headers: { host: 'api.example.com', 'content-digest': DIGEST, 'signature-input': `sig1=${params}` },
      body,
    };
    const headers = { ...base.headers, signature: 'sig1=:AA==:' };
    const [entry] = parseRfc9421Signatures(headers);
    const mac = createHmac('sha256', SECRET).update(rfc9421SignatureBase(base, entry!.input)).digest('base64');
    return { ...base, ...changes, headers: { ...base.headers, signature: `sig1=:${mac}:`, ...extraHeaders } };
  }
  const reason = (input: SignedRequestInput, requiredHeaders?: string[]) => {
    try {
      parseRfc9421(input, { ...OPTIONS, ...(requiredHeaders ? { requiredHeaders } : {}) });
      return 'accepted';
    } catch (error) {
      return (error as SignatureVerificationError).reason;
    }
  };
  const material = { algorithm: 'hmac-sha256', secret: SECRET } as const;

  it('accepts and verifies a fully covered request', () => {
    const parsed = parseRfc9421(request(), OPTIONS);
    expect(parsed).toMatchObject({ scheme: 'rfc9421', keyId: 'NAS1', created: 1700000000, replayId: 'n-1' });
    expect(parsed.algorithm).toBeUndefined();
    expect(parsed.coveredHeaders).toEqual(['@method', '@authority', '@path', '@query', 'content-digest']);
    expect(parsed.verify(material)).toBe(true);
  });

  it.each([
    ['method', { method: 'PUT' }],
    ['path', { path: '/payment' }],
    ['query', { query: 'x=2' }],
  ])('fails verification when the %s changes', (_, changes) => {
    expect(parseRfc9421(request(FULL, changes), OPTIONS).verify(material)).toBe(false);
  });

  it('refuses a body that does not match its digest; a body changed with its digest fails verification', () => {
    expect(reason(request(FULL, { body: Buffer.from('{"amount":1000}') }))).toBe('content_digest_mismatch');
    const changed = request(
      FULL,
      { body: Buffer.from('{"amount":1000}') },
      {
        'content-digest': 'sha-256=:YSYS0gj7YY6ysAfSp/jXoc+1EVMjiSmPHMMzIsMJS8w=:',
      },
    );
    expect(parseRfc9421(changed, OPTIONS).verify(material)).toBe(false);
  });

  it('uses the nonce, or else the signature, as the replay id; reads expires', () => {
    const withExpires = FULL.replace(';nonce="n-1"', ';expires=1700000300');
    const parsed = parseRfc9421(request(withExpires), OPTIONS);
    expect(parsed.expires).toBe(1700000300);
    expect(parsed.replayId).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });

  it('requires created and keyid', () => {
    expect(reason(request(FULL.replace('created=1700000000;', '')))).toBe('malformed');
    expect(reason(request(FULL.replace('keyid="NAS1";', '')))).toBe('malformed');
    expect(reason(request(FULL.replace('created=1700000000', 'created="1700000000"')))).toBe('malformed');
  });

  it('requires @method, path, authority, query and content-digest to be covered', () => {
    for (const component of ['"@method" ', '"@authority" ', '"@path" ', '"@query" ', ' "content-digest"']) {
      expect(reason(request(FULL.replace(component, '')))).toBe('header_not_signed');
    }
    expect(reason(request('("@method" "@target-uri" "content-digest");created=1;keyid="k"'))).toBe('accepted');
    expect(reason(request(FULL), ['x-tenant'])).toBe('header_not_signed');
  });

  it('takes the algorithm from the key: alg must name a supported one and agree with the key', () => {
    const hmac = parseRfc9421(request(`${FULL};alg="hmac-sha256"`), OPTIONS);
    expect(hmac.algorithm).toBe('hmac-sha256');
    expect(hmac.verify(material)).toBe(true);
    const ed = parseRfc9421(request(`${FULL};alg="ed25519"`), OPTIONS);
    expect(ed.algorithm).toBe('ed25519');
    expect(ed.verify(material)).toBe(false);
    expect(reason(request(`${FULL};alg="rsa-pss-sha512"`))).toBe('unsupported_algorithm');
    expect(reason(request(`${FULL};alg="none"`))).toBe('unsupported_algorithm');
  });

  it('accepts exactly one signature label', () => {
    const two = request(FULL, {}, { 'signature-input': `sig1=${FULL}, sig2=${FULL}` });
    expect(reason(two)).toBe('ambiguous');
    expect(reason(request(FULL, {}, { signature: 'other=:AA==:' }))).toBe('missing_header');
    expect(reason(request(FULL, {}, { signature: 'sig1="text"' }))).toBe('malformed');
    expect(reason(request(FULL, {}, { 'signature-input': 'sig1=(' }))).toBe('malformed');
  });
});
