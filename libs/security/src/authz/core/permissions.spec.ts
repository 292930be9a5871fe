import {
  effectiveKeyPermissions,
  hasAllPermissions,
  hasAnyPermission,
  hasPermission,
  intersectPermissions,
  isValidPermission,
  parsePermission,
  permissionImplies,
} from './permissions.js';

const RESOURCES = ['users', 'documents', 'audit'];
const ACTIONS = ['read', 'write', 'delete'];
/** Every permission over a small universe, wildcards included: 4 x 4 = 16. */
const UNIVERSE = ['*', ...RESOURCES].flatMap((r) => ['*', ...ACTIONS].map((a) => `${r}:${a}`));
const CONCRETE = UNIVERSE.filter((p) => !p.includes('*'));

/** A deterministic pseudo-random generator (mulberry32), so a failing case can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomSet(next: () => number): string[] {
  const size = Math.floor(next() * 5);
  return Array.from({ length: size }, () => UNIVERSE[Math.floor(next() * UNIVERSE.length)]!);
}

const SEEDED = {
  viewer: ['users:read', 'documents:read', 'items:read'],
  editor: ['users:read', 'documents:read', 'items:read', 'users:write', 'documents:write', 'payments:write'],
  admin: ['*:*'],
};

describe('parsePermission / isValidPermission', () => {
  it.each([
    ['users:read', { resource: 'users', action: 'read' }],
    ['*:*', { resource: '*', action: '*' }],
    ['users:*', { resource: 'users', action: '*' }],
    ['*:read', { resource: '*', action: 'read' }],
    ['api-keys:rotate_all', { resource: 'api-keys', action: 'rotate_all' }],
    ['v2:read', { resource: 'v2', action: 'read' }],
  ])('parses %j', (text, parts) => {
    expect(parsePermission(text)).toEqual(parts);
    expect(isValidPermission(text)).toBe(true);
  });

  it.each([
    '',
    'users',
    'users:',
    ':read',
    'users:read:extra',
    'Users:read',
    'users:Read',
    '1users:read',
    '_users:read',
    'users:-read',
    'users*:read',
    'us*rs:read',
    '**:read',
    ' users:read',
    'users:read ',
    'users :read',
    'users:read\n',
    'usérs:read',
  ])('refuses %j', (text) => {
    expect(parsePermission(text)).toBeUndefined();
    expect(isValidPermission(text)).toBe(false);
  });

  it('refuses non-strings', () => {
    expect(parsePermission(undefined as never)).toBeUndefined();
    expect(isValidPermission(42 as never)).toBe(false);
  });
});

describe('permissionImplies', () => {
  it.each([
    ['users:read', 'users:read', true],
    ['users:*', 'users:delete', true],
    ['*:read', 'documents:read', true],
    ['*:*', 'audit:write', true],
    ['users:read', 'users:write', false],
    ['users:read', 'documents:read', false],
    ['users:*', 'documents:read', false],
    ['*:read', 'audit:write', false],
  ])('%j implies %j: %s', (granted, required, expected) => {
    expect(permissionImplies(granted, required)).toBe(expected);
  });

  it('never satisfies a required wildcard, even with *:*', () => {
    for (const granted of UNIVERSE) {
      for (const required of ['*:*', 'users:*', '*:read']) {
        expect(permissionImplies(granted, required)).toBe(false);
      }
    }
  });

  it('is false for invalid permissions on either side', () => {
    expect(permissionImplies('users:read ', 'users:read')).toBe(false);
    expect(permissionImplies('*', 'users:read')).toBe(false);
    expect(permissionImplies('users:read', 'users')).toBe(false);
  });
});

describe('hasPermission / hasAllPermissions / hasAnyPermission', () => {
  it('checks the seeded roles', () => {
    expect(hasPermission(SEEDED.viewer, 'users:read')).toBe(true);
    expect(hasPermission(SEEDED.viewer, 'users:write')).toBe(false);
    expect(hasPermission(SEEDED.editor, 'payments:write')).toBe(true);
    expect(hasPermission(SEEDED.editor, 'users:delete')).toBe(false);
    expect(hasPermission(SEEDED.admin, 'audit:read')).toBe(true);
    expect(hasPermission(SEEDED.admin, 'keys:admin')).toBe(true);
  });

  it('never lets *:read grant a write', () => {
    expect(hasPermission(['*:read'], 'audit:read')).toBe(true);
    expect(hasPermission(['*:read'], 'audit:write')).toBe(false);
    expect(hasPermission(['*:read', 'users:*'], 'audit:write')).toBe(false);
  });

  it('never satisfies a required wildcard', () => {
    expect(hasPermission(['*:*'], '*:*')).toBe(false);
    expect(hasPermission(['users:*'], 'users:*')).toBe(false);
    expect(hasPermission(UNIVERSE, '*:read')).toBe(false);
  });

  it('ignores invalid granted entries and refuses invalid requirements', () => {
    expect(hasPermission(['USERS:READ', 'users :read', ''], 'users:read')).toBe(false);
    expect(hasPermission(['*:*'], 'not a permission')).toBe(false);
    expect(hasPermission([], 'users:read')).toBe(false);
  });

  it('combines requirements', () => {
    expect(hasAllPermissions(SEEDED.editor, ['users:read', 'users:write'])).toBe(true);
    expect(hasAllPermissions(SEEDED.viewer, ['users:read', 'users:write'])).toBe(false);
    expect(hasAllPermissions(SEEDED.viewer, [])).toBe(true);
    expect(hasAnyPermission(SEEDED.viewer, ['users:write', 'users:read'])).toBe(true);
    expect(hasAnyPermission(SEEDED.viewer, ['users:write', 'audit:read'])).toBe(false);
    expect(hasAnyPermission(SEEDED.admin, [])).toBe(false);
  });
});

describe('intersectPermissions', () => {
  it.each([
    [['*:*'], ['users:read'], ['users:read']],
    [['users:read'], ['*:*'], ['users:read']],
    [['documents:*'], ['*:read'], ['documents:read']],
    [['users:read'], ['documents:read'], []],
    [['*:*'], ['*:*'], ['*:*']],
    [['users:*'], ['*:*'], ['users:*']],
    [['users:*', '*:read'], ['*:*'], ['*:read', 'users:*']],
    [['users:*', 'users:read'], ['users:*'], ['users:*']],
    [
      ['*:read', '*:write'],
      ['users:*', 'documents:read'],
      ['documents:read', 'users:read', 'users:write'],
    ],
    [['users:read', 'users:read'], ['users:read'], ['users:read']],
    [[], ['*:*'], []],
    [['*:*', 'bad permission'], ['users:read', 'BAD'], ['users:read']],
  ])('intersect(%j, %j) = %j', (a, b, expected) => {
    expect(intersectPermissions(a, b)).toEqual(expected);
  });

  it('grants exactly what both sets grant (property over generated sets)', () => {
    const next = random(20260101);
    for (let round = 0; round < 2000; round++) {
      const a = randomSet(next);
      const b = randomSet(next);
      const meet = intersectPermissions(a, b);
      for (const p of CONCRETE) {
        expect(hasPermission(meet, p), `${JSON.stringify(a)} ∩ ${JSON.stringify(b)} for ${p}`).toBe(
          hasPermission(a, p) && hasPermission(b, p),
        );
      }
    }
  });

  it('is commutative, sorted, duplicate-free and keeps no entry another one covers', () => {
    const next = random(7);
    for (let round = 0; round < 500; round++) {
      const a = randomSet(next);
      const b = randomSet(next);
      const meet = intersectPermissions(a, b);
      expect(intersectPermissions(b, a)).toEqual(meet);
      expect([...meet].sort()).toEqual(meet);
      expect(new Set(meet).size).toBe(meet.length);
      for (const x of meet) {
        for (const y of meet) {
          if (x === y) continue;
          const [xr, xa] = x.split(':');
          const [yr, ya] = y.split(':');
          const covered = (xr === '*' || xr === yr) && (xa === '*' || xa === ya);
          expect(covered, `${x} covers ${y} in ${JSON.stringify(meet)}`).toBe(false);
        }
      }
    }
  });

  it('never widens either side', () => {
    expect(intersectPermissions(['*:read'], ['*:*'])).toEqual(['*:read']);
    expect(hasPermission(intersectPermissions(['*:read'], ['audit:*']), 'audit:write')).toBe(false);
  });
});

describe('effectiveKeyPermissions', () => {
  it('gives a key without scopes all of its principal permissions', () => {
    expect(effectiveKeyPermissions(SEEDED.viewer, null)).toEqual(['documents:read', 'items:read', 'users:read']);
    expect(effectiveKeyPermissions(SEEDED.admin, null)).toEqual(['*:*']);
  });

  it('narrows to the scopes and never widens past the principal', () => {
    expect(effectiveKeyPermissions(SEEDED.admin, ['users:read'])).toEqual(['users:read']);
    expect(effectiveKeyPermissions(SEEDED.viewer, ['users:*', 'audit:read'])).toEqual(['users:read']);
    expect(effectiveKeyPermissions(SEEDED.viewer, ['*:*'])).toEqual(['documents:read', 'items:read', 'users:read']);
  });

  it('grants nothing for empty scopes (only null means everything)', () => {
    expect(effectiveKeyPermissions(SEEDED.admin, [])).toEqual([]);
  });
});
