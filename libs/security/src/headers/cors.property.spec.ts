import fc from 'fast-check';
import { canonicalOrigin, mergeVary, requestedHeaderNames } from './cors.js';

// Origin headers as browsers and others send them: ports, case, userinfo, paths, IDN, escapes, IPs.
const originish = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc
    .tuple(
      fc.constantFrom('http://', 'https://', 'HTTPS://', 'ftp://', 'https:/', '//', 'null', ''),
      fc.oneof(
        fc.domain(),
        fc.ipV4(),
        fc.ipV6().map((ip) => `[${ip}]`),
        fc.constantFrom('0x7f.1', 'bücher.de', 'a%41.com', 'user@a.com', 'a.com.', 'A.COM'),
      ),
      fc.constantFrom('', ':443', ':80', ':0443', ':8080', ':', ':99999', '/', '/path', '?q', '#f', ' ', '\\'),
    )
    .map((parts) => parts.join('')),
);

describe('canonicalOrigin (fast-check, fixed seeds)', () => {
  it('returns a lower-case origin the URL parser agrees with, or undefined, for any text', () => {
    fc.assert(
      fc.property(originish, (text) => {
        const origin = canonicalOrigin(text);
        if (origin !== undefined) {
          expect(origin).toBe(origin.toLowerCase());
          expect(new URL(origin).origin).toBe(origin);
          expect(origin).toMatch(/^https?:\/\/[^/?#@\\\s]+$/);
          expect(canonicalOrigin(origin)).toBe(origin);
          // Only the case and a default port may differ from what was sent.
          expect(text.toLowerCase().startsWith(origin)).toBe(true);
        }
      }),
      { seed: 6454, numRuns: 600 },
    );
  });

  it('reads every origin a URL serialises, with or without its default port and in any case', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('http', 'https'),
        fc.domain(),
        fc.option(fc.integer({ min: 1, max: 65535 })),
        (scheme, host, port) => {
          const origin = new URL(`${scheme}://${host}${port === null ? '' : `:${port}`}`).origin;
          expect(canonicalOrigin(origin)).toBe(origin);
          expect(canonicalOrigin(origin.toUpperCase())).toBe(origin);
          if (port === null) expect(canonicalOrigin(`${origin}:${scheme === 'https' ? 443 : 80}`)).toBe(origin);
        },
      ),
      { seed: 6455, numRuns: 250 },
    );
  });
});

describe('requestedHeaderNames and mergeVary (fast-check, fixed seeds)', () => {
  const list = fc.oneof(
    fc.string(),
    fc
      .array(fc.oneof(fc.stringMatching(/^[A-Za-z0-9-]{1,8}$/), fc.constantFrom('', ' ', 'a b', 'é', '"x"', '*')), {
        maxLength: 5,
      })
      .map((names) => names.join(',')),
  );

  it('lists distinct lower-case tokens of any Access-Control-Request-Headers value, or undefined', () => {
    fc.assert(
      fc.property(fc.oneof(list, fc.constant(undefined), fc.integer(), fc.array(fc.string())), (value) => {
        const names = requestedHeaderNames(value);
        if (value === undefined) expect(names).toEqual([]);
        if (typeof value !== 'string' && value !== undefined) expect(names).toBeUndefined();
        if (names !== undefined) {
          for (const name of names) expect(name).toMatch(/^[!#$%&'*+.^_`|~0-9a-z-]+$/);
          expect(new Set(names).size).toBe(names.length);
        }
      }),
      { seed: 6456, numRuns: 500 },
    );
  });

  it('adds the CORS names to any existing Vary value once, keeping what was there', () => {
    const added = fc.constantFrom('Origin', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    fc.assert(
      fc.property(
        fc.oneof(list, fc.array(list, { maxLength: 2 }), fc.constant(undefined), fc.integer()),
        added,
        (existing, names) => {
          const merged = mergeVary(existing, names);
          const before = typeof existing === 'string' ? existing : Array.isArray(existing) ? existing.join(', ') : '';
          const kept = before
            .split(',')
            .map((name) => name.trim())
            .filter((name) => name !== '');
          if (kept.includes('*')) {
            expect(merged).toBe('*');
            return;
          }
          const result = merged.split(', ');
          expect(result.slice(0, kept.length)).toEqual(kept);
          for (const name of names.split(', ')) {
            expect(result.filter((entry) => entry.toLowerCase() === name.toLowerCase()).length).toBe(
              Math.max(1, kept.filter((entry) => entry.toLowerCase() === name.toLowerCase()).length),
            );
          }
          expect(mergeVary(merged, names)).toBe(merged);
        },
      ),
      { seed: 6457, numRuns: 250 },
    );
  });
});
