// Shared by the HTTP benchmarks (parent side): the app under test runs in a child process started with
// `--serve …`, which answers with its port over IPC; autocannon (or wrk, see wrk.mjs) loads it over loopback.
import { spawn } from 'node:child_process';
import { fail } from './cli.mjs';

const START_WITHIN_MS = 30_000;
const STOP_WITHIN_MS = 10_000;

export async function importAutocannon() {
  try {
    const { default: autocannon } = await import('autocannon');
    return autocannon;
  } catch {
    fail('autocannon is not installed: run `npm ci` in bench/ first.');
  }
}

/**
 * One autocannon run. Bounded: it ends after `duration` seconds; a request may wait at most 10 s. `method`
 * and `body` (the same body on every request) are optional; GET without a body by default. `requests`
 * (autocannon's own option, e.g. `[{ setupRequest }]` to vary each request) replaces them. The value is
 * autocannon's tracker: a promise of the result, with `stop()`.
 */
export function load(autocannon, { url, connections, duration, headers, method, body, requests }) {
  return autocannon({
    url,
    connections,
    duration,
    timeout: 10,
    pipelining: 1,
    ...(headers ? { headers } : {}),
    ...(method ? { method } : {}),
    ...(body !== undefined ? { body } : {}),
    ...(requests ? { requests } : {}),
  });
}

/** The run with the median rate (the lower middle one for an even count); autocannon's req/s by default. */
export function median(results, rateOf = (result) => result.requests.average) {
  const sorted = [...results].sort((a, b) => rateOf(a) - rateOf(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** autocannon's latency histogram has a resolution of 1 ms. */
export function ms(value) {
  return value < 1 ? '< 1 ms' : `${Math.round(value)} ms`;
}

/**
 * Starts `node [nodeArgs] script args` with an IPC channel and waits (at most 30 s) for its first
 * message, which must carry `port`. Its stdout is ignored (security event log lines), its stderr kept
 * for the error when it exits early. `pid` is the server's process id (to read its CPU time and memory);
 * `stop()` sends SIGTERM, then SIGKILL after 10 s.
 */
export async function startServer({ script, args, label, nodeArgs = [], env = {} }) {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production', ...env },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const message = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${label} did not start within ${START_WITHIN_MS} ms`)),
      START_WITHIN_MS,
    );
    child.once('message', (answer) => {
      clearTimeout(timer);
      resolve(answer);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with ${code} before listening:\n${stderr}`));
    });
  }).catch((error) => {
    child.kill('SIGKILL');
    throw error;
  });
  return {
    port: message.port,
    pid: child.pid,
    message,
    stop: async () => {
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), STOP_WITHIN_MS);
      await exited;
      clearTimeout(force);
    },
  };
}
