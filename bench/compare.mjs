// Side by side (GitHub issue 12): what one request costs with this project's whole stack, next to bare
// Nest and to the stack Nest users assemble by hand today, over HTTP, on Fastify and Express. Prints a
// markdown table (progress goes to stderr).
//
//   npm run bench                      (at the root: builds the library, installs bench/, runs this)
//   node compare.mjs [--adapters fastify,express] [--only bare,hand,full,...] [--tool wrk|autocannon]
//     [--rounds 3] [--duration 10] [--warmup 2] [--connections 50] [--clients 10000]
//     [--database-url postgres://postgres@127.0.0.1:5432/test] [--redis-url redis://127.0.0.1:6379]
//     [--time-limit 1800]
//
// Variants, each served by a child process started with `--serve` (see fixtures/), on each adapter:
//   bare          Nest alone: `GET /items/:id` answers a small JSON item (fixtures/bare-app.mjs);
//   hand          @nestjs/throttler (in memory, per IP) + helmet (@fastify/helmet on Fastify) +
//                 @nestjs/passport with passport-headerapikey, the key looked up in PostgreSQL by its SHA-256
//                 behind an LRUCache, and a roles guard (fixtures/hand-app.mjs);
//   hand-nocache  the same without the cache: a query per request;
//   hand-10k      the `hand` server, `--clients` distinct clients (a key and an X-Forwarded-For address each);
//   full          SecurityModule in production mode: PostgreSQL stores, Redis rate limits per IP and per
//                 principal, security headers, audit, the route behind an API key and
//                 `@RequirePermission('items:read')` (fixtures/full-app.mjs); one client;
//   full-10k      the `full` server, `--clients` distinct clients;
//   full-signed   the `full` server, `GET /signed/items/:id` (`@Signed()`), each request signed afresh with
//                 the seed HMAC scheme by the load generator.
// `bare` is always measured: every other row is divided by it.
//
// Load: wrk (`-t1 -c<connections>`, fixtures/clients.lua) when it is on PATH, else autocannon; `--tool`
// chooses. wrk's Lua cannot compute an HMAC, so `full-signed` is always driven by autocannon (its
// setupRequest signs each request), and then `bare` and `full` are measured with autocannon in the same
// rounds too: a ratio only ever divides runs of the same tool. Each run: a fresh server, `--warmup`
// seconds of load (not measured), then `--duration` seconds measured; the server's CPU time (from
// /proc/<pid>/stat) and resident memory (VmRSS) are read around and after it. The runs of a round are
// interleaved in an order that rotates by round; the table shows each row's median round by req/s and its
// ratio to bare Nest on the same adapter, with the same tool, in the same round (the median over rounds).
//
// Clean-up on every path (the end, an error, Ctrl-C, SIGTERM, `--time-limit`): the servers are stopped, the
// database `nas_bench_<hex>` (created on the server of `--database-url`, migrated with SECURITY_MIGRATIONS)
// is dropped, the Redis keys under the run's prefix `nas-bench-cmp-<hex>:` are deleted and the temporary
// files (the clients' keys) removed. Nest and the library resolve from the root node_modules.
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanupOnExit } from './lib/cleanup.mjs';
import {
  LIBRARY,
  fail,
  loadAverage,
  loadSettings,
  machineSummary,
  positive,
  redactUrl,
  requireLibrary,
} from './lib/cli.mjs';
import { importAutocannon, load, median, ms, startServer } from './lib/http-load.mjs';
import { listenAndReport } from './lib/nest-app.mjs';
import { DEFAULT_DATABASE_URL, createDatabase, openDataSource } from './lib/postgres.mjs';
import { processCpuMicros, processRssMb } from './lib/proc.mjs';
import { connectBenchRedis } from './lib/redis.mjs';
import { findWrk, runWrk, wrkVersion } from './lib/wrk.mjs';
import { createBareApp } from './fixtures/bare-app.mjs';
import { createFullApp, seedLibraryClients, SEED_CONCURRENCY } from './fixtures/full-app.mjs';
import { createHandApp, seedHandKeys } from './fixtures/hand-app.mjs';
import { ITEM_PATH, SIGNED_ITEM_PATH } from './fixtures/items.mjs';

