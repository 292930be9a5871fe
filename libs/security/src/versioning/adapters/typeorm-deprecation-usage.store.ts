import type { DataSource, EntityManager } from 'typeorm';
import { callKeyOf, mergeCounts } from '../core/deprecation-report.js';
import type { DeprecationPhase } from '../core/deprecation.js';
import { DeprecationUsageStore, type DeprecatedCallCount } from '../deprecation-usage.store.js';

// Rows per statement: a few hundred parameters' worth of arrays, far below any limit.
const BATCH = 500;

interface Row {
  version: string;
  method: string;
  path: string;
  principal_id: string;
  key_id: string;
  count: string;
  refused: string;
  first_seen_at: Date;
  last_seen_at: Date;
  last_phase: string;
}

/**
 * `deprecated_calls` in PostgreSQL. One upsert per batch adds the counts to what other instances wrote;
 * no version, principal or key is stored as the empty string (the columns are part of the primary key).
 */
export class TypeOrmDeprecationUsageStore extends DeprecationUsageStore {
  readonly kind = 'postgres' as const;

  constructor(private readonly dataSource: DataSource) {
    super();
  }

  async add(counts: readonly DeprecatedCallCount[]): Promise<void> {
    // One statement may not touch a row twice: merge equal keys first.
    const merged = new Map<string, DeprecatedCallCount>();
    for (const count of counts) {
      const id = callKeyOf(count);
      const existing = merged.get(id);
      merged.set(id, existing ? mergeCounts(existing, count) : count);
    }
    // One fixed order (two instances upserting the same rows in opposite orders would deadlock), and one
    // transaction (a failed later batch must not leave earlier ones written: the caller retries them all).
    const rows = [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
    if (rows.length === 0) return;
    await this.dataSource.transaction(async (manager) => {
      for (let start = 0; start < rows.length; start += BATCH) {
        await this.upsert(manager, rows.slice(start, start + BATCH));
      }
    });
  }

  private async upsert(manager: EntityManager, batch: readonly DeprecatedCallCount[]): Promise<void> {
    await manager.query(
      `INSERT INTO "deprecated_calls"
           ("version", "method", "path", "principal_id", "key_id", "count", "refused",
            "first_seen_at", "last_seen_at", "last_phase")
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
           $7::bigint[], $8::timestamptz[], $9::timestamptz[], $10::text[])
         ON CONFLICT ("version", "method", "path", "principal_id", "key_id") DO UPDATE SET
           "count" = "deprecated_calls"."count" + EXCLUDED."count",
           "refused" = "deprecated_calls"."refused" + EXCLUDED."refused",
           "first_seen_at" = LEAST("deprecated_calls"."first_seen_at", EXCLUDED."first_seen_at"),
           "last_phase" = CASE WHEN EXCLUDED."last_seen_at" >= "deprecated_calls"."last_seen_at"
             THEN EXCLUDED."last_phase" ELSE "deprecated_calls"."last_phase" END,
           "last_seen_at" = GREATEST("deprecated_calls"."last_seen_at", EXCLUDED."last_seen_at")`,
      [
        batch.map((row) => row.version ?? ''),
        batch.map((row) => row.method),
        batch.map((row) => row.path),
        batch.map((row) => row.principalId ?? ''),
        batch.map((row) => row.keyId ?? ''),
        batch.map((row) => String(row.count)),
        batch.map((row) => String(row.refused)),
        batch.map((row) => row.firstSeenAt.toISOString()),
        batch.map((row) => row.lastSeenAt.toISOString()),
        batch.map((row) => row.lastPhase),
      ],
    );
  }

  async list(): Promise<DeprecatedCallCount[]> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT "version", "method", "path", "principal_id", "key_id", "count", "refused",
              "first_seen_at", "last_seen_at", "last_phase"
         FROM "deprecated_calls"
        ORDER BY "version" COLLATE "C", "path" COLLATE "C", "method" COLLATE "C", "deprecated_calls"."count" DESC,
                 "principal_id" COLLATE "C", "key_id" COLLATE "C"`,
    );
    return rows.map((row) => ({
      version: row.version === '' ? null : row.version,
      method: row.method,
      path: row.path,
      principalId: row.principal_id === '' ? null : row.principal_id,
      keyId: row.key_id === '' ? null : row.key_id,
      count: Number(row.count),
      refused: Number(row.refused),
      firstSeenAt: new Date(row.first_seen_at),
      lastSeenAt: new Date(row.last_seen_at),
      lastPhase: row.last_phase as DeprecationPhase,
    }));
  }
}
