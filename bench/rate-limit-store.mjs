// What a rate-limit decision costs on Redis: this library's `RedisRateLimitStore` (the `consume` calls of one
// event-loop turn, up to 32, in one `EVALSHA`, each call all or nothing for all the policies of a request)
// next to `rate-limiter-flexible`'s `RateLimiterRedis` and `@nest-lab/throttler-storage-redis`'s
// `ThrottlerStorageRedisService`, on the same Redis, from one ioredis connection, with the same number of
// callers in flight over the same keys. Also how much Redis memory each one keeps per limited client.
// Prints markdown tables.
//
//   npm run build && cd bench && npm ci && node rate-limit-store.mjs
//     [--redis-url redis://127.0.0.1:6379] [--concurrency 50] [--keys 1000] [--duration 5] [--warmup 1]
//     [--rounds 3] [--refusal-duration 2] [--memory-keys 10000] [--time-limit 600] [--library <dist/index.js>]
//
// Throughput (decisions per second, p50/p99 latency of one decision, the `await` included): `--concurrency`
// callers, each awaiting one decision before it asks for the next, over `--keys` distinct clients (client
// i is `ip:10.x.y.z` and, for two policies, also `principal:<uuid>`), taken in turn. Limits are so large
// (10^9 per 60 s) that nothing is refused: this is the cost of deciding, and a refusal fails the run.
// Cases:
//   a   RedisRateLimitStore.consume([ip])                       EVALSHA per batch of the turn's calls
//   a1  the same with maxBatchCalls: 1                          1 EVALSHA per call (no batching)
//   b   RedisRateLimitStore.consume([ip, principal])            both policies atomically, batched as a
//   c   RateLimiterRedis.consume(ip)                            1 EVALSHA (ioredis defineCommand)
//   d   ThrottlerStorageRedisService.increment(ip, ...)         1 EVAL (the script's text on every call)
//   e1  rate-limiter-flexible, ip + principal: two consume() at once (Promise.all, as its
//       RateLimiterUnion does; Union itself takes one key for all its limiters, so it is not used)
//   e2  throttler storage, ip + principal: two increment() one after the other (as ThrottlerGuard
//       awaits its named throttlers in turn)
// Also per decision, over the timed run: the scripts sent (EVAL and EVALSHA calls) and the time Redis
// spent in them (`INFO commandstats`: a script's time includes the commands it runs), the CPU time of the
// Redis process (`INFO cpu`, user + system: the scripts, reading and parsing the commands, writing the
// replies), and this process's CPU time (`process.cpuUsage`: the store's code, ioredis, the callers). The
// Redis figures are the server's totals, so another client's load would count too: use a Redis of the
// benchmark's own for clean figures. Redis and this process share the machine's CPUs. Each run is preceded
// by `--warmup` seconds of the same load, not measured. The cases run interleaved, once per round (the
// order rotates), and the table shows each case's median round by decisions/s.
// Refusals (`--refusal-duration` seconds, 0 skips): a, c and d with a limit of 10 per 60 s on fresh keys,
// every client's budget used up first (11 calls each), then warm-up and timed run: the timed calls are
// refusals.
//
// Memory: `--memory-keys` clients per store, each in two states: counted (one allowed call) and blocked
// (limit 1, a 60 s block: two calls, the second refused and starting the block; rate-limiter-flexible:
// blockDuration 60). Then SCAN by the store's prefix, `MEMORY USAGE` of each key (key name included),
// summed and divided by the number of clients.
//
// Window algorithms differ: this library keeps a sliding-window counter (per policy key one string, the
// MessagePack of window start, current and previous count, blocked-until and window length, kept for two
// windows); rate-limiter-flexible's RateLimiterRedis and the throttler storage keep a fixed window (one
// counter per key, kept for one window). rate-limiter-flexible has no sliding-window Redis limiter; the
// default (fixed window) is used. Keys: ours are the policy key under the prefix; rate-limiter-flexible's
// `<keyPrefix>:<key>`; the throttler storage's `{<key>:<name>}:hits` (and `:blocked` while blocked), where
// ThrottlerGuard makes `<key>` a SHA-256 hex of `<Class>-<handler>-<name>-<tracker>`, which is what this
// script passes.
//
// `--library` runs another build of the library (its `dist/index.js`), e.g. an older commit's, to compare.
//
// Redis: every key of a run is under `nas-bench:<hex>:` (the throttler's `{nas-bench:<hex>:...}`),
// deleted at the end, also after a failure, Ctrl-C or `--time-limit` (the callers are stopped first, so
// nothing writes after the delete). Nothing else is touched.
//
// Packages: @nest-lab/throttler-storage-redis 1.2.0 declares @nestjs/common and @nestjs/core ^7–^11 as
// peers, while the root has Nest 12; so bench/.npmrc sets legacy-peer-deps (npm would otherwise
// put a second copy of Nest 11 and ioredis 6 in bench/node_modules). Its peers (@nestjs/common,
// reflect-metadata, ioredis) resolve from the root node_modules, as the library does.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LIBRARY, fail, loadAverage, machineSummary, nonNegative, positive, requireLibrary } from './lib/cli.mjs';

