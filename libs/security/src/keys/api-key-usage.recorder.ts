import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { ApiKeyStore } from './api-key.store.js';

const FLUSH_INTERVAL_MS = 1_000;
const MAX_PENDING = 10_000;

/**
 * Collects `last_used_at` updates and writes them in one batch per second, so authentication never
 * waits for a write. Flushed on shutdown.
 */
@Injectable()
export class ApiKeyUsageRecorder implements OnModuleDestroy {
  private readonly logger = new Logger('Security');
  private pending = new Map<string, Date>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;

  constructor(private readonly keys: ApiKeyStore) {
    this.timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS).unref();
  }

  /** Notes a use; the newest time per key wins. */
  record(id: string, at: Date): void {
    const previous = this.pending.get(id);
    if (!previous || previous < at) this.pending.set(id, at);
    if (this.pending.size >= MAX_PENDING) void this.flush();
  }

  /** Writes what is pending. Failures are logged and the batch is dropped (usage is best effort). */
  async flush(): Promise<void> {
    await this.flushing;
    if (this.pending.size === 0) return;
    const batch = [...this.pending].map(([id, at]) => ({ id, at }));
    this.pending = new Map();
    this.flushing = this.keys.recordUsage(batch).catch((error: unknown) => {
      this.logger.warn(`could not record API key usage for ${batch.length} keys: ${String(error)}`);
    });
    await this.flushing;
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
