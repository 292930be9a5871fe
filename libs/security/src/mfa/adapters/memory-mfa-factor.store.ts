import type { SealedSecret } from '../../signing/core/secret-box.js';
import { MfaFactorStore, type MfaFactorRecord } from '../mfa-factor.store.js';

/** MFA factors in this process only (no database). */
export class MemoryMfaFactorStore extends MfaFactorStore {
  readonly kind = 'memory' as const;
  private readonly factors = new Map<string, MfaFactorRecord>();
  private readonly recovery = new Map<string, Map<string, Date | null>>();

  get(principalId: string): Promise<MfaFactorRecord | undefined> {
    const factor = this.factors.get(principalId);
    return Promise.resolve(factor ? copyOf(factor) : undefined);
  }

  savePending(principalId: string, pending: SealedSecret, _at: Date): Promise<void> {
    const existing = this.factors.get(principalId);
    this.factors.set(principalId, {
      principalId,
      secret: existing?.secret ?? null,
      pending: { ...pending },
      lastUsedStep: existing?.lastUsedStep ?? null,
      activatedAt: existing?.activatedAt ?? null,
    });
    return Promise.resolve();
  }

  activate(
    principalId: string,
    pending: SealedSecret,
    recoveryHashes: readonly string[],
    step: number,
    at: Date,
  ): Promise<boolean> {
    const existing = this.factors.get(principalId);
    if (!existing?.pending || existing.pending.ciphertext !== pending.ciphertext) return Promise.resolve(false);
    this.factors.set(principalId, {
      principalId,
      secret: existing.pending,
      pending: null,
      lastUsedStep: step,
      activatedAt: at,
    });
    this.recovery.set(principalId, new Map(recoveryHashes.map((hash) => [hash, null])));
    return Promise.resolve(true);
  }

  claimStep(principalId: string, step: number): Promise<boolean> {
    const existing = this.factors.get(principalId);
    if (!existing?.secret || (existing.lastUsedStep !== null && existing.lastUsedStep >= step))
      return Promise.resolve(false);
    this.factors.set(principalId, { ...existing, lastUsedStep: step });
    return Promise.resolve(true);
  }

  consumeRecoveryCode(principalId: string, hash: string, at: Date): Promise<boolean> {
    const codes = this.recovery.get(principalId);
    if (!codes || !codes.has(hash) || codes.get(hash) !== null) return Promise.resolve(false);
    codes.set(hash, at);
    return Promise.resolve(true);
  }

  remainingRecoveryCodes(principalId: string): Promise<number> {
    const codes = this.recovery.get(principalId);
    return Promise.resolve(codes ? [...codes.values()].filter((usedAt) => usedAt === null).length : 0);
  }
}

function copyOf(factor: MfaFactorRecord): MfaFactorRecord {
  return {
    ...factor,
    secret: factor.secret ? { ...factor.secret } : null,
    pending: factor.pending ? { ...factor.pending } : null,
    activatedAt: factor.activatedAt ? new Date(factor.activatedAt) : null,
  };
}
