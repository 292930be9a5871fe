import { Inject, Injectable, Optional } from '@nestjs/common';
import { SecurityEvents } from '../audit/security-events.service.js';
import type { SecurityEventType } from '../audit/security-event-types.js';
import { Clock } from '../core/clock.js';
import { MfaCodeRejectedError, SecurityOperationError } from '../core/errors.js';
import type { RequestSummary } from '../http/http-request.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { PasswordHasher } from '../principals/password-hasher.js';
import { PrincipalStore } from '../principals/principal.store.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import { openSecret, sealSecret, type MasterKeyRing } from '../signing/core/secret-box.js';
import { SIGNING_MASTER_KEY_RING } from '../signing/master-keys.js';
import { generateRecoveryCodes, generateTotpSecret, otpauthUri, recoveryCodeHash, verifyTotp } from './core/totp.js';
import { MfaFactorStore } from './mfa-factor.store.js';

/** What `verify` takes: a TOTP code or a recovery code. */
export type SecondFactorProof = { readonly code: string } | { readonly recoveryCode: string };

/** Whether a principal has a second factor, and how many recovery codes are left. */
export interface MfaStatus {
  readonly enrolled: boolean;
  readonly pending: boolean;
  readonly activatedAt: string | null;
  readonly recoveryCodesLeft: number;
}

// The associated data that binds a sealed TOTP secret to its principal: a row copied to another principal fails.
const aad = (principalId: string) => `mfa-totp:${principalId}`;

/**
 * TOTP second factors (RFC 6238): enrolment behind the current password (and a current code to replace an
 * active factor), activation with a first code, which returns single-use recovery codes, and verification.
 * Secrets are sealed under the master keys (`signing.masterKeys`); a code's time step is claimed atomically,
 * so no code is accepted twice; recovery codes are stored as SHA-256 and consumed atomically.
 */
@Injectable()
export class Mfa {
  constructor(
    @Inject(SECURITY_OPTIONS) private readonly options: ResolvedSecurityOptions,
    private readonly store: MfaFactorStore,
    private readonly principals: PrincipalStore,
    private readonly hasher: PasswordHasher,
    private readonly events: SecurityEvents,
    private readonly clock: Clock,
    @Optional() @Inject(SIGNING_MASTER_KEY_RING) private readonly ring?: MasterKeyRing | null,
  ) {}

  /**
   * Starts (or restarts) enrolment: checks the password (and, when a factor is already active, a current
   * code from it), stores a new pending secret and returns the `otpauth://` URI for the authenticator app.
   */
  async enroll(
    principalId: string,
    proof: { password: string; code?: string },
    request?: RequestSummary,
  ): Promise<{ otpauthUri: string }> {
    const ring = this.requireRing();
    const principal = await this.principals.findById(principalId);
    let passwordOk = false;
    // Without a password hash the same work is done, so timing tells nothing about the account.
    if (principal?.passwordHash) passwordOk = await this.hasher.verify(principal.passwordHash, proof.password);
    else await this.hasher.burn(proof.password);
    if (!principal || !passwordOk) {
      throw await this.refuse('MFA_FAILED', principalId, 'wrong_password', request, 'enroll');
    }
    const existing = await this.store.get(principalId);
    if (existing?.secret) {
      // Replacing an active factor needs that factor: a stolen password alone must not move it.
      if (proof.code === undefined)
        throw await this.refuse('MFA_FAILED', principalId, 'code_required', request, 'enroll');
      await this.checkTotp(principalId, ring, existing.secret, proof.code, request, 'enroll');
    }
    const secret = generateTotpSecret();
    const now = this.clock.now();
    await this.store.savePending(principalId, sealSecret(ring, secret, aad(principalId)), new Date(now));
    return { otpauthUri: otpauthUri({ issuer: this.settings().issuer, account: principal.username, secret }) };
  }

