import { randomUUID } from 'node:crypto';
import { Clock, totpCode } from '@app/security';
import {
  TEST_ISSUER,
  TEST_AUDIENCE,
  generateTestSigningKey,
  signAccessToken,
  startTestAuthorizationServer,
  type TestAuthorizationServer,
  type TestSigningKey,
} from '../libs/security/test/support/oauth.js';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { eventOf } from './support/events.js';
import { createIdentity, type Identity } from './support/identities.js';

const PASSWORD = 'correct horse battery staple 42';
const STEP_UP_CHALLENGE =
  'Bearer error="insufficient_user_authentication", error_description="A recent second factor is required", max_age=300';

// Bodies are checked field by field, so `any` is the honest type here.
const jsonOf = async (response: Response): Promise<any> => response.json();

/** The base32 secret of an `otpauth://totp/...` URI. */
const secretOf = (uri: string) => new URL(uri).searchParams.get('secret')!;

/**
 * TOTP enrolment and use through HTTP (codes computed by the test from the enrolment URI, at the demo's pinned
 * clock), and step-up on the demo's sensitive routes: bearer tokens count with a recent `auth_time` and `amr`
 * holding `otp`/`mfa`, API keys pass (they identify applications).
 */
describe.each(ADAPTERS)('MFA and step-up on %s', (adapter) => {
  let idp: TestAuthorizationServer;
  let key: TestSigningKey;
  let server: RunningDemo;
  let admin: Identity;
  let user: Identity;
  // Milliseconds; the demo's clock is pinned to it and moved by whole TOTP steps.
  let now: number;

  const call = (method: string, path: string, auth: { key?: string; token?: string }, body?: unknown) =>
    fetch(`${server.baseUrl}${path}`, {
      method,
      headers: {
        ...(auth.key ? { 'x-api-key': auth.key } : {}),
        ...(auth.token ? { authorization: `Bearer ${auth.token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const tokenFor = (sub: string, extra: Record<string, unknown> = {}) =>
    signAccessToken(key, {
      iss: TEST_ISSUER,
      aud: TEST_AUDIENCE,
      sub,
      client_id: 'admin-console',
      scope: 'users:delete users:read',
      iat: Math.floor(now / 1000),
      exp: Math.floor(now / 1000) + 600,
      jti: randomUUID(),
      ...extra,
    });
  const nextStep = () => {
    now += 30_000;
  };

  beforeAll(async () => {
    key = await generateTestSigningKey('ES256', 'mfa-1');
    idp = await startTestAuthorizationServer([key]);
    server = await startDemo(adapter, {
      OAUTH_ISSUER: TEST_ISSUER,
      OAUTH_AUDIENCE: TEST_AUDIENCE,
      OAUTH_JWKS_URL: idp.jwksUrl,
    });
    // The middle of a TOTP step, so a code computed here is never on a step boundary.
    now = Math.floor(Date.now() / 30_000) * 30_000 + 15_000;
    vi.spyOn(server.demo.app.get(Clock), 'now').mockImplementation(() => now);
    admin = await createIdentity(server.demo.app, ['admin'], { password: PASSWORD });
    user = await createIdentity(server.demo.app, ['viewer'], { password: PASSWORD });
  }, 60_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await server?.close();
    await idp?.close();
  });

  describe('enrolment, verification, replay and recovery codes', () => {
    let secret: string;
    let recoveryCodes: string[];

    it('refuses enrolment with a wrong password (403 mfa-code-rejected, MFA_FAILED)', async () => {
      const response = await call('POST', '/mfa/enroll', { key: user.key }, { password: 'not the password' });

      expect(response.status).toBe(403);
      expect((await jsonOf(response)).type).toMatch(/mfa-code-rejected$/);
      const event = await eventOf(server, 'MFA_FAILED', response.headers.get('x-request-id')!);
      expect(event).toMatchObject({ principalId: user.id, details: { reason: 'wrong_password', stage: 'enroll' } });
    });

    it('enrols: the URI names the issuer and account, a code from it activates and returns recovery codes', async () => {
      const enrolled = await call('POST', '/mfa/enroll', { key: user.key }, { password: PASSWORD });
      expect(enrolled.status).toBe(200);
      const { otpauthUri } = await jsonOf(enrolled);
      expect(otpauthUri).toMatch(/^otpauth:\/\/totp\/nest-api-security:u-[0-9a-f]+\?/);
      secret = secretOf(otpauthUri);
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);

      const wrong = await call('POST', '/mfa/activate', { key: user.key }, { code: '000000' });
      expect(wrong.status).toBe(403);
      const activated = await call('POST', '/mfa/activate', { key: user.key }, { code: totpCode(secret, now) });
      expect(activated.status).toBe(200);
      ({ recoveryCodes } = await jsonOf(activated));
      expect(recoveryCodes).toHaveLength(10);
      const event = await eventOf(server, 'MFA_ENROLLED', activated.headers.get('x-request-id')!);
      expect(event).toMatchObject({ principalId: user.id, outcome: 'success' });
      expect(JSON.stringify(event)).not.toContain(secret);
      expect(await jsonOf(await call('GET', '/mfa', { key: user.key }))).toEqual({
        enrolled: true,
        pending: false,
        activatedAt: new Date(now).toISOString(),
        recoveryCodesLeft: 10,
      });
    });

    it('verifies a code once: the same code again, or the activation step, is refused as a replay', async () => {
      // The activation used this step's code.
      const sameStep = await call('POST', '/mfa/verify', { key: user.key }, { code: totpCode(secret, now) });
      expect(sameStep.status).toBe(403);
      nextStep();
      const code = totpCode(secret, now);

      const first = await call('POST', '/mfa/verify', { key: user.key }, { code });
      const again = await call('POST', '/mfa/verify', { key: user.key }, { code });

      expect(first.status).toBe(200);
      expect(await jsonOf(first)).toEqual({ verifiedAt: new Date(now).toISOString(), session: null });
      expect(again.status).toBe(403);
      const replay = await eventOf(server, 'MFA_FAILED', again.headers.get('x-request-id')!);
      expect(replay?.details).toMatchObject({ reason: 'replayed_code' });
      const verified = await eventOf(server, 'MFA_VERIFIED', first.headers.get('x-request-id')!);
      expect(verified?.details).toMatchObject({ method: 'totp' });
    });

    it('accepts a recovery code once', async () => {
      const first = await call('POST', '/mfa/verify', { key: user.key }, { recoveryCode: recoveryCodes[0] });
      const again = await call('POST', '/mfa/verify', { key: user.key }, { recoveryCode: recoveryCodes[0] });

      expect(first.status).toBe(200);
      expect(again.status).toBe(403);
      expect((await jsonOf(await call('GET', '/mfa', { key: user.key }))).recoveryCodesLeft).toBe(9);
    });

    it('asks for a current code to move an active factor, and refuses a bad proof body', async () => {
      const withoutCode = await call('POST', '/mfa/enroll', { key: user.key }, { password: PASSWORD });
      expect(withoutCode.status).toBe(403);
      const both = await call('POST', '/mfa/verify', { key: user.key }, { code: '123456', recoveryCode: 'x' });
      expect(both.status).toBe(400);
      const letters = await call('POST', '/mfa/verify', { key: user.key }, { code: 'abcdef' });
      expect(letters.status).toBe(400);
      nextStep();
      const moved = await call(
        'POST',
        '/mfa/enroll',
        { key: user.key },
        { password: PASSWORD, code: totpCode(secret, now) },
      );
      expect(moved.status).toBe(200);
    });
  });

  describe('step-up on DELETE /users/:id', () => {
    const victim = async () => (await createIdentity(server.demo.app, ['viewer'])).id;

    it('refuses a bearer token without a second factor: 401 with the RFC 9470 challenge', async () => {
      const response = await call('DELETE', `/users/${await victim()}`, { token: await tokenFor(admin.id) });

      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe(STEP_UP_CHALLENGE);
      expect((await jsonOf(response)).type).toMatch(/mfa-required$/);
      const event = await eventOf(server, 'MFA_FAILED', response.headers.get('x-request-id')!);
      expect(event).toMatchObject({ principalId: admin.id, details: { reason: 'step_up_required' } });
    });

    it('grants a token whose amr holds otp or mfa with a recent auth_time', async () => {
      for (const amr of [['pwd', 'otp'], ['mfa']]) {
        const token = await tokenFor(admin.id, { amr, auth_time: Math.floor(now / 1000) - 60 });
        const response = await call('DELETE', `/users/${await victim()}`, { token });
        expect(response.status, `amr ${amr.join(',')}`).toBeLessThan(300);
      }
    });

    it('refuses a stale second factor, and amr without the factor', async () => {
      const stale = await tokenFor(admin.id, { amr: ['otp'], auth_time: Math.floor(now / 1000) - 301 });
      const passwordOnly = await tokenFor(admin.id, { amr: ['pwd'], auth_time: Math.floor(now / 1000) });

      for (const token of [stale, passwordOnly]) {
        const response = await call('DELETE', `/users/${await victim()}`, { token });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe(STEP_UP_CHALLENGE);
      }
    });

    it('lets API keys through: they identify applications, not people', async () => {
      const response = await call('DELETE', `/users/${await victim()}`, { key: admin.key });

      expect(response.status).toBeLessThan(300);
    });

    it('answers 403, not a step-up, to a caller without the permission', async () => {
      const token = await tokenFor(user.id);
      const response = await call('DELETE', `/users/${await victim()}`, { token });

      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toBeNull();
    });

    it('steps up a session with POST /mfa/verify, for maxAgeSec only', async () => {
      const owner = await createIdentity(server.demo.app, ['admin'], { password: PASSWORD });
      const login = await call('POST', '/login', {}, { username: owner.username, password: PASSWORD });
      expect(login.status).toBe(200);
      const { token } = await jsonOf(login);
      const enrolled = await jsonOf(await call('POST', '/mfa/enroll', { token }, { password: PASSWORD }));
      const secret = secretOf(enrolled.otpauthUri);
      expect((await call('POST', '/mfa/activate', { token }, { code: totpCode(secret, now) })).status).toBe(200);

      const before = await call('DELETE', `/users/${await victim()}`, { token });
      expect(before.status).toBe(401);
      expect(before.headers.get('www-authenticate')).toBe(STEP_UP_CHALLENGE);
      nextStep();
      const verified = await call('POST', '/mfa/verify', { token }, { code: totpCode(secret, now) });
      expect(verified.status).toBe(200);
      expect((await jsonOf(verified)).session).toEqual(expect.any(String));
      const after = await call('DELETE', `/users/${await victim()}`, { token });
      expect(after.status).toBeLessThan(300);

      now += 301_000;
      const stale = await call('DELETE', `/users/${await victim()}`, { token });
      expect(stale.status).toBe(401);
      expect(stale.headers.get('www-authenticate')).toBe(STEP_UP_CHALLENGE);
    });

    it('asks for step-up on key creation and role changes too', async () => {
      const token = await tokenFor(admin.id, { scope: 'keys:admin roles:admin' });
      const keyCreation = await call('POST', '/admin/keys', { token }, { ownerId: user.id, name: 'k' });
      const roleChange = await call('POST', '/admin/roles/viewer/members', { token }, { principalId: user.id });

      for (const response of [keyCreation, roleChange]) {
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe(STEP_UP_CHALLENGE);
      }
    });
  });
});
