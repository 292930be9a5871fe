import { createHash, createHmac, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { constantTimeEqualHex } from '../../core/constant-time.js';
import { SecurityConfigError } from '../../core/errors.js';
import { hashSecret, needsRehash, parsePepperRing, verifySecret } from './secret-hashing.js';

vi.mock('../../core/constant-time.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../core/constant-time.js')>();
  return { ...actual, constantTimeEqualHex: vi.fn(actual.constantTimeEqualHex) };
});

const SECRET = 'Q3kz8VbN1xWmYt5LpR2sHd';
const PLAIN_PEPPER = 'plain-pepper-0123456789-abcdefghijklmnop';
const KEY_V1 = randomBytes(32);
const KEY_V2 = randomBytes(48);
const RING = `v2:${KEY_V2.toString('base64')},v1:${KEY_V1.toString('base64')}`;

/** Runs `parse` and returns the error it throws. */
function errorOf(value: string): SecurityConfigError {
  try {
    parsePepperRing(value);
  } catch (error) {
    expect(error).toBeInstanceOf(SecurityConfigError);
    return error as SecurityConfigError;
  }
  throw new Error('expected parsePepperRing to throw');
}

describe('parsePepperRing', () => {
  it.each([undefined, ''])('uses plain SHA-256 without a pepper (%j)', (value) => {
    const ring = parsePepperRing(value);
    expect(ring.current).toBe('sha256');
    expect(ring.versions).toEqual(['sha256']);
    expect(ring.has('sha256')).toBe(true);
    expect(ring.has('hmac-v1')).toBe(false);
  });

  it('reads a plain string as pepper v1', () => {
    const ring = parsePepperRing(PLAIN_PEPPER);
    expect(ring.current).toBe('hmac-v1');
    expect(ring.versions).toEqual(['hmac-v1']);
    expect(ring.has('sha256')).toBe(false);
  });

  it('reads a ring, first entry current', () => {
    const ring = parsePepperRing(RING);
    expect(ring.current).toBe('hmac-v2');
    expect(ring.versions).toEqual(['hmac-v2', 'hmac-v1']);
    expect(ring.has('hmac-v1')).toBe(true);
    expect(ring.has('hmac-v3')).toBe(false);
    expect(ring.has('sha256')).toBe(false);
  });

  it('accepts URL-safe base64, missing padding and spaces around entries', () => {
    const urlSafe = KEY_V2.toString('base64url');
    const ring = parsePepperRing(` v2:${urlSafe} , v1:${KEY_V1.toString('base64')}`);
    expect(hashSecret(SECRET, ring)).toBe(hashSecret(SECRET, parsePepperRing(RING)));
  });

  it('keeps unpeppered hashes only when the ring lists sha256', () => {
    const ring = parsePepperRing(`v1:${KEY_V1.toString('base64')},sha256`);
    expect(ring.current).toBe('hmac-v1');
    expect(ring.versions).toEqual(['hmac-v1', 'sha256']);
  });

  it('keeps the peppers out of logs and JSON', () => {
    const ring = parsePepperRing(RING);
    for (const text of [JSON.stringify(ring), inspect(ring, { showHidden: true, depth: 5 })]) {
      expect(text).not.toContain(KEY_V2.toString('base64'));
      expect(text).not.toContain(KEY_V2.toString('hex'));
    }
    expect(Object.isFrozen(ring)).toBe(true);
  });

  it.each([
    ['a short plain pepper', 'too-short-pepper-31-bytes-long!', /shorter than 32 bytes/],
    ['a plain pepper with a trailing newline', `${PLAIN_PEPPER}\n`, /whitespace/],
    ['a plain pepper with a leading space', ` ${PLAIN_PEPPER}`, /whitespace/],
    ['a short ring key', `v2:${randomBytes(31).toString('base64')}`, /fewer than 32 bytes/],
    ['invalid base64', `v2:${KEY_V2.toString('base64').slice(0, -3)}*`, /entry 1 is not of the form/],
    ['base64 with a dangling character', `v2:${KEY_V2.toString('base64').replace(/=+$/, '')}AAAAA`, /not valid base64/],
    ['a duplicated version', `v1:${KEY_V2.toString('base64')},v1:${KEY_V1.toString('base64')}`, /listed twice/],
    ['a reused pepper', `v2:${KEY_V1.toString('base64')},v1:${KEY_V1.toString('base64')}`, /repeats the pepper/],
    ['a bad version name', `v2:${KEY_V2.toString('base64')},key1:${KEY_V1.toString('base64')}`, /entry 2 is not/],
    ['an empty entry', `v2:${KEY_V2.toString('base64')},`, /entry 2 is not/],
    ['sha256 as the current entry', `sha256,v1:${KEY_V1.toString('base64')}`, /may only follow a pepper/],
  ])('refuses %s, naming API_KEY_PEPPER without echoing the value', (_name, value, reason) => {
    const error = errorOf(value);
    expect(error.code).toBe('ERR_SECURITY_CONFIG_INVALID_PEPPER');
    expect(error.option).toBe('API_KEY_PEPPER');
    expect(error.message).toMatch(/^API_KEY_PEPPER: /);
    expect(error.message).toMatch(reason);
    const secrets = [value.trim(), ...value.split(/[,:]/).filter((part) => part.trim().length >= 8)];
    for (const part of secrets) {
      expect(error.message).not.toContain(part.trim());
      expect(JSON.stringify(error.context)).not.toContain(part.trim());
    }
  });

  it('names the fix in its messages', () => {
    expect(errorOf('short').message).toMatch(/openssl rand -base64 48/);
  });
});

