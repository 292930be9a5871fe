import { hasPermission } from '../../authz/core/permissions.js';
import { permissionsOfScopes, scopesOf, tokenPermissions } from './token-permissions.js';

describe('scopesOf', () => {
  it('splits scope on spaces, drops empties and repeats', () => {
    expect(scopesOf({ scope: 'items:read  docs items:read' })).toEqual(['items:read', 'docs']);
  });

  it('reads scp (a list or a string) only when scope is absent', () => {
    expect(scopesOf({ scp: ['a', 'b'] })).toEqual(['a', 'b']);
    expect(scopesOf({ scp: 'a b' })).toEqual(['a', 'b']);
    expect(scopesOf({ scope: 'a', scp: ['b'] })).toEqual(['a']);
  });

  it('yields nothing for a missing or odd claim', () => {
    expect(scopesOf({})).toEqual([]);
    expect(scopesOf({ scope: 42 })).toEqual([]);
    expect(scopesOf({ scp: ['a', 1] })).toEqual([]);
  });
});

describe('permissionsOfScopes', () => {
  const map = { docs: ['documents:read', 'documents:write'], 'items.read': ['items:read'], blocked: [] };

  it('maps a listed scope to its permissions', () => {
    expect(permissionsOfScopes(['docs'], map)).toEqual(['documents:read', 'documents:write']);
  });

  it('maps an unlisted concrete permission name to itself, and anything else to nothing', () => {
    expect(permissionsOfScopes(['users:read', 'openid', 'profile', 'items.write'], map)).toEqual(['users:read']);
  });

  it('never lets a scope string widen itself: wildcards come only from the map', () => {
    expect(permissionsOfScopes(['*:*', 'users:*', '*:read'], {})).toEqual([]);
    expect(permissionsOfScopes(['everything'], { everything: ['*:*'] })).toEqual(['*:*']);
  });

  it('lets the map override the identity mapping (here: to nothing)', () => {
    expect(permissionsOfScopes(['items:read'], { 'items:read': [] })).toEqual([]);
  });

  it('does not read inherited properties of the map', () => {
    expect(permissionsOfScopes(['constructor', 'toString', '__proto__'], {})).toEqual([]);
  });
});

describe('tokenPermissions', () => {
  it('intersects what the scopes grant with the roles', () => {
    const editor = ['users:read', 'documents:read', 'items:read', 'users:write', 'documents:write'];
    expect(tokenPermissions(['items:read'], {}, editor)).toEqual(['items:read']);
    expect(tokenPermissions(['docs'], { docs: ['documents:*'] }, editor)).toEqual([
      'documents:read',
      'documents:write',
    ]);
  });

  it('grants nothing for a scope the roles lack', () => {
    expect(tokenPermissions(['documents:write'], {}, ['documents:read', 'items:read'])).toEqual([]);
  });

  it('narrows an admin (*:*) to the scopes', () => {
    const granted = tokenPermissions(['items:read', 'audit:read'], {}, ['*:*']);
    expect(granted).toEqual(['audit:read', 'items:read']);
    expect(hasPermission(granted, 'keys:admin')).toBe(false);
  });

  it('grants nothing without scopes', () => {
    expect(tokenPermissions([], {}, ['*:*'])).toEqual([]);
  });
});
