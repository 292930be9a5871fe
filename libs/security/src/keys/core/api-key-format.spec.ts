import { crc32 } from 'node:zlib';
import {
  API_KEY_REGEX,
  BASE62_ALPHABET,
  apiKeyChecksum,
  apiKeyRegex,
  encodeBase62Fixed,
  generateApiKey,
  parseApiKey,
  randomBase62,
} from './api-key-format.js';

const BASE62 = /^[0-9A-Za-z]*$/;

/** Reference encoder written independently of the code under test. */
function referenceBase62(n: bigint, width: number): string {
  let out = '';
  for (let rest = n; rest > 0n; rest /= 62n) out = BASE62_ALPHABET[Number(rest % 62n)] + out;
  return out.padStart(width, '0');
}

/** Replaces the character at `index` with another base62 character. */
function flip(text: string, index: number): string {
  const current = BASE62_ALPHABET.indexOf(text[index]!);
  return text.slice(0, index) + BASE62_ALPHABET[(current + 1) % 62] + text.slice(index + 1);
}

describe('BASE62_ALPHABET', () => {
  it('is 0-9A-Za-z in that order', () => {
    expect(BASE62_ALPHABET).toBe('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');
    expect(new Set(BASE62_ALPHABET).size).toBe(62);
  });
});

describe('encodeBase62Fixed', () => {
  it.each([
    [0, 6, '000000'],
    [61, 3, '00z'],
    [62, 6, '000010'],
    [4294967295, 6, '4gfFC3'],
    [62 ** 6 - 1, 6, 'zzzzzz'],
  ])('writes %d in %d digits as %s', (n, width, text) => expect(encodeBase62Fixed(n, width)).toBe(text));

  it('agrees with a reference encoder', () => {
    for (const n of [1, 9, 10, 35, 36, 3843, 3844, 123456789, 2 ** 31, 2 ** 32 - 2]) {
      expect(encodeBase62Fixed(n, 6)).toBe(referenceBase62(BigInt(n), 6));
    }
  });

  it.each([
    [62 ** 6, 6],
    [-1, 6],
    [1.5, 6],
    [Number.NaN, 6],
    [1, 0],
  ])('refuses %d in %d digits', (n, width) => expect(() => encodeBase62Fixed(n, width)).toThrow(RangeError));
});

describe('randomBase62', () => {
  it('draws every character of the alphabet and nothing else', () => {
    const text = randomBase62(62 * 200);
    expect(text).toHaveLength(62 * 200);
    expect(text).toMatch(BASE62);
    expect(new Set(text).size).toBe(62);
  });

  it('is roughly uniform (no character wildly over- or under-represented)', () => {
    const counts = new Map<string, number>();
    for (const c of randomBase62(62 * 1000)) counts.set(c, (counts.get(c) ?? 0) + 1);
    // Expected 1000 each, standard deviation about 31: these bounds are more than 8 sigma away.
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(750);
      expect(count).toBeLessThan(1250);
    }
  });

  it('returns exactly the requested length', () => {
    for (const length of [0, 1, 6, 12, 22, 100]) expect(randomBase62(length)).toHaveLength(length);
  });

  it('refuses negative or fractional lengths', () => {
    expect(() => randomBase62(-1)).toThrow(RangeError);
    expect(() => randomBase62(1.5)).toThrow(RangeError);
  });
});

describe('apiKeyChecksum', () => {
  it('is CRC32 of the body in base62, most significant digit first', () => {
    const body = `sk_live_${'0'.repeat(34)}`;
    expect(crc32(body)).toBe(3718814655);
    expect(apiKeyChecksum(body)).toBe('43flZX');
    expect(apiKeyChecksum(body)).toBe(referenceBase62(BigInt(crc32(body)), 6));
  });

  it('matches the standard CRC32 check value', () => {
    // CRC32("123456789") = 0xCBF43926, the catalogue check value of CRC-32/ISO-HDLC.
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(apiKeyChecksum('123456789')).toBe('3jZRME');
  });

  it('pads small CRCs with zeros', () => {
    expect(crc32('')).toBe(0);
    expect(apiKeyChecksum('')).toBe('000000');
  });
});

