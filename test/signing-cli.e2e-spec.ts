import { SigningKeys } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { createIdentity, type Identity } from './support/identities.js';
import { buildDemo, runCliProcess } from './support/processes.js';
import { rejectionOf, send, signed, SIGNING_MASTER_KEYS, type Signer } from './support/signing.js';

/**
 * `signing-keys create | list | revoke` run as a separate process against a running demo's database (with
 * the same master keys): the key it prints signs requests the demo accepts, the list never shows a secret,
 * and a revocation reaches the running demo within a second.
 */
// The two adapters at once: each CLI run is a Node process start (about 2 s).
describe.concurrent.each(ADAPTERS)('signing-keys CLI against a running demo on %s', (adapter) => {
  let server: RunningDemo;
  let owner: Identity;

  beforeAll(async () => {
    await buildDemo();
    server = await startDemo(adapter, { SIGNING_MASTER_KEYS });
    owner = await createIdentity(server.demo.app, ['viewer']);
  }, 120_000);
  afterAll(() => server?.close());

  async function cli(...args: string[]): Promise<Record<string, any>> {
    const result = await runCliProcess([...args, '--json'], {
      DATABASE_URL: server.database.url,
      SIGNING_MASTER_KEYS,
      REDIS_URL: '',
      NODE_ENV: 'test',
      ...(server.database.embedded ? { CHANGES_TRANSPORT: 'polling' } : {}),
    });
    // With --json: exit 0 and exactly one JSON object on one line.
    const lines = result.stdout.split('\n').filter((line) => line !== '');
    if (result.code !== 0 || lines.length !== 1) {
      throw new Error(`${args.join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
    }
    return JSON.parse(lines[0]!) as Record<string, any>;
  }

  it('creates a key the demo accepts, lists it without the secret, and revokes it everywhere within 1 s', async ({
    expect,
  }) => {
    const created = await cli('signing-keys', 'create', '--owner', owner.id, '--name', 'cli key');
    expect(created).toMatchObject({
      ok: true,
      accessKeyId: expect.stringMatching(/^[A-Z0-9]{20}$/),
      secret: expect.stringMatching(/^[A-Za-z0-9]{40}$/),
    });
    const signer: Signer = {
      label: 'cli',
      scheme: 'hmac-sha256',
      credentials: { accessKeyId: created.accessKeyId, secret: created.secret },
    };
    const echo = () =>
      send(server.baseUrl, signed(server.baseUrl, signer, { method: 'GET', target: '/signed/echo/cli' }));
    const listing = cli('signing-keys', 'list', '--owner', owner.id);
    const accepted = await echo();
    expect(accepted.status, accepted.body.toString()).toBe(200);
    expect(accepted.json()).toMatchObject({ accessKeyId: created.accessKeyId, scheme: 'hmac-sha256' });
    for (const scheme of ['aws4-hmac-sha256', 'rfc9421'] as const) {
      const other = await send(
        server.baseUrl,
        signed(server.baseUrl, { ...signer, scheme }, { method: 'GET', target: '/signed/echo/cli' }),
      );
      expect(other.status, scheme).toBe(200);
    }

    const listed = await listing;
    expect(listed.keys).toEqual([
      expect.objectContaining({
        accessKeyId: created.accessKeyId,
        ownerId: owner.id,
        name: 'cli key',
        algorithm: 'hmac-sha256',
        status: 'active',
        revokedAt: null,
      }),
    ]);
    const listedText = JSON.stringify(listed);
    expect(listedText).not.toContain(created.secret);
    expect(listed.keys[0]).not.toHaveProperty('secret');
    expect(listed.keys[0]).not.toHaveProperty('secretCiphertext');

    const revoked = await cli('signing-keys', 'revoke', created.accessKeyId);
    expect(revoked).toMatchObject({ ok: true, accessKeyId: created.accessKeyId, revokedAt: expect.any(String) });
    // Correctness bound, not a speed target: the running demo (which has the key cached) refuses it within 1 s.
    await expect.poll(async () => (await echo()).status, { timeout: 1_000, interval: 50 }).toBe(401);
    const refused = await echo();
    expect(refused.status).toBe(401);
    expect((await rejectionOf(server, refused.requestId))?.details.reason).toBe('revoked_key');
    expect(await server.demo.app.get(SigningKeys).list(owner.id)).toEqual([
      expect.objectContaining({ accessKeyId: created.accessKeyId, status: 'revoked' }),
    ]);
  }, 60_000);
});