  /** Confirms the pending secret with a code from it; returns the recovery codes (shown this once only). */
  async activate(principalId: string, code: string, request?: RequestSummary): Promise<{ recoveryCodes: string[] }> {
    const ring = this.requireRing();
    const factor = await this.store.get(principalId);
    if (!factor?.pending) throw await this.refuse('MFA_FAILED', principalId, 'nothing_pending', request, 'activate');
    const now = this.clock.now();
    const step = verifyTotp(
      openSecret(ring, factor.pending, aad(principalId)).toString('utf8'),
      code,
      now,
      this.settings().window,
    );
    if (step === undefined) throw await this.refuse('MFA_FAILED', principalId, 'bad_code', request, 'activate');
    const recoveryCodes = generateRecoveryCodes(this.settings().recoveryCodes);
    const hashes = recoveryCodes.map((recoveryCode) => recoveryCodeHash(recoveryCode)!);
    if (!(await this.store.activate(principalId, factor.pending, hashes, step, new Date(now)))) {
      throw await this.refuse('MFA_FAILED', principalId, 'nothing_pending', request, 'activate');
    }
    await this.events.record({
      type: 'MFA_ENROLLED',
      outcome: 'success',
      principalId,
      request,
      details: { method: 'totp', replaced: factor.secret !== null, recoveryCodes: recoveryCodes.length },
    });
    return { recoveryCodes };
  }

  /** Checks a TOTP code (each time step once) or consumes a recovery code; returns when it was proved. */
  async verify(principalId: string, proof: SecondFactorProof, request?: RequestSummary): Promise<{ verifiedAt: Date }> {
    const ring = this.requireRing();
    const factor = await this.store.get(principalId);
    if (!factor?.secret) throw await this.refuse('MFA_FAILED', principalId, 'not_enrolled', request, 'verify');
    const now = this.clock.now();
    if ('recoveryCode' in proof) {
      const hash = recoveryCodeHash(proof.recoveryCode);
      if (!hash || !(await this.store.consumeRecoveryCode(principalId, hash, new Date(now)))) {
        throw await this.refuse('MFA_FAILED', principalId, 'bad_recovery_code', request, 'verify');
      }
      const left = await this.store.remainingRecoveryCodes(principalId);
      await this.events.record({
        type: 'MFA_VERIFIED',
        outcome: 'success',
        principalId,
        request,
        details: { method: 'recovery_code', recoveryCodesLeft: left },
      });
      return { verifiedAt: new Date(now) };
    }
    await this.checkTotp(principalId, ring, factor.secret, proof.code, request, 'verify');
    await this.events.record({
      type: 'MFA_VERIFIED',
      outcome: 'success',
      principalId,
      request,
      details: { method: 'totp' },
    });
    return { verifiedAt: new Date(now) };
  }

  async status(principalId: string): Promise<MfaStatus> {
    const factor = await this.store.get(principalId);
    return {
      enrolled: Boolean(factor?.secret),
      pending: Boolean(factor?.pending),
      activatedAt: factor?.activatedAt?.toISOString() ?? null,
      recoveryCodesLeft: factor?.secret ? await this.store.remainingRecoveryCodes(principalId) : 0,
    };
  }

  private async checkTotp(
    principalId: string,
    ring: MasterKeyRing,
    sealed: { ciphertext: string; version: string },
    code: string,
    request: RequestSummary | undefined,
    stage: string,
  ): Promise<void> {
    const secret = openSecret(ring, sealed, aad(principalId)).toString('utf8');
    const step = verifyTotp(secret, code, this.clock.now(), this.settings().window);
    if (step === undefined) throw await this.refuse('MFA_FAILED', principalId, 'bad_code', request, stage);
    // Atomic: of two requests with the same code, one wins; an older step after a newer one is refused too.
    if (!(await this.store.claimStep(principalId, step))) {
      throw await this.refuse('MFA_FAILED', principalId, 'replayed_code', request, stage);
    }
  }

  private async refuse(
    type: SecurityEventType,
    principalId: string,
    reason: string,
    request: RequestSummary | undefined,
    stage: string,
  ): Promise<MfaCodeRejectedError> {
    await this.events.record({ type, outcome: 'failure', principalId, request, details: { reason, stage } });
    return new MfaCodeRejectedError(reason, { stage, recorded: true });
  }

  private settings(): { issuer: string; window: number; recoveryCodes: number } {
    return this.options.mfa || { issuer: 'nest-api-security', window: 1, recoveryCodes: 10 };
  }

  private requireRing(): MasterKeyRing {
    if (!this.options.mfa) {
      throw new SecurityOperationError('ERR_SECURITY_MFA_OFF', 'MFA is switched off (mfa: false)', 'conflict');
    }
    if (!this.ring) {
      throw new SecurityOperationError(
        'ERR_SECURITY_MFA_NO_MASTER_KEY',
        'MFA needs master keys to seal TOTP secrets: set signing.masterKeys (SIGNING_MASTER_KEYS)',
        'conflict',
      );
    }
    return this.ring;
  }
}
