// Shared by the benchmarks: argument checks, the compiled library's location, the machine line.
import { existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

/** The compiled library, as the benchmarks import it (the root node_modules links to libs/security). */
export const LIBRARY = new URL('../../node_modules/@app/security/dist/index.js', import.meta.url);

export function fail(message) {
  console.error(message);
  process.exit(2);
}

export function positive(text, name) {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) fail(`${name} must be a positive integer`);
  return value;
}

export function nonNegative(text, name) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) fail(`${name} must be 0 or a positive integer`);
  return value;
}

/** Exits with the fix when `npm run build` has not been run at the root. */
export function requireLibrary() {
  if (!existsSync(LIBRARY)) {
    fail(
      `The compiled library is missing (${fileURLToPath(LIBRARY)}).\n` +
        'Build it first: `npm run build` at the repository root, then run this again from bench/.',
    );
  }
}

/** `Node v20.x, 2 CPUs (model)`, for the line above a results table. */
export function machineSummary() {
  return `Node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'})`;
}

/** The 1-minute load average, rounded, for progress lines (0 where the platform has none). */
export function loadAverage() {
  return loadavg()[0].toFixed(2);
}

/** The load options every HTTP benchmark takes, checked: `--connections`, `--duration`, `--warmup`, `--rounds`. */
export function loadSettings(args) {
  return {
    connections: positive(args.connections, '--connections'),
    duration: positive(args.duration, '--duration'),
    warmup: nonNegative(args.warmup, '--warmup'),
    rounds: positive(args.rounds, '--rounds'),
  };
}

/** `url` with its password, if any, replaced by `***`, for messages. */
export function redactUrl(url) {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
