// What rate limiting costs per HTTP request: the same Nest app (Fastify by default) with SecurityModule,
// loaded with autocannon over loopback, with rate limiting off, on the in-memory store and on Redis.
// Limits are huge (10^9 per 60 s), so nothing is refused: this measures the cost of deciding.
//
//   npm run build && cd bench && npm ci && node rate-limit-request.mjs [--adapter fastify|express]
//     [--connections 50] [--duration 5] [--warmup 1] [--rounds 3] [--redis-url redis://127.0.0.1:6379]
//     [--cases off,ip-memory,ip-redis,ip-route-redis,key-off,key-redis]
//
// Cases (each run starts a fresh server process with the case's module options; the module, the routes
// and everything else are the same in every case):
//   off             GET /ping (@Public()), rateLimit: false
//   ip-memory       GET /ping, global ip policy only, in-memory store
//   ip-redis        GET /ping, global ip policy only, Redis store (1 EVALSHA per request)
//   ip-route-redis  GET /limited (@Public() + @RateLimit(limit, { by: 'ip' })), global ip policy + the
//                   route policy, Redis store (both decided before authentication, in 1 EVALSHA)
//   key-off         GET /me with X-API-Key, rateLimit: false
//   key-redis       GET /me with X-API-Key, global ip + principal policies, Redis store (2 EVALSHA per
//                   request: the ip policy before authentication, the principal policy after it)
//
// The cases run interleaved, once per round in a rotating order, and the table shows each case's median
// round by req/s. Every Redis key is under `nas-bench-<hex>:` (the module's `redis.keyPrefix`) and is
// deleted at the end, also after a failure or Ctrl-C. Script calls per request come from the difference of
// Redis's `INFO commandstats` over the timed run: fewer than expected means the limiter fell back to its
// local store (Redis slower than `storeTimeout`), which the script reports.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LIBRARY, fail, loadAverage, loadSettings, machineSummary, requireLibrary } from './lib/cli.mjs';
import { importAutocannon, load, median, ms, startServer } from './lib/http-load.mjs';
import { createAdapter, decorateMethod, seedKeyAndListen } from './lib/nest-app.mjs';
import { deleteMatching } from './lib/redis.mjs';

const HUGE = '1000000000/60s';
const ROLE_PERMISSIONS = ['documents:read', 'items:read', 'users:read'];

// policies: the rateLimit.policies of the case, or false for rateLimit: false. scripts: EVAL/EVALSHA per
// request expected on Redis. baseline: the case whose req/s the ratio divides by.
const CASES = [
  { name: 'off', n: '1', path: '/ping', label: '`@Public()` GET, `rateLimit: false`', policies: false, scripts: 0 },
  {
    name: 'ip-memory',
    n: '2',
    path: '/ping',
    label: '`@Public()` GET, ip policy, in-memory store',
    policies: { ip: HUGE, principal: false },
    store: 'memory',
    scripts: 0,
  },
  {
    name: 'ip-redis',
    n: '3',
    path: '/ping',
    label: '`@Public()` GET, ip policy, Redis',
    policies: { ip: HUGE, principal: false },
    store: 'redis',
    scripts: 1,
  },
  {
    name: 'ip-route-redis',
    n: '4',
    path: '/limited',
    label: "`@Public()` GET, ip + `@RateLimit(…, { by: 'ip' })`, Redis",
    policies: { ip: HUGE, principal: false },
    store: 'redis',
    scripts: 1,
  },
  {
    name: 'key-off',
    n: '5a',
    path: '/me',
    label: 'API-key GET `/me`, `rateLimit: false`',
    policies: false,
    withKey: true,
    scripts: 0,
  },
  {
    name: 'key-redis',
    n: '5b',
    path: '/me',
    label: 'API-key GET `/me`, ip + principal policies, Redis',
    policies: { ip: HUGE, principal: HUGE },
    store: 'redis',
    withKey: true,
    scripts: 2,
    baseline: 'key-off',
  },
];