const require = createRequire(import.meta.url);
const DEFAULT_REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const BIG_LIMIT = 1_000_000_000;
const WINDOW_MS = 60_000;
const REFUSAL_LIMIT = 10;
// MEMORY USAGE and UNLINK are sent this many to a pipeline.
const BATCH = 1_000;

const { values: args } = parseArgs({
  options: {
    'redis-url': { type: 'string', default: DEFAULT_REDIS_URL },
    concurrency: { type: 'string', default: '50' },
    keys: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    'refusal-duration': { type: 'string', default: '2' },
    'memory-keys': { type: 'string', default: '10000' },
    'time-limit': { type: 'string', default: '600' },
    library: { type: 'string' },
  },
});

if (args.library === undefined) requireLibrary();
const library = args.library === undefined ? LIBRARY : pathToFileURL(resolve(args.library));
const concurrency = positive(args.concurrency, '--concurrency');
const keyCount = positive(args.keys, '--keys');
const duration = positive(args.duration, '--duration');
const warmup = nonNegative(args.warmup, '--warmup');
const rounds = positive(args.rounds, '--rounds');
const refusalDuration = nonNegative(args['refusal-duration'], '--refusal-duration');
const memoryKeys = positive(args['memory-keys'], '--memory-keys');
const timeLimit = positive(args['time-limit'], '--time-limit');
if (keyCount > 2 ** 24 || memoryKeys > 2 ** 24) fail('--keys and --memory-keys must be at most 16,777,216');

await import('reflect-metadata');
const { Redis } = await import('ioredis');
const { RedisRateLimitStore } = await import(library.href);
const { RateLimiterRedis, RateLimiterRes } = require('rate-limiter-flexible');
const { ThrottlerStorageRedisService } = require('@nest-lab/throttler-storage-redis');

const run = randomBytes(6).toString('hex');
const PREFIX = `nas-bench:${run}:`;
const redis = new Redis(args['redis-url'], { lazyConnect: true, maxRetriesPerRequest: 1 });
redis.on('error', () => {});
try {
  await redis.connect();
} catch (error) {
  fail(`cannot connect to Redis at ${args['redis-url']} (${error.message}); start it or pass --redis-url`);
}

let cleaning;
function cleanUp() {
  cleaning ??= (async () => {
    const deleted = (await deleteMatching(`${PREFIX}*`)) + (await deleteMatching(`{${PREFIX}*`));
    progress(`deleted ${deleted.toLocaleString('en-US')} keys under ${PREFIX}`);
    redis.disconnect();
  })().catch((error) => console.error(`cleanup: ${error}`));
  return cleaning;
}
// Set by Ctrl-C or the time limit: the callers stop at their next decision, the run throws, and its
// `finally` deletes the keys once nothing writes any more (or, should Redis hang, the fallback after 10 s).
let stopping;
function stop(reason, exitCode) {
  if (stopping) return;
  stopping = { reason, exitCode };
  console.error(`${reason}; stopping and cleaning up`);
  setTimeout(() => void cleanUp().finally(() => process.exit(exitCode)), 10_000).unref();
}
function checkStopping() {
  if (stopping) throw new Error(stopping.reason);
}
const deadline = setTimeout(() => stop(`time limit of ${timeLimit} s reached`, 1), timeLimit * 1_000);
deadline.unref();
process.once('SIGINT', () => stop('interrupted', 130));

