import { Brackets, type ObjectLiteral, type SelectQueryBuilder } from 'typeorm';
import { accessScopeToSql, type AccessScope } from './core/access-scope.js';

/**
 * Restricts a list query to the rows of its main alias that `scope` lets the caller see, by adding
 * the scope's condition with `andWhere`. Call it after every other `where`: a later `.where()`
 * replaces all conditions (the restriction included) and a later `.orWhere()` escapes it. Conditions
 * added before are first wrapped in brackets, so an earlier `.orWhere()` cannot escape it. Joined
 * tables are not restricted. The main alias must be a lower-case identifier (`SQL_IDENTIFIER_PATTERN`).
 * @example
 * const docs = await restrictToAccessible(repo.createQueryBuilder('doc').orderBy('doc.id'), scope).getMany();
 */
export function restrictToAccessible<T extends ObjectLiteral>(
  qb: SelectQueryBuilder<T>,
  scope: AccessScope,
): SelectQueryBuilder<T> {
  const { sql, params } = accessScopeToSql(scope, qb.alias, freeParamPrefix(qb.getParameters()));
  const { expressionMap } = qb;
  // `a OR b AND scope` would read as `a OR (b AND scope)`: keep what is there together first.
  if (expressionMap.wheres.length > 0) {
    expressionMap.wheres = [{ type: 'simple', condition: { operator: 'brackets', condition: expressionMap.wheres } }];
  }
  return qb.andWhere(
    new Brackets((where) => {
      where.where(sql, params);
    }),
  );
}

/** `access_<n>_` with the smallest n that no parameter of the query starts with, so calls never clash. */
function freeParamPrefix(parameters: ObjectLiteral): string {
  const names = Object.keys(parameters);
  for (let n = 0; ; n++) {
    const prefix = `access_${n}_`;
    if (!names.some((name) => name.startsWith(prefix))) return prefix;
  }
}