describe('hashSecret', () => {
  it('is deterministic lower-case hex SHA-256 without a pepper', () => {
    const ring = parsePepperRing(undefined);
    const expected = createHash('sha256').update(SECRET).digest('hex');
    expect(hashSecret(SECRET, ring)).toBe(expected);
    expect(hashSecret(SECRET, ring)).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is HMAC-SHA256 keyed with the pepper', () => {
    expect(hashSecret(SECRET, parsePepperRing(PLAIN_PEPPER))).toBe(
      createHmac('sha256', Buffer.from(PLAIN_PEPPER)).update(SECRET).digest('hex'),
    );
    const ring = parsePepperRing(RING);
    expect(hashSecret(SECRET, ring)).toBe(createHmac('sha256', KEY_V2).update(SECRET).digest('hex'));
    expect(hashSecret(SECRET, ring, 'hmac-v1')).toBe(createHmac('sha256', KEY_V1).update(SECRET).digest('hex'));
  });

  it('changes with the pepper and with the secret', () => {
    const hashes = new Set([
      hashSecret(SECRET, parsePepperRing(undefined)),
      hashSecret(SECRET, parsePepperRing(PLAIN_PEPPER)),
      hashSecret(SECRET, parsePepperRing(RING)),
      hashSecret(SECRET, parsePepperRing(RING), 'hmac-v1'),
      hashSecret(`${SECRET}x`, parsePepperRing(RING)),
    ]);
    expect(hashes.size).toBe(5);
  });

  it('treats a plain pepper as ring entry v1', () => {
    const plain = parsePepperRing(PLAIN_PEPPER);
    const rotated = parsePepperRing(
      `v2:${KEY_V2.toString('base64')},v1:${Buffer.from(PLAIN_PEPPER).toString('base64')}`,
    );
    expect(hashSecret(SECRET, rotated, 'hmac-v1')).toBe(hashSecret(SECRET, plain));
  });

  it('refuses a version the ring does not hold, without the secret in the message', () => {
    expect(() => hashSecret(SECRET, parsePepperRing(RING), 'hmac-v9')).toThrow(RangeError);
    expect(() => hashSecret(SECRET, parsePepperRing(RING), 'sha256')).toThrow(/unknown API key hash version/);
    try {
      hashSecret(SECRET, parsePepperRing(RING), 'hmac-v9');
    } catch (error) {
      expect(String(error)).not.toContain(SECRET);
    }
  });

  it('refuses a ring that parsePepperRing did not make', () => {
    const fake = { current: 'sha256', versions: ['sha256'], has: () => true };
    expect(() => hashSecret(SECRET, fake)).toThrow(TypeError);
  });
});

