import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

/** Builds the library and the demo into dist/ (incremental: quick when nothing changed). */
export async function buildDemo(): Promise<void> {
  await run(process.execPath, [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'apps/demo/tsconfig.app.json'], {
    cwd: ROOT,
  });
}

/** A free loopback port (it may be taken again before use; good enough for one test process). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** A demo started as its own process from dist/, as `npm start` runs it. */
export interface DemoProcess {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  output(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function startDemoProcess(env: NodeJS.ProcessEnv, readyWithinMs = 30_000): Promise<DemoProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/apps/demo/main.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      // Every request of a suite comes from 127.0.0.1; the rate-limit suites set their own limits.
      RATE_LIMIT_IP: '1000000/60s',
      RATE_LIMIT_PRINCIPAL: '1000000/60s',
      RATE_LIMIT_LOGIN: '1000000/60s',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyWithinMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`demo exited with ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${baseUrl}/health`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`demo did not answer /health within ${readyWithinMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    baseUrl,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs the CLI from dist/ and returns its exit code and both streams. */
export async function runCliProcess(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(
      process.execPath,
      ['dist/apps/demo/cli.js', ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 2) : 0;
        resolveRun({ code, stdout, stderr });
      },
    );
  });
}