const CLIENTS_SCRIPT = fileURLToPath(new URL('./fixtures/clients.lua', import.meta.url));
const ADAPTERS = ['fastify', 'express'];
// server: what the child serves (`--serve`); many: `--clients` distinct clients instead of one; signed:
// a fresh seed-HMAC signature per request (autocannon only).
const VARIANTS = [
  { name: 'bare', server: 'bare', label: 'bare Nest, no security' },
  {
    name: 'hand',
    server: 'hand',
    label:
      '@nestjs/throttler (memory) + helmet + passport-headerapikey, PostgreSQL lookup behind an LRU cache, roles guard',
  },
  { name: 'hand-nocache', server: 'hand-nocache', label: 'the same without the cache: a PostgreSQL query per request' },
  { name: 'hand-10k', server: 'hand', many: true, label: 'the `hand` server, one client per request of N in turn' },
  {
    name: 'full',
    server: 'full',
    label:
      "SecurityModule (production): PostgreSQL stores, Redis rate limits per IP and principal, headers, audit; API key + `@RequirePermission('items:read')`",
  },
  { name: 'full-10k', server: 'full', many: true, label: 'the `full` server, one client per request of N in turn' },
  {
    name: 'full-signed',
    server: 'full',
    signed: true,
    label: 'the `full` server, a `@Signed()` route, each request signed afresh (seed HMAC, a nonce each)',
  },
];
const VARIANT_NAMES = VARIANTS.map((variant) => variant.name);
const SERVERS = ['bare', 'hand', 'hand-nocache', 'full'];

const { values: args } = parseArgs({
  options: {
    serve: { type: 'string' },
    adapter: { type: 'string', default: 'fastify' },
    signed: { type: 'boolean', default: false },
    adapters: { type: 'string', default: ADAPTERS.join(',') },
    only: { type: 'string', default: VARIANT_NAMES.join(',') },
    tool: { type: 'string' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    clients: { type: 'string', default: '10000' },
    'database-url': { type: 'string', default: DEFAULT_DATABASE_URL },
    'redis-url': {
      type: 'string',
      default: process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    },
    'time-limit': { type: 'string', default: '1800' },
  },
});

if (args.serve) await serve(args.serve, args.adapter);
else await main();

/**
 * Child process: one server on 127.0.0.1 with its settings from the parent (`BENCH_COMPARE`, JSON); it
 * tests its own route before it reports its port, so a misconfigured variant fails before any load.
 */
async function serve(server, adapterName) {
  if (!SERVERS.includes(server)) fail(`--serve must be one of ${SERVERS.join(', ')}`);
  if (!ADAPTERS.includes(adapterName)) fail(`--adapter must be fastify or express, not ${adapterName}`);
  await import('reflect-metadata');
  const settings = JSON.parse(process.env.BENCH_COMPARE ?? '{}');
  const built =
    server === 'bare'
      ? await createBareApp(adapterName)
      : server === 'full'
        ? await createFullApp(adapterName, settings, { signed: args.signed })
        : await createHandApp(adapterName, { ...settings, cache: server === 'hand' });
  await listenAndReport(built.app, built.extra, built.check);
}

/** Parent: prepares the database, Redis and the clients, runs the rounds, prints the table. */
async function main() {
  requireLibrary();
  const settings = loadSettings(args);
  const adapters = listOf(args.adapters, '--adapters', ADAPTERS);
  const names = listOf(args.only, '--only', VARIANT_NAMES);
  // Every ratio divides by bare Nest, so it is always measured.
  const selected = VARIANTS.filter((variant) => variant.name === 'bare' || names.includes(variant.name));
  const clientCount = positive(args.clients, '--clients');
  const timeLimit = positive(args['time-limit'], '--time-limit');
  const tool = chooseTool(args.tool);
  const jobs = planJobs(adapters, selected, tool.name);
  const autocannon = jobs.some((job) => job.tool === 'autocannon') ? await importAutocannon() : undefined;
  const lib = await import(LIBRARY.href);

  const cleanups = cleanupOnExit({ timeLimit });
  let output;
  try {
    const setup = await prepare(lib, selected, clientCount, cleanups);
    // About 4 s more per run: the server's start and self-test, and its stop.
    const perRun = settings.warmup + settings.duration + 4;
    progress(
      `${jobs.length} runs per round, ${settings.rounds} rounds: about ` +
        `${Math.ceil((jobs.length * settings.rounds * perRun) / 60)} min (load tool: ${describeTool(tool)}; ` +
        `load average ${loadAverage()})`,
    );
    const runs = await runRounds(jobs, { ...settings, tool, autocannon, lib, setup, cleanups });
    output = table(jobs, runs, { ...settings, tool, clientCount });
  } finally {
    await cleanups.run();
  }
  console.log(output.text);
  if (output.broken.length > 0) {
    console.error(`broken benchmark: ${output.broken.join(', ')} answered other than 2xx or failed (see the table)`);
    process.exitCode = 1;
  }
}

/** The comma-separated `text`, each entry checked against `known`. */
function listOf(text, option, known) {
  const list = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of list) if (!known.includes(entry)) fail(`${option}: unknown ${entry}; known: ${known.join(', ')}`);
  if (list.length === 0) fail(`${option}: name at least one of ${known.join(', ')}`);
  return list;
}