const { values: args } = parseArgs({
  options: {
    serve: { type: 'string' },
    adapter: { type: 'string', default: 'fastify' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    'redis-url': {
      type: 'string',
      default: process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    },
    'key-prefix': { type: 'string' },
    cases: { type: 'string', default: CASES.map((c) => c.name).join(',') },
  },
});

if (!['fastify', 'express'].includes(args.adapter)) fail(`--adapter must be fastify or express, not ${args.adapter}`);
if (args.serve) await serve(args.serve, args.adapter);
else await main();

/** Child process: the app of one case on 127.0.0.1, seeded with one principal and one key. */
async function serve(caseName, adapterName) {
  const variant = CASES.find((c) => c.name === caseName);
  await import('reflect-metadata');
  const { Controller, Get, Module } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { ApiKeys, CurrentPrincipal, Principals, Public, RateLimit, SecurityModule } = await import(LIBRARY.href);

  // Plain JavaScript: decorators are applied by hand, as TypeScript would emit them.
  class BenchController {
    ping() {
      return { pong: true };
    }
    limited() {
      return { pong: true };
    }
    me(principal) {
      return { principalId: principal.id, authMethod: principal.authMethod };
    }
  }
  decorateMethod(BenchController, 'ping', [Get('ping'), Public()]);
  decorateMethod(BenchController, 'limited', [Get('limited'), Public(), RateLimit(HUGE, { by: 'ip' })]);
  decorateMethod(BenchController, 'me', [Get('me'), (target, key) => CurrentPrincipal()(target, key, 0)]);
  Controller()(BenchController);

  const redis = variant.store === 'redis' ? { redis: { url: args['redis-url'], keyPrefix: args['key-prefix'] } } : {};
  class BenchModule {}
  Module({
    imports: [
      SecurityModule.forRoot({
        environment: 'production',
        audit: { log: false },
        apiKeys: { pepper: `v1:${randomBytes(32).toString('base64')}` },
        // Revocation broadcasts in process in every case, so the Redis cases differ only by the store.
        changes: { transport: 'memory' },
        rateLimit: variant.policies === false ? false : { policies: variant.policies, store: variant.store },
        ...redis,
        // The unlimited baseline and the in-memory cases run one instance: waived on purpose.
        lint: { allow: ['rate-limit-off', 'signing-nonces-not-shared'] },
      }),
    ],
    controllers: [BenchController],
  })(BenchModule);

  const app = await NestFactory.create(BenchModule, await createAdapter(adapterName), { logger: ['error'] });
  await seedKeyAndListen(app, { Principals, ApiKeys }, ROLE_PERMISSIONS);
}

/** Parent: runs the cases interleaved, prints the table, deletes its Redis keys. */
async function main() {
  requireLibrary();
  const autocannon = await importAutocannon();
  const settings = loadSettings(args);
  const selected = args.cases.split(',').map((name) => {
    const found = CASES.find((c) => c.name === name.trim());
    if (!found) fail(`--cases: unknown case ${name}; known: ${CASES.map((c) => c.name).join(', ')}`);
    return found;
  });

  const { Redis } = await import('ioredis');
  const prefix = `nas-bench-${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(args['redis-url'], { lazyConnect: true, maxRetriesPerRequest: 1 });
  const needsRedis = selected.some((c) => c.store === 'redis');
  if (needsRedis) {
    await redis.connect().catch((error) => fail(`Redis at ${redact(args['redis-url'])}: ${error.message}`));
  }
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned || !needsRedis) return;
    cleaned = true;
    const deleted = await deleteMatching(redis, `${prefix}*`);
    process.stderr.write(`deleted ${deleted} Redis keys under ${prefix}\n`);
    redis.disconnect();
  };
  process.once('SIGINT', () => {
    cleanup().finally(() => process.exit(130));
  });

  const loads = [];
  try {
    const runs = new Map(selected.map((c) => [c.name, []]));
    for (let round = 1; round <= settings.rounds; round += 1) {
      // A rotating order keeps a slow start or end of the sequence from always hitting one case.
      const shift = (round - 1) % selected.length;
      const order = [...selected.slice(shift), ...selected.slice(0, shift)];
      for (const variant of order) {
        const result = await measure(autocannon, redis, variant, settings, prefix);
        runs.get(variant.name).push(result);
        loads.push(Number(loadAverage()));
        process.stderr.write(
          `round ${round}/${settings.rounds} ${variant.name}: ${Math.round(result.requests.average)} req/s, ` +
            `${result.scriptsPerRequest?.toFixed(2) ?? '-'} scripts/request (load average ${loadAverage()})\n`,
        );
      }
    }
    const results = selected.map((c) => ({ ...c, result: median(runs.get(c.name)), all: runs.get(c.name) }));
    printTable(results, {
      ...settings,
      adapter: args.adapter,
      loads,
      redisVersion: needsRedis ? await version(redis) : '',
    });
  } finally {
    await cleanup();
  }
}

/** One run of one case: start its server, check its answers, warm it up, load it, stop it. */
async function measure(autocannon, redis, variant, { connections, duration, warmup }, prefix) {
  const server = await startServer({
    script: fileURLToPath(import.meta.url),
    args: [
      '--serve',
      variant.name,
      '--adapter',
      args.adapter,
      '--redis-url',
      args['redis-url'],
      '--key-prefix',
      prefix,
    ],
    label: variant.name,
  });
  try {
    const url = `http://127.0.0.1:${server.port}${variant.path}`;
    const headers = variant.withKey ? { 'x-api-key': server.message.key } : undefined;
    await probe(url, variant, headers, server.message.principalId);
    if (warmup > 0) await load(autocannon, { url, connections, duration: warmup, headers });
    const before = variant.store === 'redis' ? await scriptCalls(redis) : 0;
    const result = await load(autocannon, { url, connections, duration, headers });
    const answered = result['2xx'] + result.non2xx;
    if (result.errors > 0 || result.timeouts > 0 || result['2xx'] !== answered) {
      throw new Error(
        `${variant.name}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} answers other than 2xx`,
      );
    }
    if (variant.store === 'redis') {
      result.scriptsPerRequest = ((await scriptCalls(redis)) - before) / answered;
      // Other clients of the same Redis can only add calls; fewer than expected means a local fallback.
      if (result.scriptsPerRequest < variant.scripts * 0.98) {
        process.stderr.write(
          `warning: ${variant.name}: ${result.scriptsPerRequest.toFixed(2)} scripts per request, expected ` +
            `${variant.scripts}: the limiter fell back to its local store for part of the run\n`,
        );
      }
    }
    return result;
  } finally {
    await server.stop();
  }
}