const info = await redis.info('server');
const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
const versions = Object.fromEntries(
  ['rate-limiter-flexible', '@nest-lab/throttler-storage-redis', '@nestjs/throttler', '@nestjs/common', 'ioredis'].map(
    (name) => [name, packageVersion(name)],
  ),
);
progress(
  `Redis ${redisVersion} at ${redact(args['redis-url'])}, keys under ${PREFIX}; ` +
    Object.entries(versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', '),
);

const loads = [];
let throughput;
let refusals = [];
let memory;
try {
  const clients = makeClients(keyCount);
  const cases = await throughputCases(clients);
  throughput = await measureThroughput(cases);
  if (refusalDuration > 0) refusals = await measureRefusals(clients);
  memory = await measureMemory();
} catch (error) {
  if (!stopping) throw error;
} finally {
  await cleanUp();
  clearTimeout(deadline);
}
if (stopping) process.exit(stopping.exitCode);
printTables();

/** `count` clients: an IP and a principal id each, and the throttler guard's hashed keys for both. */
function makeClients(count) {
  return Array.from({ length: count }, (_, i) => {
    const ip = `ip:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const principal = `principal:${randomUUID()}`;
    return { ip, principal };
  });
}

/** ThrottlerGuard's key: sha256(`<Class>-<handler>-<throttler name>-<tracker>`), hex. */
function throttlerKey(prefix, name, tracker) {
  return `${prefix}${createHash('sha256').update(`BenchController-handle-${name}-${tracker}`).digest('hex')}`;
}

/** Our store on `prefix`, with its script loaded. */
async function ourStore(prefix, options = {}) {
  const store = new RedisRateLimitStore(redis, { prefix, ...options });
  await store.init();
  return store;
}

/** The six throughput cases; each `decide(i)` decides one request of client i and checks it passed. */
async function throughputCases(clients) {
  const limit = BIG_LIMIT;
  const ours = await ourStore(`${PREFIX}a:`);
  const oursUnbatched = await ourStore(`${PREFIX}a1:`, { maxBatchCalls: 1 });
  const oursTwo = await ourStore(`${PREFIX}b:`);
  const flexible = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${PREFIX}c`, points: limit, duration: 60 });
  const flexibleIp = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: `${PREFIX}e1-ip`,
    points: limit,
    duration: 60,
  });
  const flexiblePrincipal = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: `${PREFIX}e1-principal`,
    points: limit,
    duration: 60,
  });
  const throttler = new ThrottlerStorageRedisService(redis);
  const dKeys = clients.map(({ ip }) => throttlerKey(`${PREFIX}d:`, 'default', ip));
  const eKeys = clients.map(({ ip, principal }) => [
    throttlerKey(`${PREFIX}e2:`, 'ip', ip),
    throttlerKey(`${PREFIX}e2:`, 'principal', principal),
  ]);
  const ourChecks = clients.map(({ ip }) => [{ key: ip, limit, windowMs: WINDOW_MS }]);
  const ourTwoChecks = clients.map(({ ip, principal }) => [
    { key: ip, limit, windowMs: WINDOW_MS },
    { key: principal, limit: limit - 1, windowMs: WINDOW_MS },
  ]);
  const allowed = (decisions) => {
    if (!decisions.every((decision) => decision.allowed)) throw new Error('a decision refused');
  };
  const consumed = (promise) =>
    promise.catch((error) => {
      throw error instanceof RateLimiterRes ? new Error('rate-limiter-flexible refused') : error;
    });
  const notBlocked = (record) => {
    if (record.isBlocked || record.totalHits > limit) throw new Error('the throttler storage refused');
  };
  return [
    {
      id: 'a',
      label: '`RedisRateLimitStore.consume`, 1 policy',
      policies: 1,
      commands: 'batched',
      decide: async (i) => allowed(await ours.consume(ourChecks[i], Date.now())),
    },
    {
      id: 'a1',
      label: '`RedisRateLimitStore.consume`, 1 policy, `maxBatchCalls: 1` (no batching)',
      policies: 1,
      commands: '1 `EVALSHA`',
      decide: async (i) => allowed(await oursUnbatched.consume(ourChecks[i], Date.now())),
    },
    {
      id: 'b',
      label: '`RedisRateLimitStore.consume`, 2 policies in one call',
      policies: 2,
      commands: 'batched',
      decide: async (i) => allowed(await oursTwo.consume(ourTwoChecks[i], Date.now())),
    },
    {
      id: 'c',
      label: 'rate-limiter-flexible `RateLimiterRedis.consume`, 1 policy',
      policies: 1,
      commands: '1 `EVALSHA`',
      decide: (i) => consumed(flexible.consume(clients[i].ip)),
    },
    {
      id: 'd',
      label: '`ThrottlerStorageRedisService.increment`, 1 policy',
      policies: 1,
      commands: '1 `EVAL`',
      decide: async (i) => notBlocked(await throttler.increment(dKeys[i], WINDOW_MS, limit, WINDOW_MS, 'default')),
    },
    {
      id: 'e1',
      label: 'rate-limiter-flexible, 2 policies: 2 `consume` at once',
      policies: 2,
      commands: '2 `EVALSHA`, concurrent',
      decide: (i) =>
        Promise.all([
          consumed(flexibleIp.consume(clients[i].ip)),
          consumed(flexiblePrincipal.consume(clients[i].principal)),
        ]),
    },
    {
      id: 'e2',
      label: '`ThrottlerStorageRedisService`, 2 policies: 2 `increment` in turn',
      policies: 2,
      commands: '2 `EVAL`, sequential',
      decide: async (i) => {
        notBlocked(await throttler.increment(eKeys[i][0], WINDOW_MS, limit, WINDOW_MS, 'ip'));
        notBlocked(await throttler.increment(eKeys[i][1], WINDOW_MS, limit - 1, WINDOW_MS, 'principal'));
      },
    },
  ];
}

