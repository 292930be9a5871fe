import { randomBytes } from 'node:crypto';
import { SecurityConfigError } from '../../core/errors.js';
import {
  generateMasterKey,
  MASTER_KEY_BYTES,
  openSecret,
  parseMasterKeys,
  sealSecret,
  SecretUnreadableError,
  type SealedSecret,
} from './secret-box.js';

const V1 = `v1:${Buffer.alloc(MASTER_KEY_BYTES, 1).toString('base64')}`;
const V2 = `v2:${Buffer.alloc(MASTER_KEY_BYTES, 2).toString('base64')}`;
const ID = 'NASAAAAAAAAAAAAAAAAA';
const SECRET = 'Zr8Qm2w0Xv7Lp4Tn1Kc9Bd6Hf3Js5Ga8Ye2Ru7Wq';

const reasonOf = (open: () => unknown): string => {
  try {
    open();
    return 'opened';
  } catch (error) {
    return error instanceof SecretUnreadableError ? error.reason : String(error);
  }
};

describe('parseMasterKeys', () => {
  it('reads a ring, first entry current, and keeps the keys out of sight', () => {
    const ring = parseMasterKeys(`${V2}, ${V1}`);

    expect(ring.current).toBe('v2');
    expect(ring.versions).toEqual(['v2', 'v1']);
    expect(ring.has('v1')).toBe(true);
    expect(ring.has('v3')).toBe(false);
    expect(JSON.stringify(ring)).not.toContain(V1.slice(3));
    expect(Object.isFrozen(ring)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['no version', Buffer.alloc(32).toString('base64')],
    ['16 bytes', `v1:${Buffer.alloc(16).toString('base64')}`],
    ['33 bytes', `v1:${Buffer.alloc(33).toString('base64')}`],
    ['not base64', `v1:${'!'.repeat(44)}`],
    ['a duplicate version', `${V1},${V1}`],
    ['an empty entry', `${V2},,${V1}`],
  ])('refuses %s with ERR_SECURITY_CONFIG_INVALID_MASTER_KEYS, never echoing a key', (_, text) => {
    let error: unknown;
    try {
      parseMasterKeys(text);
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(SecurityConfigError);
    expect(error).toMatchObject({ code: 'ERR_SECURITY_CONFIG_INVALID_MASTER_KEYS', option: 'signing.masterKeys' });
    expect((error as Error).message).not.toContain(V1.slice(3));
  });

  it('generates entries it can read', () => {
    const entry = generateMasterKey('v7');

    expect(entry).toMatch(/^v7:[A-Za-z0-9+/]{43}=$/);
    expect(parseMasterKeys(entry).current).toBe('v7');
    expect(generateMasterKey()).toMatch(/^v1:/);
    expect(() => generateMasterKey('seven')).toThrow(TypeError);
  });
});

describe('sealSecret and openSecret', () => {
  const ring = parseMasterKeys(`${V2},${V1}`);

  it('seals under the current version as base64 of iv | tag | ciphertext, fresh each time', () => {
    const first = sealSecret(ring, SECRET, ID);
    const second = sealSecret(ring, SECRET, ID);

    expect(first.version).toBe('v2');
    expect(Buffer.from(first.ciphertext, 'base64')).toHaveLength(12 + 16 + SECRET.length);
    expect(first.ciphertext).not.toBe(second.ciphertext);
    expect(first.ciphertext).not.toContain(SECRET);
    expect(openSecret(ring, first, ID).toString('utf8')).toBe(SECRET);
    expect(openSecret(ring, second, ID).toString('utf8')).toBe(SECRET);
  });

  it('seals bytes as well as text', () => {
    const bytes = randomBytes(64);

    expect(openSecret(ring, sealSecret(ring, bytes, ID), ID).equals(bytes)).toBe(true);
  });

  it('opens a secret sealed under v1 once the ring is v2:…,v1:… (rotation)', () => {
    const sealedUnderV1 = sealSecret(parseMasterKeys(V1), SECRET, ID);

    expect(sealedUnderV1.version).toBe('v1');
    expect(openSecret(parseMasterKeys(`${V2},${V1}`), sealedUnderV1, ID).toString('utf8')).toBe(SECRET);
  });

  it('fails clearly, naming the missing version, when the ring no longer holds v1', () => {
    const sealedUnderV1 = sealSecret(parseMasterKeys(V1), SECRET, ID);
    let error: unknown;
    try {
      openSecret(parseMasterKeys(V2), sealedUnderV1, ID);
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(SecretUnreadableError);
    expect(error).toMatchObject({ code: 'ERR_SECURITY_SECRET_UNREADABLE', reason: 'unknown_version' });
    expect((error as Error).message).toMatch(/master key v1.*does not hold.*\(it has v2\).*add v1 back/);
  });

  it('refuses a ciphertext opened for another access key id (the AAD)', () => {
    const sealed = sealSecret(ring, SECRET, ID);

    expect(reasonOf(() => openSecret(ring, sealed, 'NASBBBBBBBBBBBBBBBBB'))).toBe('tampered');
  });

  it.each([
    ['the iv', 0],
    ['the tag', 12],
    ['the ciphertext', 28],
    ['the last byte', -1],
  ])('refuses a ciphertext with one bit of %s flipped', (_, at) => {
    const sealed = sealSecret(ring, SECRET, ID);
    const raw = Buffer.from(sealed.ciphertext, 'base64');
    raw[at < 0 ? raw.length + at : at]! ^= 0x01;

    expect(reasonOf(() => openSecret(ring, { ...sealed, ciphertext: raw.toString('base64') }, ID))).toBe('tampered');
  });

  it('refuses a ciphertext relabelled with another version of the ring', () => {
    const sealed = sealSecret(ring, SECRET, ID);

    expect(reasonOf(() => openSecret(ring, { ...sealed, version: 'v1' }, ID))).toBe('tampered');
  });

  it.each<[string, SealedSecret]>([
    ['too short', { ciphertext: Buffer.alloc(27).toString('base64'), version: 'v2' }],
    ['not base64', { ciphertext: '@@@@', version: 'v2' }],
  ])('refuses a stored text that is %s as malformed', (_, sealed) => {
    expect(reasonOf(() => openSecret(ring, sealed, ID))).toBe('malformed');
  });
});