/** `--tool`, or wrk when it is on PATH, else autocannon. */
function chooseTool(name) {
  if (name !== undefined && !['wrk', 'autocannon'].includes(name)) {
    fail(`--tool must be wrk or autocannon, not ${name}`);
  }
  const wrk = name === 'autocannon' ? undefined : findWrk();
  if (name === 'wrk' && !wrk) fail('--tool wrk: wrk is not on PATH (install it, e.g. `apt-get install wrk`)');
  return wrk ? { name: 'wrk', path: wrk, version: wrkVersion(wrk) } : { name: 'autocannon' };
}

function describeTool(tool) {
  return tool.name === 'wrk' ? `wrk ${tool.version} at ${tool.path}` : 'autocannon';
}

/**
 * The runs of one round: per adapter, every selected variant with the chosen tool; `full-signed` with
 * autocannon, and then `bare` and `full` with autocannon too (unless they already are), for its ratio.
 */
function planJobs(adapters, selected, toolName) {
  const jobs = [];
  const add = (variant, adapter, tool) => {
    if (!jobs.some((job) => job.variant === variant && job.adapter === adapter && job.tool === tool)) {
      jobs.push({ id: `${variant.name}/${adapter}/${tool}`, variant, adapter, tool });
    }
  };
  const byName = (name) => VARIANTS.find((variant) => variant.name === name);
  for (const adapter of adapters) {
    for (const variant of selected) if (!variant.signed) add(variant, adapter, toolName);
    if (selected.some((variant) => variant.signed)) {
      for (const name of ['bare', 'full', 'full-signed']) add(byName(name), adapter, 'autocannon');
    }
  }
  return jobs;
}

/**
 * Everything the servers share, made once: the clients (keys from the library's `generateApiKey()` and
 * addresses 10.x.y.z), the database (migrated; the library's tables seeded through its stores, the hand
 * stack's table), a Redis prefix, and the files of clients for wrk. Each is undone by `cleanups`.
 */
