/**
 * Access scopes: which rows of a list a principal may see, described as data by a policy and turned
 * into a SQL condition here, so that list endpoints filter in the database instead of leaking rows
 * (or page counts) the caller may not see. Nothing from the scope is ever written into the SQL text
 * but identifiers checked against `SQL_IDENTIFIER_PATTERN`; every value is a named parameter.
 */

/** One condition on a row of the listed table (the query's main alias). */
export type AccessCondition =
  /** `alias.column = value`, e.g. `owner_id` = the principal's id, `department` = theirs. */
  | { kind: 'column-equals'; column: string; value: string | number | boolean }
  /**
   * The row's id (`idColumn`, compared as text) has a `resource_grants` row for the principal, the
   * resource type and one of `actions`; a `*` grant always counts. No actions: nothing matches.
   */
  | { kind: 'granted'; resourceType: string; idColumn: string; principalId: string; actions: readonly string[] }
  /** Every condition holds. An empty list matches nothing (never "vacuously everything"). */
  | { kind: 'all-of'; conditions: readonly AccessCondition[] };

/** What a principal may see: every row, no row, or the rows matching at least one condition. */
export type AccessScope =
  | { kind: 'everything' }
  | { kind: 'nothing' }
  /** An empty list matches nothing (deny by default). */
  | { kind: 'any-of'; conditions: readonly AccessCondition[] };

/** A SQL condition with TypeORM-style named parameters (`:name`) and their values. */
export interface AccessScopeSql {
  sql: string;
  params: Record<string, unknown>;
}

/** What an alias or column must look like to be written into SQL: a lower-case, unquoted-style identifier. */
export const SQL_IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]*$/;
/** Postgres truncates longer identifiers, which could silently name another column. */
const MAX_IDENTIFIER_LENGTH = 63;
const PARAM_PREFIX_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const WILDCARD_ACTION = '*';
const TRUE_SQL = '1=1';
const FALSE_SQL = '1=0';

/** Default prefix of parameter names: `:access_p0`, `:access_p1`, ... */
export const DEFAULT_ACCESS_PARAM_PREFIX = 'access_';

/**
 * Translates a scope into a condition on the rows of `alias`, for a `WHERE` clause. Identifiers are
 * checked and double-quoted (so `user` or `order` work too); values become parameters named
 * `<paramPrefix>p0`, `<paramPrefix>p1`, ...: choose a prefix no other parameter of the query starts
 * with. `everything` is `1=1`; `nothing`, an empty `any-of`, an empty `all-of` and a `granted` without
 * actions are `1=0`; so is a `granted` for a principal id that is not a uuid (it can hold no grant).
 * Throws a `TypeError` for an identifier outside `SQL_IDENTIFIER_PATTERN`, a value that is not a
 * string, finite number or boolean, or an unknown kind: a malformed scope must never widen access.
 * @example
 * accessScopeToSql({ kind: 'any-of', conditions: [{ kind: 'column-equals', column: 'owner_id', value: me }] }, 'd')
 * // { sql: '("d"."owner_id" = :access_p0)', params: { access_p0: me } }
 */
export function accessScopeToSql(
  scope: AccessScope,
  alias: string,
  paramPrefix: string = DEFAULT_ACCESS_PARAM_PREFIX,
): AccessScopeSql {
  const quotedAlias = quoteIdentifier(alias, 'alias');
  if (typeof paramPrefix !== 'string' || !PARAM_PREFIX_PATTERN.test(paramPrefix)) {
    throw new TypeError('accessScopeToSql: the parameter prefix must match /^[A-Za-z_][A-Za-z0-9_]*$/');
  }
  const params: Record<string, unknown> = {};
  const param = (value: unknown): string => {
    const name = `${paramPrefix}p${Object.keys(params).length}`;
    params[name] = value;
    return `:${name}`;
  };
  objectOf(scope, 'scope');
  switch (scope.kind) {
    case 'everything':
      return { sql: TRUE_SQL, params };
    case 'nothing':
      return { sql: FALSE_SQL, params };
    case 'any-of': {
      const conditions = listOf<AccessCondition>(scope.conditions, 'any-of');
      if (conditions.length === 0) return { sql: FALSE_SQL, params };
      const sql = conditions.map((condition) => `(${conditionToSql(condition, quotedAlias, param)})`).join(' OR ');
      return { sql, params };
    }
    default:
      throw new TypeError(`accessScopeToSql: unknown scope kind ${kindName((scope as { kind: unknown }).kind)}`);
  }
}

function conditionToSql(condition: AccessCondition, alias: string, param: (value: unknown) => string): string {
  objectOf(condition, 'condition');
  switch (condition.kind) {
    case 'column-equals': {
      const column = quoteIdentifier(condition.column, 'column');
      return `${alias}.${column} = ${param(scalar(condition.value))}`;
    }
    case 'granted': {
      const idColumn = quoteIdentifier(condition.idColumn, 'idColumn');
      const resourceType = text(condition.resourceType, 'resourceType');
      const principalId = text(condition.principalId, 'principalId');
      const actions = listOf<unknown>(condition.actions, 'actions').map((action) => text(action, 'action'));
      // Nothing can be granted to a non-uuid, and Postgres would reject it as a uuid parameter.
      if (actions.length === 0 || !UUID_PATTERN.test(principalId)) return FALSE_SQL;
      const principalParam = param(principalId);
      const typeParam = param(resourceType);
      const actionParams = [...new Set([...actions, WILDCARD_ACTION])].map(param);
      // resource_id is text: the id column is cast to text, whatever its type (integer, uuid).
      return (
        `CAST(${alias}.${idColumn} AS text) IN (SELECT resource_id FROM resource_grants ` +
        `WHERE principal_id = ${principalParam} AND resource_type = ${typeParam} ` +
        `AND action IN (${actionParams.join(', ')}))`
      );
    }
    case 'all-of': {
      const conditions = listOf<AccessCondition>(condition.conditions, 'all-of');
      if (conditions.length === 0) return FALSE_SQL;
      return conditions.map((inner) => `(${conditionToSql(inner, alias, param)})`).join(' AND ');
    }
    default:
      throw new TypeError(
        `accessScopeToSql: unknown condition kind ${kindName((condition as { kind: unknown }).kind)}`,
      );
  }
}

function quoteIdentifier(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length > MAX_IDENTIFIER_LENGTH || !SQL_IDENTIFIER_PATTERN.test(name)) {
    // The name itself is left out of the message: it may be hostile.
    throw new TypeError(`accessScopeToSql: the ${what} must match /^[a-z_][a-z0-9_]*$/ (at most 63 characters)`);
  }
  return `"${name}"`;
}

function scalar(value: unknown): string | number | boolean {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new TypeError('accessScopeToSql: a column-equals value must be a string, a finite number or a boolean');
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new TypeError(`accessScopeToSql: ${what} must be a string`);
  return value;
}

function objectOf(value: unknown, what: string): void {
  if (typeof value !== 'object' || value === null)
    throw new TypeError(`accessScopeToSql: the ${what} must be an object`);
}

function listOf<T>(value: unknown, what: string): readonly T[] {
  if (!Array.isArray(value)) throw new TypeError(`accessScopeToSql: ${what} must be an array`);
  return value as readonly T[];
}

/** The kind for an error message when it looks like one, else only its type: it may be hostile. */
function kindName(kind: unknown): string {
  return typeof kind === 'string' && /^[a-z-]{1,32}$/.test(kind) ? JSON.stringify(kind) : typeof kind;
}
