import { Agent, request } from 'node:http';
import { ApiKeyVerifier, Clock } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { createIdentity, type Identity } from './support/identities.js';
import { describeWithRedis, testDatabase, TEST_REDIS_URL, type TestDatabase } from './support/services.js';

const BURST = 1_000;
const LIMIT = 100;

/** GET `path` with an API key through `agent`; resolves to the status code. */
function status(agent: Agent, baseUrl: string, path: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, { agent, headers: { 'x-api-key': key } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends all `BURST` requests at once, spread round-robin over the instances; counts the answers by status. */
async function burst(servers: readonly RunningDemo[], key: string): Promise<Record<number, number>> {
  const agents = servers.map(() => new Agent({ keepAlive: true, maxSockets: 200 }));
  try {
    const statuses = await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        status(agents[i % servers.length]!, servers[i % servers.length]!.baseUrl, '/me', key),
      ),
    );
    const counts: Record<number, number> = {};
    for (const code of statuses) counts[code] = (counts[code] ?? 0) + 1;
    return counts;
  } finally {
    for (const agent of agents) agent.destroy();
  }
}

/**
 * Pins every instance's Clock to one instant 1 s into a minute, so the 60 s window cannot roll over in
 * the middle of the burst (which would legitimately let a few more through).
 */
function pinClocks(servers: readonly RunningDemo[]): void {
  const now = Math.floor(Date.now() / 60_000) * 60_000 + 1_000;
  for (const server of servers) vi.spyOn(server.demo.app.get(Clock), 'now').mockImplementation(() => now);
}

/** Loads the key into each instance's verifier cache (no request, so nothing is counted): the burst then measures the limiter, not 1 000 cold database look-ups. */
async function warmUp(servers: readonly RunningDemo[], key: string): Promise<void> {
  for (const server of servers) await server.demo.app.get(ApiKeyVerifier).verify(key);
}

const LIMITS = { RATE_LIMIT_PRINCIPAL: `${LIMIT}/60s`, RATE_LIMIT_IP: 'off' };

describe.each(ADAPTERS)('rate limit under concurrency on %s', (adapter) => {
  describe('one instance, in-memory store', () => {
    let server: RunningDemo;
    let viewer: Identity;

    beforeAll(async () => {
      server = await startDemo(adapter, LIMITS);
      pinClocks([server]);
      viewer = await createIdentity(server.demo.app, ['viewer']);
      await warmUp([server], viewer.key);
    }, 60_000);
    afterAll(async () => {
      await server?.close();
    });

    it(`lets exactly ${LIMIT} of ${BURST} concurrent calls with one key through`, async () => {
      expect(await burst([server], viewer.key)).toEqual({ 200: LIMIT, 429: BURST - LIMIT });
    }, 30_000);
  });

  describeWithRedis('two instances sharing Redis', () => {
    let database: TestDatabase;
    let servers: RunningDemo[] = [];
    let viewer: Identity;

    beforeAll(async () => {
      database = await testDatabase();
      // IP policy off: the `ip:127.0.0.1` counter in the shared Redis belongs to every suite on this machine.
      const env = { ...LIMITS, REDIS_URL: TEST_REDIS_URL };
      servers = [await startDemo(adapter, env, { database }), await startDemo(adapter, env, { database })];
      pinClocks(servers);
      // A new principal (a fresh id) per run: its counter key in Redis has never been used.
      viewer = await createIdentity(servers[0]!.demo.app, ['viewer']);
      await warmUp(servers, viewer.key);
    }, 60_000);
    afterAll(async () => {
      for (const server of servers) await server.close();
      await database?.drop();
    });

    it(`lets exactly ${LIMIT} of ${BURST} concurrent calls through, ${BURST / 2} sent to each instance`, async () => {
      expect(await burst(servers, viewer.key)).toEqual({ 200: LIMIT, 429: BURST - LIMIT });
    }, 30_000);
  });
});
