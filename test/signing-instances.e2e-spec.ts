import { SigningKeys, type IssuedSigningKey } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { createIdentity } from './support/identities.js';
import { describeWithRedis, TEST_REDIS_URL, testDatabase, type TestDatabase } from './support/services.js';
import {
  raceCopies,
  rejectionOf,
  send,
  sharedSignedPost,
  signed,
  SIGNING_MASTER_KEYS,
  type Signer,
} from './support/signing.js';

/**
 * Two instances on one database and one Redis: a signed request accepted by one is a replay to the other
 * (the nonce store is shared, `SET NX PX`), and of concurrent copies sent to both exactly one is accepted.
 */
describeWithRedis('signed requests across two instances sharing Redis', () => {
  describe.each(ADAPTERS)('first instance on %s', (adapter) => {
    let database: TestDatabase;
    let a: RunningDemo;
    let b: RunningDemo;
    let hmacKey: IssuedSigningKey;
    let edKey: IssuedSigningKey;
    let signers: Signer[];

    beforeAll(async () => {
      database = await testDatabase();
      const env = { REDIS_URL: TEST_REDIS_URL, SIGNING_MASTER_KEYS };
      a = await startDemo(adapter, env, { database });
      b = await startDemo(adapter === 'express' ? 'fastify' : 'express', env, { database });
      const owner = await createIdentity(a.demo.app, ['editor']);
      hmacKey = await a.demo.app.get(SigningKeys).create({ ownerId: owner.id }, { label: 'test' });
      edKey = await a.demo.app.get(SigningKeys).create({ ownerId: owner.id, algorithm: 'ed25519' }, { label: 'test' });
      const hmac = { accessKeyId: hmacKey.accessKeyId, secret: hmacKey.secret! };
      signers = [
        { label: 'seed hmac', scheme: 'hmac-sha256', credentials: hmac },
        { label: 'SigV4', scheme: 'aws4-hmac-sha256', credentials: hmac },
        { label: 'RFC 9421 hmac', scheme: 'rfc9421', credentials: hmac },
        {
          label: 'RFC 9421 ed25519',
          scheme: 'rfc9421',
          credentials: { accessKeyId: edKey.accessKeyId, privateKey: edKey.privateKey! },
        },
      ];
    }, 60_000);
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await database?.drop();
    });

    it.each([0, 1, 2, 3])('accepted on one instance, a replay on the other (signer %i)', async (index) => {
      const signer = signers[index]!;
      const request = sharedSignedPost(a.baseUrl, signer);
      const first = await send(a.baseUrl, request);
      expect(first.status, first.body.toString()).toBe(200);
      // The same bytes to the other instance (Host included: it is signed).
      const replay = await send(b.baseUrl, request);
      expect(replay.status).toBe(401);
      expect((await rejectionOf(b, replay.requestId))?.details.reason).toBe('replayed');
      expect((await send(a.baseUrl, request)).status).toBe(401);
    });

    it('of 10 concurrent copies sent to both instances, exactly one is accepted', async () => {
      const request = signed(a.baseUrl, signers[0]!, { method: 'GET', target: '/signed/echo/race' });
      const statuses = await raceCopies([a.baseUrl, b.baseUrl], request);
      expect(statuses.filter((status) => status === 200)).toHaveLength(1);
      expect(statuses.filter((status) => status === 401)).toHaveLength(9);
    });
  });
});
