import type { AddressInfo } from 'node:net';
import { readDemoConfig, type DemoConfig } from '../../apps/demo/src/config/demo-config.js';
import { createDemoApp, type DemoApp } from '../../apps/demo/src/create-app.js';
import { testDatabase } from './services.js';

export const ADAPTERS = ['express', 'fastify'] as const;
export type AdapterName = (typeof ADAPTERS)[number];

/** A demo instance listening on a free loopback port, with its own database. */
export interface RunningDemo {
  readonly baseUrl: string;
  readonly demo: DemoApp;
  close(): Promise<void>;
}

/** Boots the demo in-process on the given adapter against a fresh test database. */
export async function startDemo(adapter: AdapterName, env: NodeJS.ProcessEnv = {}): Promise<RunningDemo> {
  const database = await testDatabase();
  const config: DemoConfig = readDemoConfig({
    NODE_ENV: 'test',
    HTTP_ADAPTER: adapter,
    DATABASE_URL: database.url,
    ...env,
  });
  const demo = await createDemoApp(config, { logger: false });
  await demo.app.listen(0, '127.0.0.1');
  const { port } = demo.app.getHttpServer().address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    demo,
    close: async () => {
      await demo.close();
      await database.drop();
    },
  };
}