async function prepare(lib, selected, clientCount, cleanups) {
  const servers = new Set(selected.map((variant) => variant.server));
  const needsFull = servers.has('full');
  const needsHand = servers.has('hand') || servers.has('hand-nocache');
  const count = selected.some((variant) => variant.many) ? clientCount : 1;
  // The servers' secrets, for this run only: the API-key pepper and the signing master key.
  const pepper = `v1:${randomBytes(32).toString('base64')}`;
  const masterKeys = `v1:${randomBytes(32).toString('base64')}`;
  const clients = Array.from({ length: count }, (_, index) => ({ ...lib.generateApiKey(), ip: clientIp(index) }));

  const dir = await mkdtemp(join(tmpdir(), 'nas-bench-compare-'));
  cleanups.add(() => rm(dir, { recursive: true, force: true }));
  const lines = (list) => list.map((client) => `${client.key} ${client.ip}\n`).join('');
  const files = { one: join(dir, 'one-client.txt'), many: join(dir, 'clients.txt') };
  await writeFile(files.one, lines(clients.slice(0, 1)), { mode: 0o600 });
  await writeFile(files.many, lines(clients), { mode: 0o600 });
  const spillDir = join(dir, 'audit');
  await mkdir(spillDir, { mode: 0o700 });

  let database;
  if (needsFull || needsHand) {
    database = await createDatabase(args['database-url']);
    cleanups.add(database.drop);
    progress(`database ${database.name} on ${redactUrl(args['database-url'])}`);
    // Seeding only: this pool's commits do not wait for the disk (the servers' sessions do).
    const dataSource = await openDataSource(lib, database.url, {
      poolSize: SEED_CONCURRENCY,
      settings: { synchronous_commit: 'off' },
    });
    try {
      const started = Date.now();
      if (needsFull) await seedLibraryClients(lib, dataSource, clients, pepper);
      if (needsHand) await seedHandKeys(dataSource, clients);
      progress(
        `seeded ${count.toLocaleString('en-US')} client(s) (${[needsFull && 'library', needsHand && 'hand'].filter(Boolean).join(' + ')}) ` +
          `in ${((Date.now() - started) / 1_000).toFixed(1)} s`,
      );
    } finally {
      await dataSource.destroy();
    }
  }

  const keyPrefix = `nas-bench-cmp-${randomBytes(4).toString('hex')}:`;
  if (needsFull) await connectRedis(keyPrefix, cleanups);

  return {
    clients,
    files,
    childEnv: {
      BENCH_COMPARE: JSON.stringify({
        databaseUrl: database?.url,
        redisUrl: args['redis-url'],
        keyPrefix,
        pepper,
        masterKeys,
        spillDir,
        probe: { key: clients[0].key, ip: clients[0].ip, principalId: clients[0].principalId },
      }),
    },
  };
}

