// What `ApiKeyVerifier.verify()` costs per call, without HTTP: built by hand from the compiled library's
// public exports (as libs/security/src/keys/api-key.verifier.spec.ts builds it), with a 32-byte pepper so
// the HMAC is measured, once on the in-memory stores and once on the TypeORM stores on a fresh
// PostgreSQL database. Prints a markdown table of per-call latency (p50, p99, mean, in µs).
//
//   npm run build && cd bench && npm ci && node api-key-verification.mjs [--calls 20000] [--warmup 2000]
//     [--database-url postgres://postgres@127.0.0.1:5432/test] [--no-postgres] [--time-limit 600]
//
// Cases, each timed call by call with process.hrtime.bigint() after `--warmup` untimed calls:
//   hit        the same valid key again: served from the verifier's LRU cache;
//   miss       a different valid key each time (all issued beforehand): the store is asked
//              (`findById`, then `accessOf`), and the entry cached;
//   unknown    a well-formed key whose id is not stored, the same one each time: the store is asked once,
//              then the negative cache answers;
//   unknown×N  a different unknown id each time (what a flood of made-up keys costs: the checksum is
//              public, so every one reaches the store);
//   checksum   a key with one character changed: refused by the checksum, no I/O;
//   malformed  a key one character short: refused by the format, no I/O.
//
// The database: a new `nas_bench_<hex>` on the server of `--database-url` (its own database is only used
// to create and drop it), migrated with SECURITY_MIGRATIONS, dropped at the end, also after a failure
// or when `--time-limit` seconds pass.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { LIBRARY, fail, loadAverage, machineSummary, nonNegative, positive, requireLibrary } from './lib/cli.mjs';
import { DEFAULT_DATABASE_URL, createDatabase, openDataSource } from './lib/postgres.mjs';
// Keys are created this many at a time (the pool holds 10 connections).
const SEED_CONCURRENCY = 10;

/**
 * Stands in for the library's `ApiKeyUsageRecorder`, which `dist/index.js` does not export: the same
 * `record()` (newest time per key in a Map) and the same batching (a flush each second and at 10,000
 * pending keys, through `ApiKeyStore.recordUsage`).
 */
class UsageRecorder {
  #pending = new Map();
  #flushing;
  #timer;

  constructor(keys) {
    this.keys = keys;
    this.#timer = setInterval(() => void this.flush(), 1_000).unref();
  }

  record(id, at) {
    const previous = this.#pending.get(id);
    if (!previous || previous < at) this.#pending.set(id, at);
    if (this.#pending.size >= 10_000) void this.flush();
  }

  async flush() {
    await this.#flushing;
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending].map(([id, at]) => ({ id, at }));
    this.#pending = new Map();
    this.#flushing = this.keys.recordUsage(batch).catch((error) => console.error(`recordUsage: ${error}`));
    await this.#flushing;
  }

  async close() {
    clearInterval(this.#timer);
    await this.flush();
  }
}

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '2000' },
    'database-url': { type: 'string', default: DEFAULT_DATABASE_URL },
    'no-postgres': { type: 'boolean', default: false },
    'time-limit': { type: 'string', default: '600' },
  },
});

requireLibrary();
const calls = positive(args.calls, '--calls');
const warmup = nonNegative(args.warmup, '--warmup');
const timeLimit = positive(args['time-limit'], '--time-limit');

const lib = await import(LIBRARY.href);
const {
  ApiKeyVerifier,
  InvalidCredentialsError,
  MemoryApiKeyStore,
  MemoryPrincipalStore,
  MemorySecurityChangeBus,
  SystemClock,
  TypeOrmApiKeyStore,
  TypeOrmPrincipalStore,
  generateApiKey,
  hashSecret,
  parsePepperRing,
  resolveSecurityOptions,
} = lib;

// Everything else cleans up through this list; the time limit runs it too.
const cleanups = [];
async function cleanUp() {
  while (cleanups.length > 0)
    await cleanups
      .pop()()
      .catch((error) => console.error(`cleanup: ${error}`));
}
const deadline = setTimeout(() => {
  console.error(`time limit of ${timeLimit} s reached; cleaning up`);
  void cleanUp().finally(() => process.exit(1));
}, timeLimit * 1_000);
deadline.unref();

const rows = [];
try {
  const pepper = `v1:${randomBytes(32).toString('base64')}`;
  const ring = parsePepperRing(pepper);
  const options = resolveSecurityOptions({ environment: 'production', apiKeys: { pepper } });

  progress('memory stores');
  const principals = new MemoryPrincipalStore();
  rows.push(...(await measureAll('memory', ring, options, principals, new MemoryApiKeyStore(principals))));

  if (!args['no-postgres']) {
    const database = await createDatabase(args['database-url'], {
      hint: 'start PostgreSQL, pass --database-url, or run with --no-postgres',
    });
    cleanups.push(database.drop);
    progress(`PostgreSQL (database ${database.name})`);
    const dataSource = await openDataSource(lib, database.url);
    cleanups.push(() => dataSource.destroy());
    rows.push(
      ...(await measureAll(
        'PostgreSQL',
        ring,
        options,
        new TypeOrmPrincipalStore(dataSource),
        new TypeOrmApiKeyStore(dataSource),
      )),
    );
  }
} finally {
  await cleanUp();
  clearTimeout(deadline);
}
printTable(rows);