describe('verifySecret', () => {
  const ring = parsePepperRing(RING);
  const stored = hashSecret(SECRET, ring);

  it('accepts the right secret', () => {
    expect(verifySecret(SECRET, stored, 'hmac-v2', ring)).toBe(true);
    expect(verifySecret(SECRET, stored.toUpperCase(), 'hmac-v2', ring)).toBe(true);
  });

  it('refuses a wrong secret or the wrong version', () => {
    expect(verifySecret(`${SECRET.slice(0, -1)}x`, stored, 'hmac-v2', ring)).toBe(false);
    expect(verifySecret('', stored, 'hmac-v2', ring)).toBe(false);
    expect(verifySecret(SECRET, stored, 'hmac-v1', ring)).toBe(false);
  });

  it.each(['hmac-v9', 'sha256', '', 'constructor', '__proto__'])('is false for unknown version %j', (version) => {
    expect(verifySecret(SECRET, stored, version, ring)).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['one byte short', stored.slice(0, -2)],
    ['one byte long', `${stored}00`],
    ['odd length', stored.slice(0, -1)],
    ['not hex', `${stored.slice(0, -2)}zz`],
  ])('is false without throwing for a stored hash that is %s', (_name, storedHash) => {
    expect(() => verifySecret(SECRET, storedHash, 'hmac-v2', ring)).not.toThrow();
    expect(verifySecret(SECRET, storedHash, 'hmac-v2', ring)).toBe(false);
  });

  it('compares in constant time', () => {
    vi.mocked(constantTimeEqualHex).mockClear();
    verifySecret(SECRET, stored, 'hmac-v2', ring);
    expect(constantTimeEqualHex).toHaveBeenCalledExactlyOnceWith(stored, stored);
  });

  it('is false for a ring that parsePepperRing did not make', () => {
    const fake = { current: 'sha256', versions: ['sha256'], has: () => true };
    expect(verifySecret(SECRET, hashSecret(SECRET, parsePepperRing(undefined)), 'sha256', fake)).toBe(false);
  });
});

describe('needsRehash and the upgrade path', () => {
  it('is true only for versions other than the current one', () => {
    const ring = parsePepperRing(RING);
    expect(needsRehash('hmac-v2', ring)).toBe(false);
    expect(needsRehash('hmac-v1', ring)).toBe(true);
    expect(needsRehash('sha256', ring)).toBe(true);
    expect(needsRehash('sha256', parsePepperRing(undefined))).toBe(false);
  });

  it('verifies a hash of the old pepper, then rehashes with the current one', () => {
    const before = parsePepperRing(`v1:${KEY_V1.toString('base64')}`);
    const stored = { hash: hashSecret(SECRET, before), version: before.current };

    const after = parsePepperRing(RING);
    expect(verifySecret(SECRET, stored.hash, stored.version, after)).toBe(true);
    expect(needsRehash(stored.version, after)).toBe(true);
    const upgraded = { hash: hashSecret(SECRET, after), version: after.current };

    expect(upgraded.version).toBe('hmac-v2');
    expect(verifySecret(SECRET, upgraded.hash, upgraded.version, after)).toBe(true);
    expect(needsRehash(upgraded.version, after)).toBe(false);
    // Once v1 is dropped from the ring, only upgraded hashes still verify.
    const later = parsePepperRing(`v2:${KEY_V2.toString('base64')}`);
    expect(verifySecret(SECRET, stored.hash, stored.version, later)).toBe(false);
    expect(verifySecret(SECRET, upgraded.hash, upgraded.version, later)).toBe(true);
  });

  it('upgrades unpeppered hashes only when the ring keeps sha256', () => {
    const stored = hashSecret(SECRET, parsePepperRing(undefined));
    expect(verifySecret(SECRET, stored, 'sha256', parsePepperRing(RING))).toBe(false);
    const ring = parsePepperRing(`${RING},sha256`);
    expect(verifySecret(SECRET, stored, 'sha256', ring)).toBe(true);
    expect(needsRehash('sha256', ring)).toBe(true);
  });
});
