import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MemoryAuditEventStore } from '../../src/audit/adapters/memory-audit-event.store.js';
import type { SecurityEventRecord } from '../../src/audit/security-event-types.js';
import { SecurityEvents } from '../../src/audit/security-events.service.js';
import { createSecurityLogger } from '../../src/audit/security-logger.js';
import { ManualClock } from '../../src/core/clock.js';
import { MfaCodeRejectedError, SecurityOperationError } from '../../src/core/errors.js';
import { MemoryMfaFactorStore } from '../../src/mfa/adapters/memory-mfa-factor.store.js';
import { totpCode } from '../../src/mfa/core/totp.js';
import { Mfa, type SecondFactorProof } from '../../src/mfa/mfa.service.js';
import { resolveSecurityOptions } from '../../src/options/resolve-security-options.js';
import type { SecurityModuleOptions } from '../../src/options/security-options.js';
import { MemoryPrincipalStore } from '../../src/principals/adapters/memory-principal.store.js';
import { PASSWORD_HASH_TEST_COST, PasswordHasher } from '../../src/principals/password-hasher.js';
import {
  generateMasterKey,
  openSecret,
  parseMasterKeys,
  SecretUnreadableError,
  type MasterKeyRing,
} from '../../src/signing/core/secret-box.js';

const PASSWORD = 'correct horse battery staple';
// Five seconds into a 30-second step, so "the next step" is 30 s away whatever the rounding.
const NOW = Date.UTC(2026, 2, 1, 10, 0, 5);
const STEP_MS = 30_000;
const RECOVERY_CODE = /^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/;
const REQUEST = { requestId: 'req-1', method: 'POST', path: '/mfa/verify', ip: '203.0.113.7', userAgent: 'test' };

/** Discards the security log lines. */
const sink = () =>
  new Writable({
    write: (_chunk, _encoding, done) => done(),
  });

interface Setup {
  options?: SecurityModuleOptions;
  ring?: MasterKeyRing | null;
}

async function setup(given: Setup = {}) {
  const { options = {} } = given;
  // `ring: undefined` is a case of its own (no ring provided at all), not "the default ring".
  const ring = 'ring' in given ? given.ring : parseMasterKeys(generateMasterKey('v1'));
  const resolved = resolveSecurityOptions(options);
  const clock = new ManualClock(NOW);
  const store = new MemoryMfaFactorStore();
  const principals = new MemoryPrincipalStore();
  const hasher = new PasswordHasher(PASSWORD_HASH_TEST_COST);
  const events = new SecurityEvents(resolved, createSecurityLogger(sink()), new MemoryAuditEventStore(), clock);
  const recorded: SecurityEventRecord[] = [];
  events.subscribe((record) => recorded.push(record));
  const mfa = new Mfa(resolved, store, principals, hasher, events, clock, ring);
  const alice = await principals.create({ kind: 'user', username: 'alice', passwordHash: await hasher.hash(PASSWORD) });
  const bob = await principals.create({ kind: 'user', username: 'bob', passwordHash: await hasher.hash(PASSWORD) });

  /** The events of one type, in order. */
  const eventsOf = (type: string) => recorded.filter((event) => event.type === type);
  /** The code of `secret` at the clock's time plus `offsetMs`. */
  const code = (secret: string, offsetMs = 0) => totpCode(secret, clock.now() + offsetMs);
  /** Enrols `principalId` and returns the TOTP secret read from the otpauth URI, as an app would. */
  const enroll = async (principalId = alice.id, proof: { password: string; code?: string } = { password: PASSWORD }) =>
    secretOf((await mfa.enroll(principalId, proof)).otpauthUri);
  /** Enrols and activates; returns the secret and the recovery codes. Leaves the clock one step later. */
  const enrolled = async (principalId = alice.id) => {
    const secret = await enroll(principalId);
    const { recoveryCodes } = await mfa.activate(principalId, code(secret));
    clock.advance(STEP_MS);
    return { secret, recoveryCodes };
  };
  return { mfa, store, principals, clock, ring, alice, bob, recorded, eventsOf, code, enroll, enrolled };
}