/** Every case once per round, the order rotating; each case's median round by decisions/s. */
async function measureThroughput(cases) {
  const results = new Map(cases.map((testCase) => [testCase.id, []]));
  for (let round = 0; round < rounds; round += 1) {
    for (let k = 0; k < cases.length; k += 1) {
      const testCase = cases[(k + round) % cases.length];
      const result = await drive(testCase.decide, keyCount);
      if (result.refused > 0) throw new Error(`${testCase.id}: ${result.refused} calls refused in a throughput run`);
      results.get(testCase.id).push(result);
      loads.push(Number(loadAverage()));
      progress(`round ${round + 1}/${rounds}, ${testCase.id}: ${describe(result)} (load average ${loadAverage()})`);
    }
  }
  return cases.map((testCase) => ({ ...testCase, ...median(results.get(testCase.id)) }));
}

/** a, c and d at a limit of 10 per 60 s on fresh keys, every budget used up before the timed run. */
async function measureRefusals(clients) {
  const limit = REFUSAL_LIMIT;
  const ours = await ourStore(`${PREFIX}ra:`);
  const flexible = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${PREFIX}rc`, points: limit, duration: 60 });
  const throttler = new ThrottlerStorageRedisService(redis);
  const dKeys = clients.map(({ ip }) => throttlerKey(`${PREFIX}rd:`, 'default', ip));
  const checks = clients.map(({ ip }) => [{ key: ip, limit, windowMs: WINDOW_MS }]);
  const cases = [
    {
      id: 'a',
      label: '`RedisRateLimitStore.consume`, 1 policy (a refusal writes nothing)',
      decide: async (i) => !(await ours.consume(checks[i], Date.now()))[0].allowed,
    },
    {
      id: 'c',
      label: 'rate-limiter-flexible `RateLimiterRedis.consume` (rejects with a `RateLimiterRes`)',
      decide: (i) =>
        flexible.consume(clients[i].ip).then(
          () => false,
          (error) => {
            if (error instanceof RateLimiterRes) return true;
            throw error;
          },
        ),
    },
    {
      id: 'd',
      label: "`ThrottlerStorageRedisService.increment` (blockDuration 60 s, its guard's default: the ttl)",
      decide: async (i) => (await throttler.increment(dKeys[i], WINDOW_MS, limit, WINDOW_MS, 'default')).isBlocked,
    },
  ];
  const rows = [];
  for (const testCase of cases) {
    // Every client's budget used up first (its limit and one more call), so the timed calls are refusals.
    for (let call = 0; call <= limit; call += 1) await forEachClient(keyCount, testCase.decide);
    const result = await drive(testCase.decide, keyCount, refusalDuration, warmup);
    rows.push({ ...testCase, ...result });
    progress(`refusals, ${testCase.id}: ${describe(result)}, ${percent(result.refused / result.count)} refused`);
  }
  return rows;
}

/**
 * `concurrency` callers for `seconds` after `warmupSeconds` of the same, untimed; caller k takes the next
 * client in turn. A `decide` that resolves to `true` counts as a refusal.
 */
async function drive(decide, clientCount, seconds = duration, warmupSeconds = warmup) {
  let next = 0;
  const pass = async (ms, latencies) => {
    const end = performance.now() + ms;
    let refused = 0;
    const caller = async () => {
      while (!stopping && performance.now() < end) {
        const i = next++ % clientCount;
        const start = performance.now();
        const outcome = await decide(i);
        if (latencies) latencies.push(performance.now() - start);
        if (outcome === true) refused += 1;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, caller));
    checkStopping();
    return { elapsed: performance.now() - started, refused };
  };
  if (warmupSeconds > 0) await pass(warmupSeconds * 1_000, null);
  const latencies = [];
  const scriptsBefore = await scriptStats();
  const cpuBefore = process.cpuUsage();
  const { elapsed, refused } = await pass(seconds * 1_000, latencies);
  const cpu = process.cpuUsage(cpuBefore);
  const scriptsAfter = await scriptStats();
  const count = latencies.length;
  const sorted = Float64Array.from(latencies).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return {
    count,
    perSecond: (count * 1_000) / elapsed,
    p50: at(0.5),
    p99: at(0.99),
    refused,
    redisUs: (scriptsAfter.usec - scriptsBefore.usec) / count,
    redisCpuUs: (scriptsAfter.cpuUs - scriptsBefore.cpuUs) / count,
    scriptCalls: (scriptsAfter.calls - scriptsBefore.calls) / count,
    clientUs: (cpu.user + cpu.system) / count,
  };
}

/**
 * Calls and microseconds of EVAL and EVALSHA so far, from `INFO commandstats` (a script's time includes
 * the commands it runs), and the Redis process's CPU time in microseconds (`INFO cpu`, user + system).
 * The server's totals: another client's load at the same time would count too.
 */
async function scriptStats() {
  const text = await redis.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const match of text.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+),usec=(\d+)/gm)) {
    calls += Number(match[1]);
    usec += Number(match[2]);
  }
  const cpu = await redis.info('cpu');
  const seconds = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? NaN);
  return { calls, usec, cpuUs: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6 };
}

/** The round with the median decisions/s. */
function median(results) {
  return [...results].sort((x, y) => x.perSecond - y.perSecond)[Math.floor((results.length - 1) / 2)];
}

/** Touches `memoryKeys` clients per store and state, then sums MEMORY USAGE over each store's keys. */
async function measureMemory() {
  const clients = makeClients(memoryKeys);
  const stores = [
    {
      name: 'this library',
      pattern: (state) => `${PREFIX}m-ours-${state}:*`,
      touch: async (state) => {
        const store = await ourStore(`${PREFIX}m-ours-${state}:`);
        const check = (i) => [
          state === 'counted'
            ? { key: clients[i].ip, limit: BIG_LIMIT, windowMs: WINDOW_MS }
            : { key: clients[i].ip, limit: 1, windowMs: WINDOW_MS, blockMs: WINDOW_MS },
        ];
        return async (i) => (await store.consume(check(i), Date.now()))[0].allowed;
      },
    },
    {
      name: 'rate-limiter-flexible',
      pattern: (state) => `${PREFIX}m-rlflx-${state}:*`,
      touch: async (state) => {
        const limiter = new RateLimiterRedis({
          storeClient: redis,
          keyPrefix: `${PREFIX}m-rlflx-${state}`,
          points: state === 'counted' ? BIG_LIMIT : 1,
          duration: 60,
          blockDuration: state === 'counted' ? 0 : 60,
        });
        return (i) =>
          limiter.consume(clients[i].ip).then(
            () => true,
            (error) => {
              if (error instanceof RateLimiterRes) return false;
              throw error;
            },
          );
      },
    },
    {
      name: '@nest-lab/throttler-storage-redis',
      pattern: (state) => `{${PREFIX}m-nl-${state}:*`,
      touch: async (state) => {
        const throttler = new ThrottlerStorageRedisService(redis);
        const limit = state === 'counted' ? BIG_LIMIT : 1;
        const keys = clients.map(({ ip }) => throttlerKey(`${PREFIX}m-nl-${state}:`, 'default', ip));
        return async (i) => !(await throttler.increment(keys[i], WINDOW_MS, limit, WINDOW_MS, 'default')).isBlocked;
      },
    },
  ];
  const rows = [];
  for (const store of stores) {
    for (const state of ['counted', 'blocked']) {
      const decide = await store.touch(state);
      // counted: one allowed call per client; blocked: a second call, refused, which starts the block.
      const calls = state === 'counted' ? 1 : 2;
      for (let call = 1; call <= calls; call += 1) {
        const outcomes = await forEachClient(memoryKeys, decide);
        const allowed = outcomes.filter(Boolean).length;
        const expected = call === 1 ? memoryKeys : 0;
        if (allowed !== expected) throw new Error(`${store.name}, ${state}, call ${call}: ${allowed} allowed`);
      }
      const keys = await scan(store.pattern(state));
      let bytes = 0;
      let nameBytes = 0;
      for (let start = 0; start < keys.length; start += BATCH) {
        const pipeline = redis.pipeline();
        for (const key of keys.slice(start, start + BATCH)) pipeline.memory('USAGE', key);
        for (const [error, usage] of await pipeline.exec()) {
          if (error) throw error;
          bytes += usage ?? 0;
        }
      }
      for (const key of keys) nameBytes += Buffer.byteLength(key);
      const sample = keys.find((key) => !key.endsWith(':blocked')) ?? keys[0];
      const encoding = sample ? `${await redis.type(sample)} (${String(await redis.object('ENCODING', sample))})` : '-';
      const row = {
        name: store.name,
        state,
        keysPerClient: keys.length / memoryKeys,
        bytesPerClient: bytes / memoryKeys,
        bytesPerKey: keys.length > 0 ? bytes / keys.length : 0,
        nameBytes: keys.length > 0 ? nameBytes / keys.length : 0,
        encoding,
      };
      rows.push(row);
      progress(
        `memory, ${store.name}, ${state}: ${keys.length.toLocaleString('en-US')} keys, ` +
          `${Math.round(row.bytesPerClient)} B per client`,
      );
    }
  }
  return rows;
}

/** Calls `decide(i)` once for every client i, `concurrency` at a time; the outcomes in order. */
async function forEachClient(count, decide) {
  const outcomes = Array.from({ length: count });
  let next = 0;
  const caller = async () => {
    while (!stopping && next < count) {
      const i = next++;
      outcomes[i] = await decide(i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  checkStopping();
  return outcomes;
}

async function scan(pattern) {
  const keys = [];
  let cursor = '0';
  do {
    const [nextCursor, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', BATCH);
    keys.push(...batch);
    cursor = nextCursor;
  } while (cursor !== '0');
  return [...new Set(keys)];
}

async function deleteMatching(pattern) {
  if (redis.status !== 'ready') return 0;
  const keys = await scan(pattern);
  for (let start = 0; start < keys.length; start += BATCH) await redis.unlink(...keys.slice(start, start + BATCH));
  return keys.length;
}

/** The version in the package.json of `name` as this folder resolves it (bench/ or the root). */
function packageVersion(name) {
  let directory = dirname(require.resolve(name));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8'));
      if (manifest.name === name) return manifest.version;
    } catch {}
    const parent = dirname(directory);
    if (parent === directory) return 'unknown';
    directory = parent;
  }
}

function describe(result) {
  return (
    `${Math.round(result.perSecond).toLocaleString('en-US')}/s, p50 ${ms(result.p50)} ms, p99 ${ms(result.p99)} ms, ` +
    `Redis scripts ${result.redisUs.toFixed(1)} µs (${result.scriptCalls.toFixed(3)} scripts), Redis CPU ` +
    `${result.redisCpuUs.toFixed(1)} µs, client CPU ` +
    `${result.clientUs.toFixed(1)} µs per decision`
  );
}

/** The commands column: for batched cases, how many decisions one `EVALSHA` carried on average. */
function commandsOf(row) {
  if (row.commands !== 'batched') return row.commands;
  return `1 \`EVALSHA\` per ${(1 / row.scriptCalls).toFixed(1)} decisions`;
}

function ms(value) {
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function percent(fraction) {
  return `${(fraction * 100).toFixed(fraction < 0.995 ? 1 : 2)} %`;
}

function redact(url) {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

function progress(message) {
  process.stderr.write(`${message}\n`);
}

function printTables() {
  const load = loads.length > 0 ? `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : loadAverage();
  const oursOne = throughput.find((row) => row.id === 'a').perSecond;
  const lines = [
    `${machineSummary()}; Redis ${redisVersion} at ${redact(args['redis-url'])}, one ioredis ${versions.ioredis} ` +
      `connection; ${args.library === undefined ? 'this build of the library' : `library ${args.library}`}; ` +
      `rate-limiter-flexible ${versions['rate-limiter-flexible']}, @nest-lab/throttler-storage-redis ` +
      `${versions['@nest-lab/throttler-storage-redis']} (@nestjs/throttler ${versions['@nestjs/throttler']}, ` +
      `@nestjs/common ${versions['@nestjs/common']}); load average ${load}`,
    '',
    `Throughput: ${concurrency} callers in flight over ${keyCount.toLocaleString('en-US')} clients, nothing refused; ` +
      `median of ${rounds} rounds of ${duration} s (after ${warmup} s of warm-up each). A decision covers all the ` +
      'policies of one request.',
    '',
    '| case | store call | policies | Redis commands per decision | decisions/s | p50 ms | p99 ms | decisions/s vs a | ' +
      'Redis script µs per decision | Redis CPU µs per decision | client CPU µs per decision |',
    '|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of throughput) {
    lines.push(
      `| ${row.id} | ${row.label} | ${row.policies} | ${commandsOf(row)} | ` +
        `${Math.round(row.perSecond).toLocaleString('en-US')} | ${ms(row.p50)} | ${ms(row.p99)} | ` +
        `${Math.round((row.perSecond / oursOne) * 100)} % | ${row.redisUs.toFixed(1)} | ${row.redisCpuUs.toFixed(1)} | ` +
        `${row.clientUs.toFixed(1)} |`,
    );
  }
  if (refusals.length > 0) {
    lines.push(
      '',
      `Refusals: a limit of ${REFUSAL_LIMIT} per 60 s on ${keyCount.toLocaleString('en-US')} fresh clients, ` +
        `${concurrency} in flight, every budget used up first, then ${refusalDuration} s after ${warmup} s of ` +
        'warm-up, one round.',
      '',
      '| case | store call | decisions/s | refused | p50 ms | p99 ms | Redis script µs per decision | ' +
        'Redis CPU µs per decision | client CPU µs per decision |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const row of refusals) {
      lines.push(
        `| ${row.id} | ${row.label} | ${Math.round(row.perSecond).toLocaleString('en-US')} | ` +
          `${percent(row.refused / row.count)} | ${ms(row.p50)} | ${ms(row.p99)} | ${row.redisUs.toFixed(1)} | ` +
          `${row.redisCpuUs.toFixed(1)} | ${row.clientUs.toFixed(1)} |`,
      );
    }
  }
  lines.push(
    '',
    `Memory: ${memoryKeys.toLocaleString('en-US')} clients per store and state, one policy; \`MEMORY USAGE\` ` +
      "summed over the store's keys (SCAN by prefix) and divided by the clients. Key names are included; " +
      `each carries the benchmark's prefix (\`${PREFIX}m-<store>-<state>:\`, about ${PREFIX.length + 12} bytes).`,
    '',
    '| store | state | keys per client | bytes per client | bytes per key | key name bytes | value |',
    '|---|---|---:|---:|---:|---:|---|',
  );
  for (const row of memory) {
    lines.push(
      `| ${row.name} | ${row.state} | ${row.keysPerClient.toFixed(2)} | ${Math.round(row.bytesPerClient)} | ` +
        `${Math.round(row.bytesPerKey)} | ${Math.round(row.nameBytes)} | ${row.encoding} |`,
    );
  }
  console.log(lines.join('\n'));
}
