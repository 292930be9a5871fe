import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { SECURITY_REDIS } from '../security.constants.js';

/** State of one dependency: `up`, `down`, or not used (`none` for the database, `memory` for Redis). */
export type DependencyState = 'up' | 'down' | 'none' | 'memory';

/** What `GET /health` and `npm run cli -- health` answer. */
export interface SecurityHealthReport {
  status: 'ok' | 'degraded';
  database: DependencyState;
  redis: DependencyState;
}

const CHECK_TIMEOUT_MS = 1_000;

/** Checks the stores the security features depend on, each within one second. */
@Injectable()
export class SecurityHealth {
  constructor(
    @Optional() @Inject(DataSource) private readonly dataSource: DataSource | null,
    @Inject(SECURITY_REDIS) private readonly redis: Redis | null,
  ) {}

  async check(): Promise<SecurityHealthReport> {
    const [database, redis] = await Promise.all([this.database(), this.redisState()]);
    const ok = database !== 'down' && redis !== 'down';
    return { status: ok ? 'ok' : 'degraded', database, redis };
  }

  private async database(): Promise<DependencyState> {
    if (!this.dataSource) return 'none';
    if (!this.dataSource.isInitialized) return 'down';
    return (await withTimeout(this.dataSource.query('SELECT 1'))) ? 'up' : 'down';
  }

  private async redisState(): Promise<DependencyState> {
    if (!this.redis) return 'memory';
    return (await withTimeout(this.redis.ping())) ? 'up' : 'down';
  }
}

async function withTimeout(work: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work.then(() => true as const), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