/** Every case on one pair of stores; returns the table rows. */
async function measureAll(storeName, ring, options, principals, keys) {
  const bus = new MemorySecurityChangeBus({ logger: { log: () => undefined, warn: () => undefined } });
  await bus.start();
  cleanups.push(() => bus.stop());
  await principals.upsertRole('viewer', ['users:read', 'documents:read', 'items:read']);
  const owner = await principals.create({ kind: 'service', username: `bench-${randomBytes(4).toString('hex')}` });
  await principals.assignRole(owner.id, 'viewer');
  const usage = new UsageRecorder(keys);
  cleanups.push(() => usage.close());
  const verifier = new ApiKeyVerifier(options, ring, keys, principals, usage, new SystemClock(), bus);
  cleanups.push(async () => verifier.onModuleDestroy());

  const issue = async (count) => {
    const issued = [];
    for (let start = 0; start < count; start += SEED_CONCURRENCY) {
      const batch = Array.from({ length: Math.min(SEED_CONCURRENCY, count - start) }, async () => {
        const generated = generateApiKey();
        await keys.create({
          id: generated.id,
          principalId: owner.id,
          name: 'bench',
          environment: 'live',
          secretHash: hashSecret(generated.secret, ring),
          hashVersion: ring.current,
          scopes: null,
          allowedCidrs: null,
          expiresAt: null,
          rotatedFrom: null,
          metadata: {},
        });
        return generated.key;
      });
      issued.push(...(await Promise.all(batch)));
    }
    return issued;
  };

  const started = Date.now();
  const [hitKey, ...missKeys] = await issue(1 + warmup + calls);
  progress(`${storeName}: issued ${1 + warmup + calls} keys in ${((Date.now() - started) / 1_000).toFixed(1)} s`);
  const unknownKey = generateApiKey().key;
  const cases = [
    { name: 'cache hit (same key again)', expected: 'accepted', keyAt: () => hitKey },
    {
      name: 'cache miss (a different valid key each time)',
      expected: 'accepted',
      keyAt: (i) => missKeys[i],
    },
    { name: 'unknown key id (negative cache after the first)', expected: 'unknown', keyAt: () => unknownKey },
    {
      name: 'unknown key id, a different one each time',
      expected: 'unknown',
      keys: Array.from({ length: warmup + calls }, () => generateApiKey().key),
    },
    { name: 'wrong checksum (no I/O)', expected: 'checksum', keyAt: () => flipLast(hitKey) },
    { name: 'malformed: one character short (no I/O)', expected: 'malformed', keyAt: () => hitKey.slice(0, -1) },
  ];
  const results = [];
  for (const testCase of cases) {
    const keyAt = testCase.keyAt ?? ((i) => testCase.keys[i]);
    const latencies = await timeCalls(verifier, keyAt, testCase.expected);
    const row = { store: storeName, name: testCase.name, ...summarize(latencies) };
    results.push(row);
    progress(
      `${storeName}: ${testCase.name}: p50 ${us(row.p50)}, p99 ${us(row.p99)}, mean ${us(row.mean)} µs ` +
        `(load average ${loadAverage()})`,
    );
  }
  await usage.close();
  return results;
}

/**
 * `warmup` untimed calls, then `calls` timed ones, one after the other; call i gets `keyAt(i)`. Each
 * outcome is checked after its timing, so a case that does not do what it says fails the run.
 */
async function timeCalls(verifier, keyAt, expected) {
  const latencies = new Float64Array(calls);
  for (let i = 0; i < warmup + calls; i += 1) {
    const key = keyAt(i);
    const start = process.hrtime.bigint();
    let outcome;
    try {
      await verifier.verify(key);
      outcome = 'accepted';
    } catch (error) {
      outcome = error instanceof InvalidCredentialsError ? error.reason : error;
    }
    const end = process.hrtime.bigint();
    if (outcome !== expected) throw new Error(`call ${i}: expected ${expected}, got ${outcome}`);
    if (i >= warmup) latencies[i - warmup] = Number(end - start);
  }
  return latencies;
}

/** p50, p99 and mean of nanosecond latencies. */
function summarize(latencies) {
  const sorted = Float64Array.from(latencies).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  let sum = 0;
  for (const value of sorted) sum += value;
  return { p50: at(0.5), p99: at(0.99), mean: sum / sorted.length };
}

/** The key with its last (checksum) character replaced by another base62 character. */
function flipLast(key) {
  return key.slice(0, -1) + (key.endsWith('0') ? '1' : '0');
}

function us(ns) {
  const value = ns / 1_000;
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US');
}

function progress(message) {
  process.stderr.write(`${message}\n`);
}

function printTable(results) {
  const lines = [
    `ApiKeyVerifier.verify(), HMAC-SHA256 pepper (32 bytes), ${calls.toLocaleString('en-US')} timed calls per case ` +
      `after ${warmup.toLocaleString('en-US')} untimed, one at a time; ${machineSummary()}`,
    '',
    '| store | case | p50 µs | p99 µs | mean µs |',
    '|---|---|---:|---:|---:|',
  ];
  for (const row of results) {
    lines.push(`| ${row.store} | ${row.name} | ${us(row.p50)} | ${us(row.p99)} | ${us(row.mean)} |`);
  }
  console.log(lines.join('\n'));
}
