import { canonicalQuery, foldWhitespace, headerLines, percentDecode, rfc3986Encode } from './http-canonical.js';

describe('rfc3986Encode', () => {
  it('keeps only the unreserved characters, in upper-case hex otherwise', () => {
    expect(rfc3986Encode('-._~AZaz09')).toBe('-._~AZaz09');
    expect(rfc3986Encode("a b+c/d?e=f&g%h!*'()")).toBe('a%20b%2Bc%2Fd%3Fe%3Df%26g%25h%21%2A%27%28%29');
    expect(rfc3986Encode('ሴ')).toBe('%E1%88%B4');
  });

  it('keeps the characters it is told to keep', () => {
    expect(rfc3986Encode('/a b/', '/')).toBe('/a%20b/');
  });
});

describe('percentDecode', () => {
  it('decodes valid escapes into bytes and leaves invalid ones', () => {
    expect(percentDecode('%E1%88%B4').toString('utf8')).toBe('ሴ');
    expect(percentDecode('a%2').toString('utf8')).toBe('a%2');
    expect(percentDecode('%zz%41').toString('utf8')).toBe('%zzA');
    expect(percentDecode('%ff')).toEqual(Buffer.of(0xff));
  });

  it('takes + literally unless told it is a space', () => {
    expect(percentDecode('a+b').toString('utf8')).toBe('a+b');
    expect(percentDecode('a+b%2B', true).toString('utf8')).toBe('a b+');
  });
});

describe('canonicalQuery (seed scheme and SigV4)', () => {
  it('sorts by encoded name, then value, keeping repeated names', () => {
    expect(canonicalQuery('b=2&a=y&a=x&A=z')).toBe('A=z&a=x&a=y&b=2');
  });

  it('encodes names and values per RFC 3986 after decoding what was sent', () => {
    expect(canonicalQuery('q=a b&r=%7e&s=a%20b&u=%2F')).toBe('q=a%20b&r=~&s=a%20b&u=%2F');
    expect(canonicalQuery('%E1%88%B4=bar')).toBe('%E1%88%B4=bar');
    expect(canonicalQuery('ሴ=bar')).toBe('%E1%88%B4=bar');
  });

  it('reads + as a space, as the application will, so that + and %2B sign differently', () => {
    expect(canonicalQuery('t=a+b')).toBe('t=a%20b');
    expect(canonicalQuery('t=a%2Bb')).toBe('t=a%2Bb');
  });

  it('gives a name without = an empty value and skips empty pieces', () => {
    expect(canonicalQuery('flag&&a=1')).toBe('a=1&flag=');
    expect(canonicalQuery('')).toBe('');
  });
});

describe('header helpers', () => {
  it('folds inner whitespace and trims', () => {
    expect(foldWhitespace('  "a   b \t c"  ')).toBe('"a b c"');
  });

  it('reads host from HTTP/2 :authority when there is no host', () => {
    expect(headerLines({ ':authority': 'example.com' }, 'host')).toEqual(['example.com']);
    expect(headerLines({ a: ['1', '2'] }, 'a')).toEqual(['1', '2']);
    expect(headerLines({}, 'a')).toBeUndefined();
  });
});