/** Client i's address: 10.0.0.1, 10.0.0.2, … (distinct for up to 16 million clients). */
function clientIp(index) {
  const n = index + 1;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** Checks that Redis answers, and registers the deletion of every key under `prefix`. */
async function connectRedis(prefix, cleanups) {
  await connectBenchRedis(args['redis-url'], {
    prefix,
    hint: 'pass --redis-url',
    onCleanup: (cleanup) => cleanups.add(cleanup),
    progress,
    redactUrl,
  });
}

/** `rounds` rounds of every job, in an order that rotates by round; returns the results by job id. */
async function runRounds(jobs, context) {
  const runs = new Map(jobs.map((job) => [job.id, []]));
  for (let round = 1; round <= context.rounds; round += 1) {
    const shift = (round - 1) % jobs.length;
    for (const job of [...jobs.slice(shift), ...jobs.slice(0, shift)]) {
      const result = await measure(job, context);
      runs.get(job.id).push({ ...result, round });
      progress(
        `round ${round}/${context.rounds} ${job.id}: ${Math.round(result.rate).toLocaleString('en-US')} req/s, ` +
          `p50 ${latency(result.p50Ms, job.tool)}, p99 ${latency(result.p99Ms, job.tool)}, ` +
          `server CPU ${format(result.cpuPerRequest, 0)} µs/request, RSS ${format(result.rssMb, 0)} MB` +
          `${result.non2xx + result.errors > 0 ? `, ${result.non2xx} non-2xx, ${result.errors} errors` : ''} ` +
          `(load average ${loadAverage()})`,
      );
    }
  }
  return runs;
}

/**
 * One run of one job: a fresh server (which has tested itself), the warm-up, the measured run with the
 * server's CPU time read before and after and its memory after, then the server stopped.
 */
async function measure(job, context) {
  const server = await startServer({
    script: fileURLToPath(import.meta.url),
    args: ['--serve', job.variant.server, '--adapter', job.adapter, ...(job.variant.signed ? ['--signed'] : [])],
    label: job.id,
    env: context.setup.childEnv,
  });
  const stopServer = () => server.stop();
  const removeStop = context.cleanups.add(stopServer);
  try {
    const drive = driver(job, server, context);
    if (context.warmup > 0) {
      const warm = await drive(context.warmup);
      if (warm.non2xx + warm.errors > 0) {
        progress(`warning: ${job.id} warm-up: ${warm.non2xx} non-2xx answers, ${warm.errors} errors`);
      }
    }
    const cpuBefore = processCpuMicros(server.pid);
    const result = await drive(context.duration);
    const cpuAfter = processCpuMicros(server.pid);
    result.rssMb = processRssMb(server.pid);
    result.cpuPerRequest =
      cpuBefore === undefined || cpuAfter === undefined || result.answered === 0
        ? undefined
        : (cpuAfter - cpuBefore) / result.answered;
    return result;
  } finally {
    removeStop();
    await stopServer();
  }
}

/**
 * `(seconds) => result` for a job: a wrk or autocannon run against its server. Results are normalised:
 * `answered` (responses), `rate` (answered ÷ the run's own elapsed time), `p50Ms`, `p99Ms`, `non2xx`,
 * `errors` (socket errors, timeouts included).
 */
function driver(job, server, { tool, autocannon, lib, setup, cleanups, connections }) {
  const origin = `http://127.0.0.1:${server.port}`;
  const path = job.variant.signed ? SIGNED_ITEM_PATH : ITEM_PATH;
  const clients = job.variant.many ? setup.clients : setup.clients.slice(0, 1);
  if (job.tool === 'wrk') {
    return async (seconds) => {
      const file = job.variant.many ? setup.files.many : setup.files.one;
      const run = runWrk(tool.path, {
        url: origin,
        connections,
        duration: seconds,
        script: CLIENTS_SCRIPT,
        scriptArgs: [file, path],
      });
      const removeStop = cleanups.add(run.stop);
      try {
        const result = await run.done;
        return {
          answered: result.requests,
          rate: result.requests / (result.durationUs / 1e6),
          p50Ms: result.p50Us / 1_000,
          p99Ms: result.p99Us / 1_000,
          non2xx: result.non2xx,
          errors: result.connect + result.read + result.write + result.timeout,
        };
      } finally {
        removeStop();
      }
    };
  }
  // autocannon: the same clients in turn (a key and an address per request), or a signature per request.
  let next = 0;
  const headersFor = job.variant.signed
    ? () => ({
        'x-forwarded-for': clients[0].ip,
        ...lib.signRequest({ method: 'GET', url: `${origin}${path}` }, server.message.signing, {
          scheme: 'hmac-sha256',
        }),
      })
    : () => {
        const client = clients[next++ % clients.length];
        return { 'x-api-key': client.key, 'x-forwarded-for': client.ip };
      };
  return async (seconds) => {
    const tracker = load(autocannon, {
      url: origin,
      connections,
      duration: seconds,
      requests: [{ method: 'GET', path, setupRequest: (request) => ({ ...request, headers: headersFor() }) }],
    });
    const removeStop = cleanups.add(() => tracker.stop());
    try {
      const result = await tracker;
      const answered = result['2xx'] + result.non2xx;
      return {
        answered,
        rate: answered / result.duration,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        non2xx: result.non2xx,
        errors: result.errors,
      };
    } finally {
      removeStop();
    }
  };
}

/** The markdown table, its header and notes; `broken`: the rows that answered other than 2xx. */
function table(jobs, runs, { tool, connections, duration, warmup, rounds, clientCount }) {
  const bareOf = (job) =>
    jobs.find((j) => j.variant.name === 'bare' && j.adapter === job.adapter && j.tool === job.tool);
  const toolOrder = [tool.name, ...(tool.name === 'autocannon' ? [] : ['autocannon'])];
  const ordered = [...jobs].sort(
    (a, b) =>
      toolOrder.indexOf(a.tool) - toolOrder.indexOf(b.tool) ||
      ADAPTERS.indexOf(a.adapter) - ADAPTERS.indexOf(b.adapter) ||
      VARIANTS.indexOf(a.variant) - VARIANTS.indexOf(b.variant),
  );
  const broken = [];
  const lines = [
    `Side by side: \`GET /items/:id\`, ${connections} connections, ${duration} s per run after ${warmup} s of warm-up, ` +
      `median of ${rounds} interleaved rounds, a fresh server per run, loopback; ${machineSummary()}; ` +
      `load tool: ${tool.name === 'wrk' ? `wrk ${tool.version} (\`-t1 -c${connections}\`, fixtures/clients.lua)` : 'autocannon'}` +
      `${jobs.some((job) => job.tool === 'autocannon' && tool.name !== 'autocannon') ? ', and autocannon for the signed comparison' : ''}; ` +
      `load average ${loadAverage()} at the end`,
    '',
    '| variant | adapter | load tool | req/s | p50 | p99 | server CPU µs/req | RSS MB | non-2xx | req/s vs bare (same round) | req/s of the rounds |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const job of ordered) {
    const all = runs.get(job.id);
    const row = median(all, (run) => run.rate);
    const bareRuns = runs.get(bareOf(job).id);
    const ratios = all.map((run) => run.rate / bareRuns.find((bare) => bare.round === run.round).rate);
    const non2xx = all.reduce((sum, run) => sum + run.non2xx, 0);
    const errors = all.reduce((sum, run) => sum + run.errors, 0);
    const isBroken = non2xx + errors > 0;
    if (isBroken) broken.push(job.id);
    lines.push(
      `| ${job.variant.name}${isBroken ? ' ⚠ **broken**' : ''} | ${job.adapter} | ${job.tool} | ` +
        `${Math.round(row.rate).toLocaleString('en-US')} | ${latency(row.p50Ms, job.tool)} | ${latency(row.p99Ms, job.tool)} | ` +
        `${format(row.cpuPerRequest, 0)} | ${format(row.rssMb, 0)} | ` +
        `${non2xx.toLocaleString('en-US')}${errors > 0 ? ` (+${errors.toLocaleString('en-US')} errors)` : ''} | ` +
        `${job.variant.name === 'bare' ? '100 %' : `${(median(ratios, (ratio) => ratio) * 100).toFixed(0)} %`} | ` +
        `${all.map((run) => Math.round(run.rate).toLocaleString('en-US')).join(', ')} |`,
    );
  }
  lines.push('', 'Variants:', '');
  for (const variant of VARIANTS.filter((v) => jobs.some((job) => job.variant === v))) {
    lines.push(`- \`${variant.name}\`: ${variant.label.replace('of N', `of ${clientCount.toLocaleString('en-US')}`)}`);
  }
  lines.push(
    '',
    "req/s vs bare: the run's req/s ÷ that of bare Nest on the same adapter, with the same load tool, in the same " +
      'round; the median over the rounds. The other columns are from the round with the median req/s. Server CPU: ' +
      'utime + stime of the server process (/proc/<pid>/stat, all its threads) over the measured run ÷ the answers; ' +
      'RSS: its VmRSS at the end of the run. non-2xx: answers other than 2xx in the measured runs of all rounds ' +
      '(and socket errors or timeouts, if any): anything but 0 marks a broken benchmark.',
  );
  if (jobs.some((job) => job.variant.signed)) {
    lines.push(
      '',
      "`full-signed`: every request is signed afresh by the load generator (autocannon's setupRequest calls the " +
        "library's `signRequest`, a new nonce each time; wrk's Lua cannot compute an HMAC), on the same shared CPUs." +
        (tool.name === 'autocannon'
          ? ''
          : ' So `bare` and `full` are measured with autocannon in the same rounds too, and its ratio divides ' +
            'autocannon runs only. Compare rows of the same load tool only: autocannon costs the CPUs more per ' +
            'request than wrk, which leaves the server less.'),
    );
  }
  if (tool.name === 'wrk') lines.push('', 'Latency: wrk resolves µs; autocannon rows are whole milliseconds.');
  return { text: lines.join('\n'), broken };
}

/** wrk's latencies with two decimals below 100 ms, autocannon's (1 ms resolution) as whole milliseconds. */
function latency(value, toolName) {
  return toolName === 'wrk' && value < 100 ? `${value.toFixed(2)} ms` : ms(value);
}

function format(value, digits) {
  return value === undefined ? '–' : value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

function progress(message) {
  process.stderr.write(`${message}\n`);
}
