import fc from 'fast-check';
import { SecurityConfigError } from '../../core/errors.js';
import { generateMasterKey, openSecret, parseMasterKeys, sealSecret, SecretUnreadableError } from './secret-box.js';

const RING = parseMasterKeys(`${generateMasterKey('v2')},${generateMasterKey('v1')}`);
const keyId = fc.string({ maxLength: 20 });

describe('parseMasterKeys (fast-check, fixed seeds)', () => {
  it('answers any configured text with a ring or SecurityConfigError', () => {
    const entry = fc.oneof(
      fc
        .uint8Array({ minLength: 30, maxLength: 34 })
        .map((bytes) => `v${bytes[0]}:${Buffer.from(bytes).toString('base64')}`),
      fc.constantFrom('v1:', 'v:AAAA', 'v1:====', 'V1:abc', ' v3:AAAA ', 'v1234567:AAAA'),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(entry, { maxLength: 3 }).map((list) => list.join(',')),
        ),
        (text) => {
          try {
            const ring = parseMasterKeys(text);
            expect(ring.versions.length).toBeGreaterThan(0);
            expect(ring.current).toBe(ring.versions[0]);
            for (const version of ring.versions) expect(version).toMatch(/^v\d{1,6}$/);
          } catch (error) {
            expect(error).toBeInstanceOf(SecurityConfigError);
          }
        },
      ),
      { seed: 1101, numRuns: 400 },
    );
  });
});

describe('openSecret (fast-check, fixed seeds)', () => {
  it('opens every sealed secret for its key id', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), keyId, (secret, id) => {
        expect(openSecret(RING, sealSecret(RING, Buffer.from(secret), id), id).equals(Buffer.from(secret))).toBe(true);
      }),
      { seed: 1102, numRuns: 200 },
    );
  });

  it('refuses altered or arbitrary stored text, another key id or version with SecretUnreadableError', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 32 }),
        keyId,
        fc.constantFrom('bit', 'text', 'id', 'version', 'truncate'),
        fc.nat(),
        fc.string({ maxLength: 60 }),
        (secret, id, how, at, text) => {
          const sealed = sealSecret(RING, secret, id);
          const raw = Buffer.from(sealed.ciphertext, 'base64');
          let ciphertext = sealed.ciphertext;
          let version = sealed.version;
          let openAs = id;
          if (how === 'bit') {
            raw[at % raw.length] ^= 1 << (at % 8);
            ciphertext = raw.toString('base64');
          }
          if (how === 'text') ciphertext = text;
          if (how === 'truncate') ciphertext = raw.subarray(0, at % raw.length).toString('base64');
          if (how === 'id') openAs = `${id}x`;
          if (how === 'version') version = text.startsWith('v') ? text : `v9${text}`;
          fc.pre(how !== 'version' || !RING.has(version));
          try {
            openSecret(RING, { ciphertext, version }, openAs);
            throw new Error(`the ${how} change was not noticed`);
          } catch (error) {
            expect(error).toBeInstanceOf(SecretUnreadableError);
          }
        },
      ),
      { seed: 1103, numRuns: 200 },
    );
  });
});
