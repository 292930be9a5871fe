import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeWithRedisServer,
  startRedisServer,
  type TestRedisServer,
} from '../../../../test/support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../../../../test/support/tcp-proxy.js';
import { RedisSecurityChangeBus } from '../../src/changes/adapters/redis-security-change.bus.js';
import { DELIVERY_BOUND_MS, record, recordingLogger } from './security-change-bus.contract.js';

// What a Redis outage does to changes published meanwhile, when it cuts off only the publishing instance:
// the others stay subscribed, so no resync covers what they missed; the publisher sends it again.

const uniquePrefix = () => `nas-test-${randomBytes(6).toString('hex')}:`;

describeWithRedisServer('RedisSecurityChangeBus: changes that could not be broadcast', () => {
  let server: TestRedisServer;
  let proxy: TcpProxy;

  beforeAll(async () => {
    server = await startRedisServer();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: server.port });
  });

  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  /** `a` through the proxy (the one cut off), `b` straight to Redis (subscribed all along). */
  async function pair() {
    const keyPrefix = uniquePrefix();
    const logger = recordingLogger();
    const a = new RedisSecurityChangeBus({ url: proxy.url(server.url), keyPrefix, logger });
    const b = new RedisSecurityChangeBus({ url: server.url, keyPrefix, logger: recordingLogger() });
    await Promise.all([a.start(), b.start()]);
    return { a, b, logger, seenB: record(b) };
  }

  it('sends the changes again, in order, once its link to Redis is back; the other never resyncs', async () => {
    const { a, b, logger, seenB } = await pair();
    try {
      proxy.cut();
      await expect(a.publish({ kind: 'api-key', id: 'revoked-1' })).rejects.toThrow(/not sent to other instances/);
      await expect(a.publish({ kind: 'principal', id: 'disabled-1' })).rejects.toThrow(/not sent/);
      expect(seenB.changes).toEqual([]);

      proxy.restore();
      await expect
        .poll(() => seenB.changes.map((change) => `${change.kind}:${change.id}`), { timeout: 10_000 })
        .toEqual(['api-key:revoked-1', 'principal:disabled-1']);
      expect(seenB.resyncs).toBe(0);
      expect(logger.logs.join('\n')).toMatch(/sent 2 change\(s\) that could not be broadcast earlier/);

      // Sent once: nothing more arrives with the next change.
      await a.publish({ kind: 'role', id: 'next' });
      await expect.poll(() => seenB.changes.length, { timeout: DELIVERY_BOUND_MS }).toBe(3);
    } finally {
      proxy.restore();
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 30_000);

  it('replaces more than 100 unsent changes by one `all`', async () => {
    const { a, b, seenB } = await pair();
    try {
      proxy.cut();
      const publishes = Array.from({ length: 101 }, (_, i) => a.publish({ kind: 'api-key', id: `k-${i}` }));
      expect((await Promise.allSettled(publishes)).every((p) => p.status === 'rejected')).toBe(true);

      proxy.restore();
      await expect
        .poll(() => seenB.changes.map((change) => `${change.kind}:${change.id}`), { timeout: 10_000 })
        .toEqual(['all:*']);
    } finally {
      proxy.restore();
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 30_000);
});
