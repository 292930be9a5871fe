// wrk (https://github.com/wg/wrk) as a load generator, for the benchmarks that can use it (parent side): a
// C client that costs the shared CPUs less per request than autocannon. Found on PATH; every run is
// bounded, and its result is the line that the run's Lua script prints in done() (see
// fixtures/clients.lua), not wrk's text summary.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The path of the `wrk` executable on PATH, or undefined. */
export function findWrk() {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, 'wrk'), constants.X_OK);
      return join(dir, 'wrk');
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** `4.1.0`, from `wrk --version` (which prints its usage too and exits with 1). */
export function wrkVersion(path) {
  const { stdout = '', stderr = '' } = spawnSync(path, ['--version'], { encoding: 'utf8' });
  return /^wrk (\S+)/m.exec(`${stdout}${stderr}`)?.[1] ?? 'unknown';
}

/**
 * One wrk run with one thread (`-t1`): `connections` connections for `duration` seconds, a request may
 * wait at most 10 s. `script` (a Lua file) gets `scriptArgs` in its init() and must print
 * `BENCH-RESULT {json}` in done(); that object is the result. Returns `{ done, stop }`: the promise of
 * the result, and a function that kills the run (for a cleanup).
 */
export function runWrk(path, { url, connections, duration, script, scriptArgs = [] }) {
  const child = spawn(
    path,
    ['-t1', `-c${connections}`, `-d${duration}s`, '--timeout', '10s', '-s', script, url, '--', ...scriptArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const done = new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const line = /^BENCH-RESULT (.*)$/m.exec(stdout);
      if (code !== 0 || !line) {
        reject(new Error(`wrk exited with ${code ?? signal}: ${(stderr || stdout).trim()}`));
      } else {
        resolve(JSON.parse(line[1]));
      }
    });
  });
  return { done, stop: () => child.kill('SIGKILL') };
}