function secretOf(otpauthUri: string): string {
  const secret = new URL(otpauthUri).searchParams.get('secret');
  if (!secret) throw new Error(`no secret in ${otpauthUri}`);
  return secret;
}

/** The reason of the MfaCodeRejectedError `promise` rejects with. */
async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(MfaCodeRejectedError);
    return (error as MfaCodeRejectedError).reason;
  }
  throw new Error('expected an MfaCodeRejectedError');
}

/** A 6-digit code that is none of the codes of `secret` within two steps of `at`. */
function wrongCode(secret: string, at: number): string {
  const near = new Set([-2, -1, 0, 1, 2].map((d) => totpCode(secret, at + d * STEP_MS)));
  for (let n = 123_456; ; n++) {
    const candidate = String(n % 1_000_000).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}

describe('Mfa service', () => {
  describe('enroll', () => {
    it('refuses a wrong password with wrong_password and an MFA_FAILED event, storing nothing', async () => {
      const { mfa, store, alice, eventsOf } = await setup();

      expect(await rejection(mfa.enroll(alice.id, { password: 'wrong' }, REQUEST))).toBe('wrong_password');

      expect(await store.get(alice.id)).toBeUndefined();
      expect(eventsOf('MFA_FAILED')).toEqual([
        expect.objectContaining({
          outcome: 'failure',
          principalId: alice.id,
          requestId: 'req-1',
          ip: '203.0.113.7',
          details: { reason: 'wrong_password', stage: 'enroll' },
        }),
      ]);
    });

    it('refuses an unknown principal and one without a password the same way', async () => {
      const { mfa, principals, eventsOf } = await setup();
      const service = await principals.create({ kind: 'service', username: 'svc' });

      expect(await rejection(mfa.enroll('99999999-9999-4999-8999-999999999999', { password: PASSWORD }))).toBe(
        'wrong_password',
      );
      expect(await rejection(mfa.enroll(service.id, { password: PASSWORD }))).toBe('wrong_password');
      expect(await rejection(mfa.enroll(service.id, { password: '' }))).toBe('wrong_password');
      expect(eventsOf('MFA_FAILED')).toHaveLength(3);
    });

    it('answers an otpauth URI with the issuer, the username and a secret that gives valid codes', async () => {
      const { mfa, alice, code } = await setup();

      const { otpauthUri } = await mfa.enroll(alice.id, { password: PASSWORD });
      const uri = new URL(otpauthUri);
      const secret = secretOf(otpauthUri);

      expect(uri.protocol).toBe('otpauth:');
      expect(decodeURIComponent(uri.pathname)).toBe('/nest-api-security:alice');
      expect(uri.searchParams.get('issuer')).toBe('nest-api-security');
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(await mfa.activate(alice.id, code(secret))).toMatchObject({ recoveryCodes: expect.any(Array) });
    });

    it('uses the configured issuer', async () => {
      const { mfa, alice } = await setup({ options: { mfa: { issuer: 'Acme API' } } });

      const { otpauthUri } = await mfa.enroll(alice.id, { password: PASSWORD });

      expect(new URL(otpauthUri).searchParams.get('issuer')).toBe('Acme API');
    });

    it('leaves the factor pending until activation: not enrolled, no recovery codes', async () => {
      const { mfa, alice, enroll } = await setup();

      await enroll();

      expect(await mfa.status(alice.id)).toEqual({
        enrolled: false,
        pending: true,
        activatedAt: null,
        recoveryCodesLeft: 0,
      });
    });
  });

  describe('activate', () => {
    it('refuses a wrong code with bad_code and an MFA_FAILED event, keeping the factor pending', async () => {
      const { mfa, alice, clock, enroll, eventsOf } = await setup();
      const secret = await enroll();

      expect(await rejection(mfa.activate(alice.id, wrongCode(secret, clock.now())))).toBe('bad_code');

      expect(eventsOf('MFA_FAILED')).toEqual([
        expect.objectContaining({ principalId: alice.id, details: { reason: 'bad_code', stage: 'activate' } }),
      ]);
      expect(await mfa.status(alice.id)).toMatchObject({ enrolled: false, pending: true });
    });

    it('with the right code answers 10 recovery codes and records MFA_ENROLLED', async () => {
      const { mfa, alice, clock, code, enroll, eventsOf } = await setup();
      const secret = await enroll();

      const { recoveryCodes } = await mfa.activate(alice.id, code(secret), REQUEST);

      expect(recoveryCodes).toHaveLength(10);
      for (const recoveryCode of recoveryCodes) expect(recoveryCode).toMatch(RECOVERY_CODE);
      expect(new Set(recoveryCodes).size).toBe(10);
      expect(eventsOf('MFA_ENROLLED')).toEqual([
        expect.objectContaining({
          outcome: 'success',
          principalId: alice.id,
          requestId: 'req-1',
          details: { method: 'totp', replaced: false, recoveryCodes: 10 },
        }),
      ]);
      expect(await mfa.status(alice.id)).toEqual({
        enrolled: true,
        pending: false,
        activatedAt: new Date(clock.now()).toISOString(),
        recoveryCodesLeft: 10,
      });
    });

    it('accepts a code of the next or previous step (window 1)', async () => {
      const first = await setup();
      const secret = await first.enroll();
      expect(await first.mfa.activate(first.alice.id, first.code(secret, STEP_MS))).toBeDefined();

      const second = await setup();
      const other = await second.enroll();
      expect(await second.mfa.activate(second.alice.id, second.code(other, -STEP_MS))).toBeDefined();
    });

    it('issues as many recovery codes as configured', async () => {
      const { mfa, alice, code, enroll } = await setup({ options: { mfa: { recoveryCodes: 4 } } });
      const secret = await enroll();

      expect((await mfa.activate(alice.id, code(secret))).recoveryCodes).toHaveLength(4);
    });

    it('refuses with nothing_pending without an enrolment, and a second activation', async () => {
      const { mfa, alice, code, enroll } = await setup();

      expect(await rejection(mfa.activate(alice.id, '123456'))).toBe('nothing_pending');
      const secret = await enroll();
      await mfa.activate(alice.id, code(secret));
      expect(await rejection(mfa.activate(alice.id, code(secret, STEP_MS)))).toBe('nothing_pending');
    });

    it('refuses a code of an enrolment that was restarted since', async () => {
      const { mfa, alice, clock, code, enroll } = await setup();
      const first = await enroll();
      const second = await enroll();
      // Secrets are random: the first one's code is surely not the second one's (checked).
      expect([-1, 0, 1].map((d) => code(second, d * STEP_MS))).not.toContain(code(first));

      expect(await rejection(mfa.activate(alice.id, code(first)))).toBe('bad_code');
      clock.advance(1_000);
      expect(await mfa.activate(alice.id, code(second))).toMatchObject({ recoveryCodes: expect.any(Array) });
    });
  });

  describe('secrets at rest', () => {
    it('stores the TOTP secret sealed, never in clear, bound to its principal', async () => {
      const { store, ring, alice, bob, code, enroll, enrolled } = await setup();
      const { secret } = await enrolled();
      const pending = await enroll(alice.id, { password: PASSWORD, code: code(secret) });
      const record = await store.get(alice.id);

      const stored = JSON.stringify(record);
      for (const clear of [secret, pending]) {
        expect(stored).not.toContain(clear);
        expect(stored).not.toContain(Buffer.from(clear).toString('base64'));
        expect(stored.toLowerCase()).not.toContain(clear.toLowerCase());
      }
      expect(record?.secret?.version).toBe('v1');
      expect(openSecret(ring!, record!.secret!, `mfa-totp:${alice.id}`).toString('utf8')).toBe(secret);
      expect(openSecret(ring!, record!.pending!, `mfa-totp:${alice.id}`).toString('utf8')).toBe(pending);
      expect(() => openSecret(ring!, record!.secret!, `mfa-totp:${bob.id}`)).toThrow(SecretUnreadableError);
      expect(() => openSecret(ring!, record!.secret!, alice.id)).toThrow(SecretUnreadableError);
    });

    it('cannot use a sealed secret copied onto another principal', async () => {
      const { mfa, store, alice, bob, code, enroll } = await setup();
      const secret = await enroll(alice.id);
      const sealed = (await store.get(alice.id))!.pending!;
      await store.savePending(bob.id, sealed, new Date(NOW));

      await expect(mfa.activate(bob.id, code(secret))).rejects.toMatchObject({
        code: 'ERR_SECURITY_SECRET_UNREADABLE',
        reason: 'tampered',
      });
      expect(await mfa.status(bob.id)).toMatchObject({ enrolled: false });
    });

    it('seals each enrolment afresh: two principals never share a ciphertext or a secret', async () => {
      const { store, alice, bob, enroll } = await setup();

      const [one, two] = [await enroll(alice.id), await enroll(bob.id)];

      expect(one).not.toBe(two);
      expect((await store.get(alice.id))!.pending!.ciphertext).not.toBe((await store.get(bob.id))!.pending!.ciphertext);
    });
  });

  describe('verify', () => {
    it('accepts a current code, records MFA_VERIFIED and answers the clock time', async () => {
      const { mfa, alice, clock, code, enrolled, eventsOf } = await setup();
      const { secret } = await enrolled();

      const { verifiedAt } = await mfa.verify(alice.id, { code: code(secret) }, REQUEST);

      expect(verifiedAt).toEqual(new Date(clock.now()));
      expect(eventsOf('MFA_VERIFIED')).toEqual([
        expect.objectContaining({
          outcome: 'success',
          principalId: alice.id,
          requestId: 'req-1',
          details: { method: 'totp' },
        }),
      ]);
    });

    it('refuses the same code a second time with replayed_code and an MFA_FAILED event', async () => {
      const { mfa, alice, code, enrolled, eventsOf } = await setup();
      const { secret } = await enrolled();
      const current = code(secret);
      await mfa.verify(alice.id, { code: current });

      expect(await rejection(mfa.verify(alice.id, { code: current }))).toBe('replayed_code');

      expect(eventsOf('MFA_FAILED')).toEqual([
        expect.objectContaining({ principalId: alice.id, details: { reason: 'replayed_code', stage: 'verify' } }),
      ]);
    });

    it('refuses the activation code itself afterwards (its step is used)', async () => {
      const { mfa, alice, code, enroll } = await setup();
      const secret = await enroll();
      const first = code(secret);
      await mfa.activate(alice.id, first);

      expect(await rejection(mfa.verify(alice.id, { code: first }))).toBe('replayed_code');
    });

    it('refuses a code of an older step once a newer step was used, even inside the window', async () => {
      const { mfa, alice, code, enrolled } = await setup();
      const { secret } = await enrolled();

      await mfa.verify(alice.id, { code: code(secret, STEP_MS) });

      expect(await rejection(mfa.verify(alice.id, { code: code(secret) }))).toBe('replayed_code');
      expect(await rejection(mfa.verify(alice.id, { code: code(secret, -STEP_MS) }))).toBe('replayed_code');
    });

    it('accepts the code of each new step, once', async () => {
      const { mfa, alice, clock, code, enrolled } = await setup();
      const { secret } = await enrolled();

      for (let i = 0; i < 3; i++) {
        const current = code(secret);
        expect(await mfa.verify(alice.id, { code: current })).toEqual({ verifiedAt: new Date(clock.now()) });
        expect(await rejection(mfa.verify(alice.id, { code: current }))).toBe('replayed_code');
        clock.advance(STEP_MS);
      }
    });

    it('accepts exactly one of 10 concurrent verifications with the same code', async () => {
      const { mfa, alice, code, enrolled } = await setup();
      const { secret } = await enrolled();
      const current = code(secret);

      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => mfa.verify(alice.id, { code: current })),
      );

      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const result of results.filter((r) => r.status === 'rejected')) {
        expect((result as PromiseRejectedResult).reason).toMatchObject({ reason: 'replayed_code' });
      }
    });

    it('refuses a wrong code and a code too far from now with bad_code', async () => {
      const { mfa, alice, clock, code, enrolled } = await setup();
      const { secret } = await enrolled();

      expect(await rejection(mfa.verify(alice.id, { code: wrongCode(secret, clock.now()) }))).toBe('bad_code');
      expect(await rejection(mfa.verify(alice.id, { code: code(secret, 3 * STEP_MS) }))).toBe('bad_code');
      expect(await rejection(mfa.verify(alice.id, { code: code(secret, -3 * STEP_MS) }))).toBe('bad_code');
      // The refused codes used no step: the current code still works.
      expect(await mfa.verify(alice.id, { code: code(secret) })).toBeDefined();
    });

    it('honours window 0: only the current step', async () => {
      const { mfa, alice, code, enrolled } = await setup({ options: { mfa: { window: 0 } } });
      const { secret } = await enrolled();

      expect(await rejection(mfa.verify(alice.id, { code: code(secret, STEP_MS) }))).toBe('bad_code');
      expect(await mfa.verify(alice.id, { code: code(secret) })).toBeDefined();
    });

    it('refuses with not_enrolled before activation', async () => {
      const { mfa, alice, code, enroll } = await setup();

      expect(await rejection(mfa.verify(alice.id, { code: '123456' }))).toBe('not_enrolled');
      const secret = await enroll();
      expect(await rejection(mfa.verify(alice.id, { code: code(secret) }))).toBe('not_enrolled');
      expect(await rejection(mfa.verify(alice.id, { recoveryCode: 'abcd-efgh-jkmn-pqrs' }))).toBe('not_enrolled');
    });

    it('keeps principals apart: a code of one principal’s secret does nothing for another', async () => {
      const { mfa, alice, bob, code, enrolled } = await setup();
      const { secret } = await enrolled(alice.id);
      await enrolled(bob.id);

      const refused = await mfa.verify(bob.id, { code: code(secret) }).then(
        () => 'accepted',
        (error: MfaCodeRejectedError) => error.reason,
      );
      // Bob's own secret could give the same 6 digits by chance (1 in 10^6 per step): then it is his code.
      expect(['bad_code', 'accepted']).toContain(refused);
      expect(await mfa.verify(alice.id, { code: code(secret) })).toBeDefined();
    });
  });

  describe('recovery codes', () => {
    it('accept each code once, counting down, with MFA_VERIFIED method recovery_code', async () => {
      const { mfa, alice, clock, enrolled, eventsOf } = await setup();
      const { recoveryCodes } = await enrolled();

      const { verifiedAt } = await mfa.verify(alice.id, { recoveryCode: recoveryCodes[0]! }, REQUEST);

      expect(verifiedAt).toEqual(new Date(clock.now()));
      expect(eventsOf('MFA_VERIFIED').at(-1)).toMatchObject({
        principalId: alice.id,
        details: { method: 'recovery_code', recoveryCodesLeft: 9 },
      });
      expect((await mfa.status(alice.id)).recoveryCodesLeft).toBe(9);

      expect(await rejection(mfa.verify(alice.id, { recoveryCode: recoveryCodes[0]! }))).toBe('bad_recovery_code');
      expect(eventsOf('MFA_FAILED').at(-1)).toMatchObject({
        details: { reason: 'bad_recovery_code', stage: 'verify' },
      });
      expect((await mfa.status(alice.id)).recoveryCodesLeft).toBe(9);

      await mfa.verify(alice.id, { recoveryCode: recoveryCodes[1]! });
      expect((await mfa.status(alice.id)).recoveryCodesLeft).toBe(8);
    });

    it('accept a code typed in upper case with spaces instead of hyphens', async () => {
      const { mfa, alice, enrolled } = await setup();
      const { recoveryCodes } = await enrolled();
      const typed = recoveryCodes[4]!.toUpperCase().replaceAll('-', ' ');

      expect(await mfa.verify(alice.id, { recoveryCode: typed })).toBeDefined();
      expect(await rejection(mfa.verify(alice.id, { recoveryCode: recoveryCodes[4]! }))).toBe('bad_recovery_code');
    });

    it('refuse malformed and unknown codes, and another principal’s codes', async () => {
      const { mfa, alice, bob, enrolled } = await setup();
      const { recoveryCodes } = await enrolled(alice.id);
      await enrolled(bob.id);

      for (const recoveryCode of ['', 'abcd', 'abcd-efgh-jkmn-pqr0', 'zzzz-zzzz-zzzz-zzzz', recoveryCodes[0]!]) {
        const proof: SecondFactorProof = { recoveryCode };
        expect(await rejection(mfa.verify(bob.id, proof)), recoveryCode).toBe('bad_recovery_code');
      }
      expect((await mfa.status(alice.id)).recoveryCodesLeft).toBe(10);
      expect((await mfa.status(bob.id)).recoveryCodesLeft).toBe(10);
    });

    it('accept exactly one of 10 concurrent uses of the same code', async () => {
      const { mfa, alice, enrolled } = await setup();
      const { recoveryCodes } = await enrolled();

      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => mfa.verify(alice.id, { recoveryCode: recoveryCodes[2]! })),
      );

      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect((await mfa.status(alice.id)).recoveryCodesLeft).toBe(9);
    });

    it('leave TOTP codes alone: a recovery code claims no time step', async () => {
      const { mfa, alice, code, enrolled } = await setup();
      const { secret, recoveryCodes } = await enrolled();

      await mfa.verify(alice.id, { recoveryCode: recoveryCodes[0]! });

      expect(await mfa.verify(alice.id, { code: code(secret) })).toBeDefined();
    });
  });

  describe('re-enrolment with an active factor', () => {
    it('needs a current code of the active factor: code_required without, bad_code with a wrong one', async () => {
      const { mfa, alice, clock, store, enrolled, eventsOf } = await setup();
      const { secret } = await enrolled();
      const before = await store.get(alice.id);

      expect(await rejection(mfa.enroll(alice.id, { password: PASSWORD }))).toBe('code_required');
      expect(await rejection(mfa.enroll(alice.id, { password: PASSWORD, code: wrongCode(secret, clock.now()) }))).toBe(
        'bad_code',
      );
      expect(eventsOf('MFA_FAILED').map((event) => event.details)).toEqual([
        { reason: 'code_required', stage: 'enroll' },
        { reason: 'bad_code', stage: 'enroll' },
      ]);
      expect(await store.get(alice.id)).toEqual(before);
    });

    it('checks the password before the code', async () => {
      const { mfa, alice, code, enrolled } = await setup();
      const { secret } = await enrolled();

      expect(await rejection(mfa.enroll(alice.id, { password: 'wrong', code: code(secret) }))).toBe('wrong_password');
      // The refused attempt used no step: the code still works.
      expect(await mfa.verify(alice.id, { code: code(secret) })).toBeDefined();
    });

    it('refuses a code already used (no replay into a re-enrolment)', async () => {
      const { mfa, alice, code, enrolled } = await setup();
      const { secret } = await enrolled();
      const current = code(secret);
      await mfa.verify(alice.id, { code: current });

      expect(await rejection(mfa.enroll(alice.id, { password: PASSWORD, code: current }))).toBe('replayed_code');
    });

    it('with a right code starts a new secret; the old one works until the new one is activated, then not', async () => {
      const { mfa, alice, clock, code, enrolled, eventsOf } = await setup();
      const old = await enrolled();

      const next = secretOf((await mfa.enroll(alice.id, { password: PASSWORD, code: code(old.secret) })).otpauthUri);
      expect(next).not.toBe(old.secret);
      expect(await mfa.status(alice.id)).toMatchObject({ enrolled: true, pending: true, recoveryCodesLeft: 10 });

      // Still pending: the old factor keeps working.
      clock.advance(STEP_MS);
      expect(await mfa.verify(alice.id, { code: code(old.secret) })).toBeDefined();

      clock.advance(STEP_MS);
      const { recoveryCodes } = await mfa.activate(alice.id, code(next));
      expect(eventsOf('MFA_ENROLLED').at(-1)).toMatchObject({ details: { method: 'totp', replaced: true } });

      clock.advance(STEP_MS);
      // Secrets are random: the old secret's code is surely not the new one's (checked).
      expect([-1, 0, 1].map((d) => code(next, d * STEP_MS))).not.toContain(code(old.secret));
      expect(await rejection(mfa.verify(alice.id, { code: code(old.secret) }))).toBe('bad_code');
      expect(await rejection(mfa.verify(alice.id, { recoveryCode: old.recoveryCodes[1]! }))).toBe('bad_recovery_code');
      expect(await mfa.verify(alice.id, { code: code(next) })).toBeDefined();
      expect(await mfa.verify(alice.id, { recoveryCode: recoveryCodes[0]! })).toBeDefined();
      expect((await mfa.status(alice.id)).recoveryCodesLeft).toBe(9);
    });
  });

  describe('switched off or without master keys', () => {
    it('refuses every operation with ERR_SECURITY_MFA_NO_MASTER_KEY without a key ring', async () => {
      for (const ring of [null, undefined]) {
        const { mfa, alice } = await setup({ ring });
        for (const call of [
          () => mfa.enroll(alice.id, { password: PASSWORD }),
          () => mfa.activate(alice.id, '123456'),
          () => mfa.verify(alice.id, { code: '123456' }),
          () => mfa.verify(alice.id, { recoveryCode: 'abcd-efgh-jkmn-pqrs' }),
        ]) {
          const refused = call();
          await expect(refused).rejects.toBeInstanceOf(SecurityOperationError);
          await expect(refused).rejects.toMatchObject({ code: 'ERR_SECURITY_MFA_NO_MASTER_KEY', kind: 'conflict' });
        }
      }
    });

    it('refuses every operation with ERR_SECURITY_MFA_OFF when mfa is false, ring or not', async () => {
      for (const ring of [parseMasterKeys(generateMasterKey('v1')), null]) {
        const { mfa, alice, recorded } = await setup({ options: { mfa: false }, ring });
        for (const call of [
          () => mfa.enroll(alice.id, { password: PASSWORD }),
          () => mfa.activate(alice.id, '123456'),
          () => mfa.verify(alice.id, { code: '123456' }),
        ]) {
          const refused = call();
          await expect(refused).rejects.toBeInstanceOf(SecurityOperationError);
          await expect(refused).rejects.toMatchObject({ code: 'ERR_SECURITY_MFA_OFF', kind: 'conflict' });
        }
        expect(recorded).toEqual([]);
      }
    });
  });

  it('never puts a password, a secret, a code or a recovery code in an event', async () => {
    const { mfa, alice, clock, code, enrolled, recorded } = await setup();
    const { secret, recoveryCodes } = await enrolled();
    const used = [code(secret), wrongCode(secret, clock.now())];
    await mfa.verify(alice.id, { code: used[0]! });
    await mfa.verify(alice.id, { code: used[1]! }).catch(() => undefined);
    await mfa.verify(alice.id, { recoveryCode: recoveryCodes[0]! });
    await mfa.enroll(alice.id, { password: 'wrong-password-xyz' }).catch(() => undefined);

    const text = JSON.stringify(recorded);

    for (const hidden of [PASSWORD, 'wrong-password-xyz', secret, ...recoveryCodes]) {
      expect(text).not.toContain(hidden);
    }
    // As values: six digits may turn up by chance inside an event id.
    for (const hidden of used) expect(text).not.toContain(`"${hidden}"`);
    expect(recorded.length).toBeGreaterThanOrEqual(5);
  });
});
