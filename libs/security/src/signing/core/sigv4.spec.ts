import {
  parseSigV4,
  parseSigV4Authorization,
  sigv4AmzDate,
  sigv4CanonicalQuery,
  sigv4CanonicalRequest,
  sigv4CanonicalUri,
  sigv4ParseAmzDate,
  sigv4Signature,
  sigv4SigningKey,
  sigv4StringToSign,
} from './sigv4.js';
import { compareAscii, sha256Hex } from './http-canonical.js';
import { SignatureVerificationError, type SignedRequestInput } from './signed-request.types.js';

// The fixed inputs of the AWS Signature Version 4 test suite (aws-sig-v4-test-suite, 2015).
const SUITE = {
  accessKeyId: 'AKIDEXAMPLE',
  secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
  service: 'service',
  amzDate: '20150830T123600Z',
};
const OPTIONS = { sigv4: { region: SUITE.region, service: SUITE.service } };
const MATERIAL = { algorithm: 'hmac-sha256', secret: Buffer.from(SUITE.secret, 'utf8') } as const;

/**
 * Cases of the AWS suite, as published: `.req` (request), `.creq` (canonical request), `.sts` (string to
 * sign) and `.authz` (Authorization header). In `.req`, a line starting with whitespace continues the
 * previous header as one more field line; repeated names are separate field lines.
 */
const CASES = [
  {
    name: 'get-vanilla',
    req: 'GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    creq: 'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
  },
  {
    name: 'get-vanilla-query-order-key-case',
    req: 'GET /?Param2=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    creq: 'GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
  },
  {
    name: 'get-vanilla-query-order-key',
    req: 'GET /?Param1=value2&Param1=Value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    creq: 'GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1',
  },
  {
    name: 'get-vanilla-utf8-query',
    req: 'GET /?ሴ=bar HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    creq: 'GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\neb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04',
  },
  {
    name: 'get-header-value-trim',
    req: 'GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: "a   b   c"\nX-Amz-Date:20150830T123600Z',
    creq: 'GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:"a b c"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\na726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736',
  },
  {
    name: 'get-header-key-duplicate',
    req: 'GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\nX-Amz-Date:20150830T123600Z',
    creq: 'GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\ndc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea',
  },
  {
    name: 'get-header-value-multiline',
    req: 'GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\n  value2\n     value3\nX-Amz-Date:20150830T123600Z',
    creq: 'GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1,value2,value3\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nb7b6cbfd8a0430b78891e986784da2630c8a135a8595cec25b26ea94f926ee55',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790',
  },
  {
    name: 'post-header-key-sort',
    req: 'POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\nX-Amz-Date:20150830T123600Z',
    creq: 'POST\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c',
  },
  {
    name: 'post-x-www-form-urlencoded',
    req: 'POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n\nParam1=value1',
    creq: 'POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a',
  },
  {
    name: 'normalize-path/get-slash-dot-slash',
    req: 'GET /./ HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    creq: 'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
  },
  {
    name: 'normalize-path/get-relative-relative',
    req: 'GET /example1/example2/../.. HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    creq: 'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
  },
  {
    name: 'normalize-path/get-slashes',
    req: 'GET //example// HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    creq: 'GET\n/example/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\ncb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84',
  },
  {
    name: 'normalize-path/get-space',
    req: 'GET /example space/ HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    creq: 'GET\n/example%20space/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741',
  },
  {
    name: 'get-utf8',
    req: 'GET /ሴ HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    creq: 'GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85',
  },
  {
    name: 'post-sts-token/post-sts-header-after',
    req: 'POST / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z',
    creq: 'POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    sts: 'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87',
    authz:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b',
  },
];

function parseSuiteRequest(text: string): SignedRequestInput {
  const split = text.indexOf('\n\n');
  const [start, ...lines] = (split === -1 ? text : text.slice(0, split)).split('\n');
  const headers: Record<string, string[]> = {};
  let last = '';
  for (const line of lines) {
    if (/^\s/.test(line)) {
      headers[last]!.push(line.trim());
      continue;
    }
    last = line.slice(0, line.indexOf(':')).toLowerCase();
    (headers[last] ??= []).push(line.slice(line.indexOf(':') + 1).trim());
  }
  const target = start!.slice(start!.indexOf(' ') + 1, start!.lastIndexOf(' '));
  const q = target.indexOf('?');
  return {
    method: start!.slice(0, start!.indexOf(' ')),
    path: q === -1 ? target : target.slice(0, q),
    query: q === -1 ? '' : target.slice(q + 1),
    headers,
    body: Buffer.from(split === -1 ? '' : text.slice(split + 2), 'utf8'),
  };
}

