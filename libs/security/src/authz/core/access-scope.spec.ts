import { describe, expect, it } from 'vitest';
import { accessScopeToSql, type AccessCondition, type AccessScope } from './access-scope.js';

const ALICE = '6f1c8a52-3d4e-4b7a-9c1d-2e3f4a5b6c7d';
const anyOf = (...conditions: AccessCondition[]): AccessScope => ({ kind: 'any-of', conditions });
const owner = (value: string | number | boolean = ALICE): AccessCondition => ({
  kind: 'column-equals',
  column: 'owner_id',
  value,
});
const granted = (actions: readonly string[], extra: Partial<AccessCondition & { kind: 'granted' }> = {}) =>
  ({
    kind: 'granted',
    resourceType: 'documents',
    idColumn: 'id',
    principalId: ALICE,
    actions,
    ...extra,
  }) as const satisfies AccessCondition;

const HOSTILE_VALUES = [
  "') OR 1=1 --",
  "x' OR '1'='1",
  'a"; DROP TABLE docs; --',
  "O'Brien",
  ':evil_param',
  '::text',
  '$1',
  '\\',
  '\u0000',
  '*/ OR 1=1 /*',
];

/** Every value a scope holds must reach the database as a parameter, never inside the SQL text. */
function expectOnlyParameters(result: { sql: string; params: Record<string, unknown> }, values: readonly unknown[]) {
  for (const value of values) {
    if (typeof value === 'string' && value.length > 0) expect(result.sql).not.toContain(value);
    expect(Object.values(result.params)).toContainEqual(value);
  }
  expect(result.sql).not.toMatch(/'/);
  expect(result.sql).not.toContain('--');
  expect(result.sql).not.toContain(';');
}

describe('accessScopeToSql', () => {
  describe('scopes without conditions', () => {
    it('lets everything through with 1=1', () => {
      expect(accessScopeToSql({ kind: 'everything' }, 'd')).toEqual({ sql: '1=1', params: {} });
    });

    it('denies with 1=0 for nothing and for an empty any-of', () => {
      expect(accessScopeToSql({ kind: 'nothing' }, 'd')).toEqual({ sql: '1=0', params: {} });
      expect(accessScopeToSql(anyOf(), 'd')).toEqual({ sql: '1=0', params: {} });
    });
  });

  describe('column-equals', () => {
    it('compares the qualified, quoted column with a parameter', () => {
      expect(accessScopeToSql(anyOf(owner()), 'd')).toEqual({
        sql: '("d"."owner_id" = :access_p0)',
        params: { access_p0: ALICE },
      });
    });

    it('keeps numbers and booleans typed as parameters', () => {
      const result = accessScopeToSql(
        anyOf(
          { kind: 'column-equals', column: 'level', value: 3 },
          { kind: 'column-equals', column: 'confidential', value: false },
        ),
        'docs',
      );

      expect(result).toEqual({
        sql: '("docs"."level" = :access_p0) OR ("docs"."confidential" = :access_p1)',
        params: { access_p0: 3, access_p1: false },
      });
    });

    it('quotes reserved words, which the identifier grammar lets through', () => {
      expect(accessScopeToSql(anyOf({ kind: 'column-equals', column: 'order', value: 1 }), 'user').sql).toBe(
        '("user"."order" = :access_p0)',
      );
    });
  });

  describe('granted', () => {
    it('selects granted ids, casting the id column to text, with * added to the actions', () => {
      expect(accessScopeToSql(anyOf(granted(['read'])), 'd')).toEqual({
        sql:
          '(CAST("d"."id" AS text) IN (SELECT resource_id FROM resource_grants WHERE principal_id = :access_p0 ' +
          'AND resource_type = :access_p1 AND action IN (:access_p2, :access_p3)))',
        params: { access_p0: ALICE, access_p1: 'documents', access_p2: 'read', access_p3: '*' },
      });
    });

    it('passes each action as its own parameter, without duplicates, * only once', () => {
      const result = accessScopeToSql(anyOf(granted(['read', 'write', 'read', '*'])), 'd');

      expect(result.sql).toContain('action IN (:access_p2, :access_p3, :access_p4)');
      expect(result.params).toEqual({
        access_p0: ALICE,
        access_p1: 'documents',
        access_p2: 'read',
        access_p3: 'write',
        access_p4: '*',
      });
    });

    it('matches nothing without actions, or for a principal id that is not a uuid', () => {
      expect(accessScopeToSql(anyOf(granted([])), 'd')).toEqual({ sql: '(1=0)', params: {} });
      expect(accessScopeToSql(anyOf(granted(['read'], { principalId: "') OR 1=1 --" })), 'd')).toEqual({
        sql: '(1=0)',
        params: {},
      });
      expect(accessScopeToSql(anyOf(granted(['read'], { principalId: '' })), 'd').sql).toBe('(1=0)');
    });

    it('accepts an upper-case uuid, as Postgres does', () => {
      const result = accessScopeToSql(anyOf(granted(['read'], { principalId: ALICE.toUpperCase() })), 'd');

      expect(Object.values(result.params)).toContain(ALICE.toUpperCase());
    });
  });

  describe('all-of', () => {
    it('joins its conditions with AND inside brackets', () => {
      const result = accessScopeToSql(
        anyOf(owner(), {
          kind: 'all-of',
          conditions: [
            { kind: 'column-equals', column: 'department', value: 'sales' },
            { kind: 'column-equals', column: 'confidential', value: false },
          ],
        }),
        'd',
      );

      expect(result).toEqual({
        sql: '("d"."owner_id" = :access_p0) OR (("d"."department" = :access_p1) AND ("d"."confidential" = :access_p2))',
        params: { access_p0: ALICE, access_p1: 'sales', access_p2: false },
      });
    });

    it('nests, and combines with grants', () => {
      const result = accessScopeToSql(
        anyOf({
          kind: 'all-of',
          conditions: [
            granted(['read']),
            { kind: 'all-of', conditions: [owner(), { kind: 'column-equals', column: 'archived', value: false }] },
          ],
        }),
        'd',
      );

      expect(result.sql).toBe(
        '((CAST("d"."id" AS text) IN (SELECT resource_id FROM resource_grants WHERE principal_id = :access_p0 ' +
          'AND resource_type = :access_p1 AND action IN (:access_p2, :access_p3))) AND ' +
          '(("d"."owner_id" = :access_p4) AND ("d"."archived" = :access_p5)))',
      );
      expect(Object.keys(result.params)).toHaveLength(6);
    });

    it('matches nothing when empty, never vacuously everything', () => {
      expect(accessScopeToSql(anyOf({ kind: 'all-of', conditions: [] }), 'd').sql).toBe('(1=0)');
      expect(accessScopeToSql(anyOf(owner(), { kind: 'all-of', conditions: [] }), 'd').sql).toBe(
        '("d"."owner_id" = :access_p0) OR (1=0)',
      );
    });
  });

  describe('parameter names', () => {
    it('use the given prefix', () => {
      expect(accessScopeToSql(anyOf(owner()), 'd', 'scope2_')).toEqual({
        sql: '("d"."owner_id" = :scope2_p0)',
        params: { scope2_p0: ALICE },
      });
    });

    it('refuse a prefix that TypeORM would not read as one parameter name', () => {
      for (const prefix of ['', 'a-b', 'a.b', 'x y', '1a', "p')--", ':p']) {
        expect(() => accessScopeToSql(anyOf(owner()), 'd', prefix)).toThrow(TypeError);
      }
    });

    it('are unique across a large scope', () => {
      const conditions = Array.from({ length: 12 }, (_, i) => owner(`v${i}`));
      const result = accessScopeToSql(anyOf(...conditions), 'd');

      expect(Object.keys(result.params)).toHaveLength(12);
      expect(result.sql).toContain(':access_p11)');
      expect(result.params.access_p10).toBe('v10');
    });
  });

  describe('hostile input', () => {
    const scopeWith = (value: string) =>
      anyOf(owner(value), granted([value], { resourceType: value }), {
        kind: 'all-of',
        conditions: [{ kind: 'column-equals', column: 'department', value }],
      });

    it.each(HOSTILE_VALUES)('keeps the value %j out of the SQL text', (value) => {
      const result = accessScopeToSql(scopeWith(value), 'd');

      // The text does not depend on the values at all, only the parameters do.
      expect(result.sql).toBe(accessScopeToSql(scopeWith('benign'), 'd').sql);
      expectOnlyParameters(result, [value]);
      expect(Object.values(result.params).filter((v) => v === value)).toHaveLength(4);
    });

    it.each([
      'd; DROP TABLE docs',
      'd" OR 1=1 --',
      'D',
      'docs.id',
      '"d"',
      '1d',
      'd-x',
      '',
      ' d',
      'd\n',
      'é',
      'a'.repeat(64),
    ])('refuses the identifier %j as alias, column or id column', (name) => {
      expect(() => accessScopeToSql(anyOf(owner()), name)).toThrow(TypeError);
      expect(() => accessScopeToSql({ kind: 'everything' }, name)).toThrow(TypeError);
      expect(() => accessScopeToSql(anyOf({ kind: 'column-equals', column: name, value: 1 }), 'd')).toThrow(TypeError);
      expect(() => accessScopeToSql(anyOf(granted(['read'], { idColumn: name })), 'd')).toThrow(TypeError);
      expect(() =>
        accessScopeToSql(
          anyOf({ kind: 'all-of', conditions: [{ kind: 'column-equals', column: name, value: 1 }] }),
          'd',
        ),
      ).toThrow(TypeError);
    });

    it('accepts an identifier of 63 characters', () => {
      expect(accessScopeToSql({ kind: 'everything' }, 'a'.repeat(63)).sql).toBe('1=1');
    });

    it('does not echo a refused identifier in the error', () => {
      expect(() => accessScopeToSql(anyOf(owner()), 'x" OR 1=1')).toThrow(/^(?!.*OR 1=1)/);
    });

    it.each([
      ['an array', ['a', 'b']],
      ['an object', { toString: () => "' OR 1=1" }],
      ['null', null],
      ['undefined', undefined],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['a bigint', 1n],
      ['a function (TypeORM would inline its result as raw SQL)', () => '1=1'],
      ['a Date', new Date(0)],
    ])('refuses %s as a column-equals value', (_label, value) => {
      expect(() =>
        accessScopeToSql(anyOf({ kind: 'column-equals', column: 'owner_id', value: value as never }), 'd'),
      ).toThrow(TypeError);
    });

    it.each([
      ['actions that are not an array', { actions: 'read' as never }],
      ['an action that is not a string', { actions: [['read']] as never }],
      ['an action that is a function', { actions: [() => '1=1'] as never }],
      ['a principal id that is not a string', { principalId: [ALICE] as never }],
      ['a resource type that is not a string', { resourceType: { toString: () => 'documents' } as never }],
    ])('refuses a grant with %s', (_label, extra) => {
      expect(() => accessScopeToSql(anyOf(granted(['read'], extra)), 'd')).toThrow(TypeError);
    });

    it.each([
      ['an unknown scope kind', { kind: 'some-of', conditions: [] }],
      ['a scope without kind', {}],
      ['null as scope', null],
      ['any-of without a list', { kind: 'any-of', conditions: owner() }],
      ['an unknown condition kind', anyOf({ kind: 'none-of', conditions: [] } as never)],
      ['an unknown condition nested in all-of', anyOf({ kind: 'all-of', conditions: [{ kind: 'raw' } as never] })],
      ['null as condition', anyOf(null as never)],
      ['all-of without a list', anyOf({ kind: 'all-of', conditions: 'x' as never })],
    ])('refuses %s rather than widening access', (_label, scope) => {
      expect(() => accessScopeToSql(scope as AccessScope, 'd')).toThrow(TypeError);
    });
  });
});
