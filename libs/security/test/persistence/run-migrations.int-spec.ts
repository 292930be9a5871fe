import { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { securityDataSourceOptions } from '../../src/persistence/data-source-options.js';
import { EMBEDDED_POOL_SIZE } from '../../src/persistence/embedded-postgres.js';
import { SECURITY_MIGRATIONS } from '../../src/persistence/index.js';
import { runMigrationsExclusively } from '../../src/persistence/run-migrations.js';
import { POSTGRES_TARGETS, type SuiteDatabase } from '../support/migrated-database.js';

// Instances booting together on an empty database: each runs the migrations under one advisory lock, so
// the first applies them and the others wait and find nothing pending (without the lock they race on the
// same CREATE TABLE and all but one fail to boot).

describe.each(POSTGRES_TARGETS)('runMigrationsExclusively on $label', (target) => {
  let database: SuiteDatabase;
  const sources: DataSource[] = [];
  const open = async () => {
    const options = securityDataSourceOptions({
      url: database.url,
      poolSize: database.embedded ? EMBEDDED_POOL_SIZE : 2,
    });
    const source = await new DataSource(options).initialize();
    sources.push(source);
    return source;
  };

  beforeAll(async () => {
    database = await target.open();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(sources.map((source) => source.destroy()));
    await database?.close();
  });

  it('applies every migration once when several instances run them at the same time', async () => {
    // The embedded database has one session: its "instances" are one process's, one after another.
    const count = database.embedded ? 1 : 4;
    const instances = await Promise.all(Array.from({ length: count }, open));

    const applied = await Promise.all(instances.map((source) => runMigrationsExclusively(source)));

    const names = applied.flat().map((migration) => migration.name);
    expect(names.sort()).toEqual(SECURITY_MIGRATIONS.map((migration) => migration.name).sort());
    expect(applied.filter((list) => list.length > 0)).toHaveLength(1);
    const [{ n }] = await instances[0]!.query('SELECT count(*)::int AS n FROM security_migrations');
    expect(n).toBe(SECURITY_MIGRATIONS.length);
    // Run again: nothing pending, and the lock was released (this would wait for ever otherwise).
    expect(await runMigrationsExclusively(instances[instances.length - 1]!)).toEqual([]);
  }, 60_000);
});