describe('SigV4 canonicalisation: the AWS test suite', () => {
  it.each(CASES)('$name: canonical request, string to sign and signature', ({ req, creq, sts, authz }) => {
    const request = parseSuiteRequest(req);
    const signedHeaders = Object.keys(request.headers).sort(compareAscii);
    const canonical = sigv4CanonicalRequest(request, signedHeaders, sha256Hex(request.body));
    expect(canonical).toBe(creq);
    const stringToSign = sigv4StringToSign(
      SUITE.amzDate,
      `20150830/${SUITE.region}/${SUITE.service}/aws4_request`,
      canonical,
    );
    expect(stringToSign).toBe(sts);
    const key = sigv4SigningKey(SUITE.secret, '20150830', SUITE.region, SUITE.service);
    expect(authz).toBe(
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ` +
        `SignedHeaders=${signedHeaders.join(';')}, Signature=${sigv4Signature(key, stringToSign)}`,
    );
  });

  it.each(CASES)('$name: the signed request verifies, and fails with a changed method', ({ req, authz }) => {
    // The suite's .sreq is the .req plus this Authorization line.
    const unsigned = parseSuiteRequest(req);
    const request = { ...unsigned, headers: { ...unsigned.headers, authorization: authz } };
    const parsed = parseSigV4(request, OPTIONS);
    expect(parsed).toMatchObject({ scheme: 'aws4-hmac-sha256', keyId: 'AKIDEXAMPLE', created: 1440938160 });
    expect(parsed.verify(MATERIAL)).toBe(true);
    expect(
      parseSigV4({ ...request, method: request.method === 'GET' ? 'POST' : 'GET' }, OPTIONS).verify(MATERIAL),
    ).toBe(false);
  });

  it('accepts an unsigned header added after signing (post-sts-header-after)', () => {
    const request = parseSuiteRequest(
      'POST / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n' +
        'X-Amz-Security-Token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==\n' +
        'Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b',
    );
    expect(parseSigV4(request, OPTIONS).verify(MATERIAL)).toBe(true);
  });
});

describe('SigV4: the AWS documentation example (IAM ListUsers)', () => {
  it('reproduces the canonical request, string to sign, signing key and signature', () => {
    const request = {
      method: 'GET',
      path: '/',
      query: 'Action=ListUsers&Version=2010-05-08',
      headers: {
        host: 'iam.amazonaws.com',
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        'x-amz-date': '20150830T123600Z',
      },
    };
    const canonical = sigv4CanonicalRequest(
      request,
      ['content-type', 'host', 'x-amz-date'],
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(canonical).toBe(
      'GET\n/\nAction=ListUsers&Version=2010-05-08\n' +
        'content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n' +
        'content-type;host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    const stringToSign = sigv4StringToSign('20150830T123600Z', '20150830/us-east-1/iam/aws4_request', canonical);
    expect(stringToSign).toBe(
      'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n' +
        'f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59',
    );
    const key = sigv4SigningKey(SUITE.secret, '20150830', 'us-east-1', 'iam');
    expect(key.toString('hex')).toBe('c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9');
    expect(sigv4Signature(key, stringToSign)).toBe('5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7');
  });
});

describe('sigv4CanonicalUri (non-S3)', () => {
  it('double-encodes the path as received, as the AWS SDK signer does', () => {
    expect(sigv4CanonicalUri('/documents/a%20b')).toBe('/documents/a%2520b');
    expect(sigv4CanonicalUri('/%E1%88%B4')).toBe('/%25E1%2588%25B4');
    expect(sigv4CanonicalUri('/a:b@c!')).toBe('/a%3Ab%40c%21');
  });

  it('removes dot segments and empty segments', () => {
    expect(sigv4CanonicalUri('/a/./b/../c//d')).toBe('/a/c/d');
    expect(sigv4CanonicalUri('/example/..')).toBe('/');
    expect(sigv4CanonicalUri('/../..')).toBe('/');
    expect(sigv4CanonicalUri('/a/b/')).toBe('/a/b/');
  });

  it('sorts the query keeping repeated keys', () => {
    expect(sigv4CanonicalQuery('Param1=value2&Param1=Value1')).toBe('Param1=Value1&Param1=value2');
  });
});

describe('x-amz-date', () => {
  it('formats and parses YYYYMMDDTHHMMSSZ', () => {
    expect(sigv4AmzDate(new Date('2015-08-30T12:36:00.123Z'))).toBe('20150830T123600Z');
    expect(sigv4ParseAmzDate('20150830T123600Z')).toBe(1440938160);
    expect(sigv4ParseAmzDate('20151330T123600Z')).toBeUndefined();
    expect(sigv4ParseAmzDate('2015-08-30T12:36:00Z')).toBeUndefined();
  });
});

describe('parseSigV4Authorization', () => {
  it('reads the credential scope, signed headers and signature', () => {
    expect(
      parseSigV4Authorization(
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
      ),
    ).toEqual({
      accessKeyId: 'AKIDEXAMPLE',
      date: '20150830',
      region: 'us-east-1',
      service: 'service',
      scope: '20150830/us-east-1/service/aws4_request',
      signedHeaders: ['host', 'x-amz-date'],
      signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    });
  });

  it.each([
    ['AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host', 'malformed'],
    [
      'AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/aws4_request, SignedHeaders=host, Signature=' +
        'a'.repeat(64),
      'malformed',
    ],
    [
      'AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=x-amz-date;host, Signature=' +
        'a'.repeat(64),
      'malformed',
    ],
    [
      'AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=' +
        'A'.repeat(64),
      'malformed',
    ],
    [
      'AWS4-ECDSA-P256-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=' +
        'a'.repeat(64),
      'unsupported_algorithm',
    ],
  ])('refuses %s', (value, reason) => {
    expect(() => parseSigV4Authorization(value)).toThrow(expect.objectContaining({ reason }));
  });
});

describe('parseSigV4 refusals', () => {
  const body = Buffer.from('{"a":1}');
  function signed(
    overrides: { headers?: Record<string, string>; query?: string; scope?: string; signedHeaders?: string } = {},
  ) {
    const headers: Record<string, string> = {
      host: 'example.com',
      'x-amz-date': '20150830T123600Z',
      'x-amz-content-sha256': sha256Hex(body),
      ...overrides.headers,
    };
    const scope = overrides.scope ?? '20150830/us-east-1/service/aws4_request';
    const signedHeaders = overrides.signedHeaders ?? 'host;x-amz-content-sha256;x-amz-date';
    headers.authorization = `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${scope}, SignedHeaders=${signedHeaders}, Signature=${'0'.repeat(64)}`;
    return { method: 'PUT', path: '/x', query: overrides.query ?? '', headers, body };
  }
  const reason = (input: SignedRequestInput) => {
    try {
      parseSigV4(input, OPTIONS);
      return 'accepted';
    } catch (error) {
      return (error as SignatureVerificationError).reason;
    }
  };

  it('accepts a well-formed request', () => {
    expect(reason(signed())).toBe('accepted');
  });

  it('refuses UNSIGNED-PAYLOAD and STREAMING-* bodies', () => {
    expect(reason(signed({ headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }))).toBe('unsigned_payload');
    expect(reason(signed({ headers: { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' } }))).toBe(
      'unsigned_payload',
    );
  });

  it('refuses an x-amz-content-sha256 that is not the body hash', () => {
    expect(reason(signed({ headers: { 'x-amz-content-sha256': sha256Hex('other') } }))).toBe('content_digest_mismatch');
  });

  it('refuses another region, service or date in the scope', () => {
    expect(reason(signed({ scope: '20150830/eu-west-1/service/aws4_request' }))).toBe('scope_mismatch');
    expect(reason(signed({ scope: '20150830/us-east-1/s3/aws4_request' }))).toBe('scope_mismatch');
    expect(reason(signed({ scope: '20150831/us-east-1/service/aws4_request' }))).toBe('scope_mismatch');
  });

  it('needs host and x-amz-date signed, and every signed header present', () => {
    expect(reason(signed({ signedHeaders: 'x-amz-content-sha256;x-amz-date' }))).toBe('header_not_signed');
    expect(reason(signed({ signedHeaders: 'host;x-amz-content-sha256' }))).toBe('header_not_signed');
    expect(reason(signed({ signedHeaders: 'host;x-amz-date;x-custom' }))).toBe('missing_header');
    expect(parseSigV4Required(signed(), ['content-type'])).toBe('header_not_signed');
  });

  it('refuses presigned query-string URLs clearly', () => {
    const input = signed({ query: 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc' });
    expect(() => parseSigV4(input, OPTIONS)).toThrow(/presigned SigV4 URLs .* are not supported/);
    expect(reason(input)).toBe('malformed');
  });

  it('refuses a bad x-amz-date', () => {
    expect(reason(signed({ headers: { 'x-amz-date': 'Sun, 30 Aug 2015 12:36:00 GMT' } }))).toBe('malformed');
  });

  function parseSigV4Required(input: SignedRequestInput, requiredHeaders: string[]) {
    try {
      parseSigV4(input, { ...OPTIONS, requiredHeaders });
      return 'accepted';
    } catch (error) {
      return (error as SignatureVerificationError).reason;
    }
  }
});