/** 200 with the expected body and the expected rate-limit headers (none when rate limiting is off). */
async function probe(url, variant, headers, principalId) {
  const response = await fetch(url, { headers });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`${variant.name}: GET ${variant.path} answered ${response.status}`);
  if (variant.withKey && body.principalId !== principalId) {
    throw new Error(`${variant.name}: GET ${variant.path} answered another principal: ${JSON.stringify(body)}`);
  }
  const policy = response.headers.get('ratelimit-policy');
  const expected =
    variant.policies === false
      ? null
      : variant.name === 'ip-route-redis'
        ? /^"ip";q=\d+;w=60, "route";q=\d+;w=60$/
        : variant.withKey
          ? /^"ip";q=\d+;w=60, "principal";q=\d+;w=60$/
          : /^"ip";q=\d+;w=60$/;
  if (expected === null ? policy !== null : !expected.test(policy ?? '')) {
    throw new Error(`${variant.name}: unexpected RateLimit-Policy header ${JSON.stringify(policy)}`);
  }
}

/** EVAL + EVALSHA calls so far (the server's totals, from `INFO commandstats`). */
async function scriptCalls(redis) {
  const text = await redis.info('commandstats');
  let calls = 0;
  for (const match of text.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

async function version(redis) {
  return /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1] ?? 'unknown';
}

function redact(url) {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

function printTable(results, { connections, duration, rounds, adapter, loads, redisVersion }) {
  const byName = new Map(results.map((r) => [r.name, r]));
  const base = (entry) => byName.get(entry.baseline ?? 'off');
  const lines = [
    `Nest ${adapter}, SecurityModule (production, in-memory principal and key stores), limits ${HUGE} (nothing ` +
      `refused), ${connections} connections, ${duration} s per run, median of ${rounds}, loopback; ` +
      `${machineSummary()}${redisVersion ? `; Redis ${redisVersion} at ${redact(args['redis-url'])}` : ''}; ` +
      `load average ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)} after the runs`,
    '',
    '| # | case | req/s | p50 latency | p99 latency | req/s vs baseline | Redis scripts per request | req/s of the rounds |',
    '|---|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const entry of results) {
    const { n, label, result, all } = entry;
    const baseline = base(entry);
    const ratio = baseline
      ? `${((result.requests.average / baseline.result.requests.average) * 100).toFixed(0)} % of (${baseline.n})`
      : '–';
    lines.push(
      `| ${n} | ${label} | ${Math.round(result.requests.average).toLocaleString('en-US')} | ${ms(result.latency.p50)} | ` +
        `${ms(result.latency.p99)} | ${ratio} | ${result.scriptsPerRequest?.toFixed(2) ?? '–'} | ` +
        `${all.map((r) => Math.round(r.requests.average).toLocaleString('en-US')).join(', ')} |`,
    );
  }
  console.log(lines.join('\n'));
}
