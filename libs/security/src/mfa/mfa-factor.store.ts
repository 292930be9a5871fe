import type { SealedSecret } from '../signing/core/secret-box.js';

/** A principal's TOTP factor as stored: secrets sealed under the master key, never in clear. */
export interface MfaFactorRecord {
  readonly principalId: string;
  /** The active secret; absent until the first activation. */
  readonly secret: SealedSecret | null;
  /** A secret enrolled and not yet confirmed with a code. */
  readonly pending: SealedSecret | null;
  /** The newest TOTP time step accepted: codes of this step or older are refused (no code accepted twice). */
  readonly lastUsedStep: number | null;
  readonly activatedAt: Date | null;
}

/** TOTP factors and recovery codes (`mfa_factors`, `mfa_recovery_codes`). Every change is atomic. */
export abstract class MfaFactorStore {
  abstract readonly kind: 'memory' | 'postgres';
  abstract get(principalId: string): Promise<MfaFactorRecord | undefined>;
  /** Stores a new pending secret (replacing an older pending one); the active one stays until activation. */
  abstract savePending(principalId: string, pending: SealedSecret, at: Date): Promise<void>;
  /**
   * Makes the pending secret active if it is still `pending` (compared by ciphertext), replaces every recovery
   * code with `recoveryHashes`, and sets the last used step. False when the pending secret changed meanwhile.
   */
  abstract activate(
    principalId: string,
    pending: SealedSecret,
    recoveryHashes: readonly string[],
    step: number,
    at: Date,
  ): Promise<boolean>;
  /** Records `step` as used if it is newer than the last used one; false when it is not (a replay). */
  abstract claimStep(principalId: string, step: number): Promise<boolean>;
  /** Marks the recovery code used if it exists and is unused; false otherwise. */
  abstract consumeRecoveryCode(principalId: string, hash: string, at: Date): Promise<boolean>;
  /** Recovery codes not used yet. */
  abstract remainingRecoveryCodes(principalId: string): Promise<number>;
}
