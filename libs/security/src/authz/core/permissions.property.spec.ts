import fc from 'fast-check';
import { hasPermission, intersectPermissions, parsePermission, permissionImplies } from './permissions.js';

const part = fc.oneof(fc.constant('*'), fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/));
const concretePart = fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/);
// Text near the grammar: its alphabet, separators, upper case, look-alikes and unpaired surrogates.
const permissionish = fc.string({
  unit: fc.constantFrom(...'ab_-*:09Z. '.split(''), '\u0131', '\u212a', '\n', '\ud800'),
  maxLength: 12,
});

describe('parsePermission (fast-check, fixed seeds)', () => {
  it('parses arbitrary text to its two parts or undefined', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), permissionish), (text) => {
        const parts = parsePermission(text);
        if (parts !== undefined) {
          expect(Object.keys(parts).sort()).toEqual(['action', 'resource']);
          expect(`${parts.resource}:${parts.action}`).toBe(text);
          expect(text).toMatch(/^(\*|[a-z][a-z0-9_-]*):(\*|[a-z][a-z0-9_-]*)$/);
        }
      }),
      { seed: 2001, numRuns: 600 },
    );
  });

  it('round-trips every permission of the grammar', () => {
    fc.assert(
      fc.property(part, part, (resource, action) => {
        expect(parsePermission(`${resource}:${action}`)).toEqual({ resource, action });
      }),
      { seed: 2002, numRuns: 200 },
    );
  });

  it('never lets arbitrary granted text cover a required permission unless it parses and matches', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          permissionish,
          part.chain((r) => part.map((a) => `${r}:${a}`)),
        ),
        concretePart,
        concretePart,
        (granted, resource, action) => {
          const required = `${resource}:${action}`;
          const have = parsePermission(granted);
          const expected =
            have !== undefined &&
            (have.resource === '*' || have.resource === resource) &&
            (have.action === '*' || have.action === action);
          expect(permissionImplies(granted, required)).toBe(expected);
          expect(hasPermission([granted], required)).toBe(expected);
          // A wildcard or malformed requirement is never satisfied.
          expect(permissionImplies(granted, `${resource}:*`)).toBe(false);
          expect(permissionImplies(granted, `${required} `)).toBe(false);
        },
      ),
      { seed: 2003, numRuns: 500 },
    );
  });

  it('intersects arbitrary lists into the permissions both grant', () => {
    const list = fc.array(
      fc.oneof(
        part.chain((r) => part.map((a) => `${r}:${a}`)),
        permissionish,
      ),
      { maxLength: 4 },
    );
    fc.assert(
      fc.property(list, list, concretePart, concretePart, (a, b, resource, action) => {
        const required = `${resource}:${action}`;
        const both = intersectPermissions(a, b);
        expect(hasPermission(both, required)).toBe(hasPermission(a, required) && hasPermission(b, required));
        for (const entry of both) expect(parsePermission(entry)).toBeDefined();
      }),
      { seed: 2004, numRuns: 250 },
    );
  });
});
