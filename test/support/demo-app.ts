import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { readDemoConfig, type DemoConfig } from '../../apps/demo/src/config/demo-config.js';
import { createDemoApp, type DemoApp } from '../../apps/demo/src/create-app.js';
import { testDatabase, type TestDatabase } from './services.js';

export const ADAPTERS = ['express', 'fastify'] as const;
export type AdapterName = (typeof ADAPTERS)[number];

/** A demo instance listening on a free loopback port. */
export interface RunningDemo {
  /** `https://…` when the env gave `TLS_CERT` and `TLS_KEY`, `http://…` otherwise. */
  readonly baseUrl: string;
  /** The plain-HTTP redirect listener (`HTTP_REDIRECT_PORT`, e.g. `0`), when the env asked for one. */
  readonly redirectUrl?: string;
  readonly demo: DemoApp;
  readonly database: TestDatabase;
  /** Closes the app, and drops the database when this instance created it. */
  close(): Promise<void>;
}

/**
 * Boots the demo in-process on the given adapter: on a fresh test database, or on `options.database`
 * when several instances must share one (it is then left for its owner to drop).
 */
export async function startDemo(
  adapter: AdapterName,
  env: NodeJS.ProcessEnv = {},
  options: { database?: TestDatabase } = {},
): Promise<RunningDemo> {
  const database = options.database ?? (await testDatabase());
  // Each instance its own data directory: a spill file must only ever be replayed into its own database.
  const dataDir = await mkdtemp(join(tmpdir(), 'nas-demo-'));
  const cleanUp = async () => {
    if (!options.database) await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  };
  let config: DemoConfig;
  let demo: DemoApp;
  try {
    config = readDemoConfig({
      NODE_ENV: 'test',
      HTTP_ADAPTER: adapter,
      DATABASE_URL: database.url,
      SECURITY_LOG: 'off',
      DATA_DIR: dataDir,
      // All requests of a suite come from 127.0.0.1: only the suites that test blocking turn it on.
      ANOMALY_BLOCK_FOR: 'off',
      // Likewise for rate limits: suites make hundreds of calls and logins as one client; the rate-limit
      // suites set their own.
      RATE_LIMIT_IP: '1000000/60s',
      RATE_LIMIT_PRINCIPAL: '1000000/60s',
      RATE_LIMIT_LOGIN: '1000000/60s',
      // The embedded fallback (no PostgreSQL server) has no LISTEN/NOTIFY across connections.
      ...(database.embedded ? { CHANGES_TRANSPORT: 'polling' } : {}),
      ...env,
    });
    demo = await createDemoApp(config, { logger: false });
  } catch (error) {
    // A boot refused on purpose (a config error, the security lint) leaves no database or directory behind.
    await cleanUp();
    throw error;
  }
  try {
    await demo.listen(0, '127.0.0.1');
  } catch (error) {
    await demo.close();
    await cleanUp();
    throw error;
  }
  const { port } = demo.app.getHttpServer().address() as AddressInfo;
  const redirectPort = demo.redirect ? (demo.redirect.address() as AddressInfo).port : undefined;
  return {
    baseUrl: `${config.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    redirectUrl: redirectPort === undefined ? undefined : `http://127.0.0.1:${redirectPort}`,
    demo,
    database,
    close: async () => {
      await demo.close();
      await cleanUp();
    },
  };
}
