import { callKeyOf, compareCounts, mergeCounts } from '../core/deprecation-report.js';
import { DeprecationUsageStore, type DeprecatedCallCount } from '../deprecation-usage.store.js';

/** Usage of deprecated routes in this process only (no database configured). */
export class MemoryDeprecationUsageStore extends DeprecationUsageStore {
  readonly kind = 'memory' as const;
  private readonly rows = new Map<string, DeprecatedCallCount>();

  add(counts: readonly DeprecatedCallCount[]): Promise<void> {
    for (const count of counts) {
      const id = callKeyOf(count);
      const existing = this.rows.get(id);
      this.rows.set(id, existing ? mergeCounts(existing, count) : { ...count });
    }
    return Promise.resolve();
  }

  list(): Promise<DeprecatedCallCount[]> {
    return Promise.resolve([...this.rows.values()].map((row) => ({ ...row })).sort(compareCounts));
  }
}
