import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { describe, it } from 'vitest';
import { freePort } from './processes.js';

/** A `redis-server` owned by one test: stop it to simulate an outage, start it again on the same port. */
export interface TestRedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Shuts the server down (SIGTERM, then SIGKILL after 5 s) and resolves once it has exited. No-op when stopped. */
  stop(): Promise<void>;
  /** Starts it again on the same port and resolves once it accepts commands. No-op when running. */
  start(): Promise<void>;
}

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const READY_WITHIN_MS = 10_000;
const STOP_WITHIN_MS = 5_000;
const servicesRequired = process.env.REQUIRE_SERVICES === '1';

/** Whether the `redis-server` binary (or `REDIS_SERVER_BIN`) can be run. */
export const REDIS_SERVER_AVAILABLE = spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' }).status === 0;

const running = new Set<ChildProcess>();
const noticesShown = new Set<string>();
// A crashed or interrupted test run must not leave servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Spawns `redis-server` on a free loopback port, with no persistence, and resolves once it is ready.
 * Stop it with `stop()` in `afterAll`.
 * @example
 * const redis = await startRedisServer();
 * await redis.stop(); // outage
 * await redis.start(); // back, empty
 */
export async function startRedisServer(): Promise<TestRedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    if (child) return;
    const current = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = current;
    running.add(current);
    let output = '';
    const exit = new Promise<number | null>((resolve) => {
      current.once('exit', (code) => {
        running.delete(current);
        if (child === current) child = undefined;
        resolve(code);
      });
      // Spawn failures (ENOENT) come as 'error' without 'exit'.
      current.once('error', (error) => {
        output += String(error);
        running.delete(current);
        if (child === current) child = undefined;
        resolve(null);
      });
    });
    exited = exit.then(() => undefined);
    const ready = new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve();
      };
      current.stdout!.on('data', onData);
      current.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    });
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ready.then(() => 'ready' as const),
      exit.then((code) => `exited with ${code}` as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), READY_WITHIN_MS))),
    ]);
    clearTimeout(timer);
    if (outcome !== 'ready') {
      current.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not start (${outcome}):\n${output}`);
    }
  };

  const stop = async (): Promise<void> => {
    const current = child;
    if (!current) return;
    // SIGTERM: redis-server shuts down at once (nothing to save with --save "").
    current.kill('SIGTERM');
    const force = setTimeout(() => current.kill('SIGKILL'), STOP_WITHIN_MS);
    await exited;
    clearTimeout(force);
  };

  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}

/**
 * `describe` for suites that spawn their own `redis-server`: skipped with a notice when the binary is
 * missing, failing instead when REQUIRE_SERVICES=1.
 */
export function describeWithRedisServer(name: string, suite: () => void): void {
  if (REDIS_SERVER_AVAILABLE) {
    describe(name, suite);
  } else if (servicesRequired) {
    describe(name, () => {
      it('needs redis-server', () => {
        throw new Error(`redis-server is required (REQUIRE_SERVICES=1) but "${REDIS_SERVER}" cannot be run`);
      });
    });
  } else {
    // describe.each repeats the name per adapter; one notice is enough.
    if (!noticesShown.has(name)) {
      noticesShown.add(name);
      console.warn(`[tests] SKIPPED ${name}: "${REDIS_SERVER}" cannot be run (install Redis or set REDIS_SERVER_BIN)`);
    }
    describe.skip(name, suite);
  }
}
