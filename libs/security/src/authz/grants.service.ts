import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import type { Actor } from '../audit/actor.js';
import { SecurityEvents } from '../audit/security-events.service.js';
import { SecurityChangeBus } from '../changes/security-change.bus.js';
import { SecurityOperationError } from '../core/errors.js';
import { GrantStore } from './grant.store.js';

const CACHE_TTL_MS = 30_000;
const CACHE_MAX = 10_000;

/** One grant as the API asks for it. */
export interface GrantInput {
  readonly principalId: string;
  readonly resourceType: string;
  readonly resourceId: string;
  readonly action: string;
}

/**
 * Explicit grants of an action on one resource to one principal. Reads are cached per principal and
 * resource and dropped, on every instance, when the principal's grants, roles or state change.
 */
@Injectable()
export class Grants implements OnModuleDestroy {
  private readonly cache = new LRUCache<string, readonly string[]>({ max: CACHE_MAX, ttl: CACHE_TTL_MS });
  private generation = 0;
  private readonly unsubscribe: Array<() => void>;

  constructor(
    private readonly store: GrantStore,
    private readonly bus: SecurityChangeBus,
    private readonly events: SecurityEvents,
  ) {
    this.unsubscribe = [
      bus.subscribe((change) => {
        if (change.kind === 'principal') this.forget(change.id);
        else if (change.kind === 'all') this.forgetAll();
      }),
      bus.onResync(() => this.forgetAll()),
    ];
  }

  /** Actions `principalId` was granted on the resource (`*` = all). */
  async actionsOn(principalId: string, resourceType: string, resourceId: string): Promise<readonly string[]> {
    const key = `${principalId}\u0000${resourceType}\u0000${resourceId}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const generation = this.generation;
    const actions = await this.store.actionsOn(principalId, resourceType, resourceId);
    if (generation === this.generation) this.cache.set(key, actions);
    return actions;
  }

  async add(grant: GrantInput, actor: Actor): Promise<{ added: boolean }> {
    const added = await this.guarded(() => this.store.add({ ...grant, grantedBy: actor.label }));
    if (added) await this.changed('GRANT_ADDED', grant, actor);
    return { added };
  }

  async remove(grant: GrantInput, actor: Actor): Promise<{ removed: boolean }> {
    const removed = await this.guarded(() =>
      this.store.remove(grant.principalId, grant.resourceType, grant.resourceId, grant.action),
    );
    if (removed) await this.changed('GRANT_REMOVED', grant, actor);
    return { removed };
  }

  list(principalId: string, resourceType?: string) {
    return this.store.listForPrincipal(principalId, resourceType);
  }

  onModuleDestroy(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
  }

  private async changed(type: 'GRANT_ADDED' | 'GRANT_REMOVED', grant: GrantInput, actor: Actor): Promise<void> {
    this.forget(grant.principalId);
    await this.bus.announce({ kind: 'principal', id: grant.principalId });
    await this.events.record({
      type,
      outcome: 'success',
      principalId: actor.principalId,
      request: actor.request,
      actor: actor.label,
      details: { ...grant },
    });
  }

  // The store's own refusals (bad names, unknown principal) become operation errors: 400 or 404.
  private async guarded<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_SECURITY_INVALID_GRANT')
        throw new SecurityOperationError(code, (error as Error).message, 'invalid');
      if (code === 'ERR_SECURITY_UNKNOWN_PRINCIPAL')
        throw new SecurityOperationError(code, 'No such principal', 'not_found');
      throw error;
    }
  }

  private forget(principalId: string): void {
    this.generation++;
    const prefix = `${principalId}\u0000`;
    for (const key of this.cache.keys()) if (key.startsWith(prefix)) this.cache.delete(key);
  }

  private forgetAll(): void {
    this.generation++;
    this.cache.clear();
  }
}