describe('generateApiKey / parseApiKey', () => {
  it('round-trips many keys', () => {
    for (let i = 0; i < 500; i++) {
      const environment = i % 2 === 0 ? 'live' : 'test';
      const generated = generateApiKey({ environment });
      expect(parseApiKey(generated.key)).toEqual({
        ok: true,
        prefix: 'sk',
        environment,
        id: generated.id,
        secret: generated.secret,
      });
    }
  });

  it('lays out prefix, environment, id, secret and checksum exactly', () => {
    const { id, secret, key, environment } = generateApiKey();
    expect(environment).toBe('live');
    expect(id).toHaveLength(12);
    expect(id).toMatch(BASE62);
    expect(secret).toHaveLength(22);
    expect(secret).toMatch(BASE62);
    expect(key).toHaveLength('sk_live_'.length + 40);
    expect(key.startsWith(`sk_live_${id}${secret}`)).toBe(true);
    const checksum = key.slice(-6);
    expect(checksum).toMatch(BASE62);
    expect(checksum).toBe(referenceBase62(BigInt(crc32(key.slice(0, -6))), 6));
  });

  it('generates distinct ids and secrets', () => {
    const keys = Array.from({ length: 200 }, () => generateApiKey());
    expect(new Set(keys.map((k) => k.id)).size).toBe(200);
    expect(new Set(keys.map((k) => k.secret)).size).toBe(200);
  });

  it('supports a configured prefix', () => {
    const { key, id } = generateApiKey({ prefix: 'acme2', environment: 'test' });
    expect(key.startsWith(`acme2_test_${id}`)).toBe(true);
    expect(parseApiKey(key, 'acme2')).toMatchObject({ ok: true, prefix: 'acme2', environment: 'test', id });
    expect(parseApiKey(key)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses an invalid prefix or environment at generation time', () => {
    for (const prefix of ['', 's', 'SK', '1sk', 'sk_', 'a'.repeat(17)]) {
      expect(() => generateApiKey({ prefix })).toThrow(/apiKeys\.prefix/);
      expect(() => parseApiKey('x', prefix)).toThrow(/apiKeys\.prefix/);
    }
    expect(() => generateApiKey({ environment: 'prod' as never })).toThrow(/apiKeys\.environment/);
  });

  it('reports a changed character anywhere in id, secret or checksum as a checksum failure', () => {
    const { key } = generateApiKey();
    for (let index = 'sk_live_'.length; index < key.length; index++) {
      expect(parseApiKey(flip(key, index))).toEqual({ ok: false, reason: 'checksum' });
    }
  });

  it('reports a key moved to the other environment as a checksum failure', () => {
    const { key } = generateApiKey({ environment: 'live' });
    const swapped = key.replace('sk_live_', 'sk_test_');
    expect(parseApiKey(swapped)).toEqual({ ok: false, reason: 'checksum' });
  });

  it.each([
    ['wrong prefix', (k: string) => k.replace(/^sk_/, 'pk_')],
    ['upper-case prefix', (k: string) => k.replace(/^sk_/, 'SK_')],
    ['wrong environment', (k: string) => k.replace('_live_', '_prod_')],
    ['missing separator', (k: string) => k.replace('sk_live_', 'sk_live')],
    ['one character short', (k: string) => k.slice(0, -1)],
    ['one character long', (k: string) => `${k}0`],
    ['non-base62 character', (k: string) => `${k.slice(0, 20)}-${k.slice(21)}`],
    ['non-ASCII character', (k: string) => `${k.slice(0, 20)}é${k.slice(21)}`],
    ['leading space', (k: string) => ` ${k.slice(1)}`],
    ['trailing space', (k: string) => `${k.slice(0, -1)} `],
    ['surrounding spaces', (k: string) => ` ${k} `],
    ['trailing newline', (k: string) => `${k.slice(0, -1)}\n`],
    ['empty string', () => ''],
    ['1 MB string', (k: string) => k.repeat(Math.ceil(1_048_576 / k.length))],
    ['1 MB of base62', () => 'a'.repeat(1_048_576)],
  ])('reports %s as malformed', (_name, mutate) => {
    const { key } = generateApiKey();
    expect(parseApiKey(mutate(key))).toEqual({ ok: false, reason: 'malformed' });
  });

  it('reports non-string input as malformed', () => {
    expect(parseApiKey(undefined as never)).toEqual({ ok: false, reason: 'malformed' });
    expect(parseApiKey(['sk_live_'] as never)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('never echoes the input in a failure', () => {
    const { key, secret } = generateApiKey();
    const failure = parseApiKey(flip(key, 30));
    expect(JSON.stringify(failure)).not.toContain(secret.slice(0, 8));
    expect(Object.keys(failure)).toEqual(['ok', 'reason']);
  });
});

describe('API_KEY_REGEX', () => {
  it('finds default-prefix keys embedded in text', () => {
    const live = generateApiKey().key;
    const test = generateApiKey({ environment: 'test' }).key;
    const text = `config: KEY=${live}\n"other": "${test}", done`;
    expect([...text.matchAll(API_KEY_REGEX)].map((m) => m[0])).toEqual([live, test]);
    expect(text.match(API_KEY_REGEX)).toEqual([live, test]);
  });

  it('does not match keys of the wrong length or glued to other words', () => {
    const { key } = generateApiKey();
    expect(`x ${key.slice(0, -1)} y`.match(API_KEY_REGEX)).toBeNull();
    expect(`x ${key}a y`.match(API_KEY_REGEX)).toBeNull();
    expect(`x ${key}_y`.match(API_KEY_REGEX)).toBeNull();
    expect(`xsk${key.slice(2)}`.match(API_KEY_REGEX)).toBeNull();
    expect(key.replace('_live_', '_prod_').match(API_KEY_REGEX)).toBeNull();
  });
});

describe('apiKeyRegex', () => {
  it('matches a whole key with the given prefix and names its parts', () => {
    const { key, id, secret } = generateApiKey({ prefix: 'acme' });
    const groups = apiKeyRegex('acme').exec(key)?.groups;
    expect(groups).toEqual({ prefix: 'acme', environment: 'live', id, secret, checksum: key.slice(-6) });
    expect(apiKeyRegex('acme').test(` ${key}`)).toBe(false);
    expect(apiKeyRegex('acme').test(`${key} `)).toBe(false);
    expect(apiKeyRegex().test(key)).toBe(false);
  });
});
