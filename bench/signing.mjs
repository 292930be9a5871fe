// What verifying a signed request costs: in process (parse + verify, then + the replay claim on
// MemoryNonceStore, then on RedisNonceStore), and over HTTP (a `@Signed()` route against the same route
// authenticated with an API key). Prints markdown tables.
//
//   npm run build && cd bench && npm ci && node signing.mjs [--parts verify,http] [--calls 3000] [--warmup-calls 300]
//     [--concurrency 32] [--rounds 3] [--redis-url redis://127.0.0.1:6379] [--no-redis]
//     [--http-cases api-key,seed,rfc9421-ed25519] [--adapter fastify|express] [--connections 50]
//     [--duration 5] [--warmup 2] [--time-limit 600]
//
// Part 1, verification (no HTTP), per scheme: the seed `hmac-sha256` scheme, `aws4-hmac-sha256` (SigV4),
// RFC 9421 with an HMAC key and RFC 9421 with an Ed25519 key. Each round pre-signs, per scheme,
// `--warmup-calls` + `--calls` distinct `POST /orders` requests with `signRequest` (a distinct 1,024-byte
// JSON body each, and a distinct nonce for the schemes that have one; headers passed through a JSON round
// trip so they are flat strings, as Node's HTTP parser gives them), untimed. Then four modes run on
// that batch, in a rotating order:
//   crypto  `parsed.verify(material)` alone, on requests parsed beforehand (untimed): the cryptography
//           (HMAC or Ed25519 over the signing string, constant-time compare) without the parsing, body
//           digest and canonical string, which the parse builds;
//   verify  `parseSignedRequest(input, { sigv4 })` + `parsed.verify(material)`;
//   memory  the same + `claim('<scheme>:<keyId>:<replayId>', 601000)` on a fresh MemoryNonceStore
//           (the key and TTL SignatureAuthenticator uses, with the default 300 s clock skew);
//   redis   the same on RedisNonceStore (one `SET NX PX`) over one ioredis connection, under a fresh prefix.
// Each mode makes two passes over the batch: one call at a time, each timed with process.hrtime.bigint()
// (the `await` included) after the untimed warm-up calls, and then `--concurrency` callers at once (only
// the rate). Every verify must be true and every claim must win, or the run fails; after each pass one
// replayed claim must lose. The tables show each case's median round (by calls per second, one at a time).
//
// Part 2, HTTP: one Nest app (Fastify by default, `bodyParser: false`: the library parses every body itself
// and keeps the raw bytes signatures cover) with SecurityModule.forRoot
// ({ environment: 'production', audit: { log: false }, apiKeys: { pepper }, changes: { transport: 'memory' },
// rateLimit: false, signing: { masterKeys: 'v1:<base64 32 bytes>' } }), in-memory stores (so the
// in-memory nonce store), and two routes with the same handler: `POST /keyed` (API key in X-API-Key) and
// `POST /signed` (`@Signed()`), each returning the principal id, the auth method and the body's item count.
// Each server seeds a principal, an API key, an HMAC and an Ed25519 signing key through Principals, ApiKeys
// and SigningKeys, and reports them. A signature is accepted once, so the parent pre-signs every request of
// a run (distinct bodies and nonces), untimed, and autocannon takes them in turn through `setupRequest`;
// the API-key case goes through the same `setupRequest` with the same kind of distinct bodies, so the load
// generator does the same work in every case. So that the pool is exactly what a run sends, timed runs are
// sized in requests (autocannon's `amount`): the case's mean rate so far times `--duration` (before its
// first run, the rate of the second half of its warm-up). The warm-up is `--warmup` seconds, and signs on
// the spot once its pool is empty (it is not measured). req/s is the answers divided by the time from the
// start to the last answer; the server's CPU time (user + system, read from a `@Public()` `GET /cpu-usage`
// before and after) per answered request is the column that a busy machine disturbs least. Each run starts
// a fresh server; the cases run in a rotating order, `--rounds` times, and the table shows each case's
// median round by req/s.
//
// Redis: every key is under `nas-bench-sig:<hex>:`, deleted at the end (also after a failure, Ctrl-C or
// `--time-limit`); nothing else in Redis is touched.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LIBRARY, fail, loadAverage, loadSettings, machineSummary, positive, requireLibrary } from './lib/cli.mjs';
import { importAutocannon, ms, startServer } from './lib/http-load.mjs';
import { createAdapter, decorateMethod, listenAndReport } from './lib/nest-app.mjs';
import { connectBenchRedis } from './lib/redis.mjs';

const DEFAULT_REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SIGV4 = { region: 'us-east-1', service: 'api' };
// SignatureAuthenticator's claim TTL with the default clock skew of 300 s: 2 * skew + 1 s.
const NONCE_TTL_MS = 2 * 300_000 + 1_000;
const BODY_BYTES = 1024;
const ROLE_PERMISSIONS = ['documents:read', 'items:read', 'users:read'];
// Before any run of a case, its pool is sized for this many requests per second.
const FIRST_RATE_GUESS = 2_000;
// A full garbage collection before each timed pass, so that one pass does not pay for the garbage of the
// pre-signing or of the pass before it (the usual way to reach gc() without --expose-gc).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc');

const SCHEMES = [
  { name: 'seed', label: 'seed `hmac-sha256`', scheme: 'hmac-sha256', key: 'hmac' },
  { name: 'sigv4', label: '`aws4-hmac-sha256` (SigV4)', scheme: 'aws4-hmac-sha256', key: 'hmac' },
  { name: 'rfc9421-hmac', label: 'RFC 9421, `hmac-sha256` key', scheme: 'rfc9421', key: 'hmac' },
  { name: 'rfc9421-ed25519', label: 'RFC 9421, `ed25519` key', scheme: 'rfc9421', key: 'ed25519' },
];
const MODES = [
  // The cryptography alone: verify() of requests parsed beforehand (untimed), i.e. the HMAC (or Ed25519
  // verification) over the already built signing string and the constant-time compare.
  { name: 'crypto', label: 'verify() only (parsed beforehand)' },
  { name: 'verify', label: 'parse + verify' },
  { name: 'memory', label: '+ claim, `MemoryNonceStore`' },
  { name: 'redis', label: '+ claim, `RedisNonceStore`' },
];
const HTTP_CASES = [
  { name: 'api-key', label: '`POST /keyed`, `X-API-Key`', path: '/keyed', authMethod: 'api-key' },
  ...SCHEMES.map((s) => ({ ...s, label: `\`POST /signed\`, ${s.label}`, path: '/signed', authMethod: 'signature' })),
];

const { values: args } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    parts: { type: 'string', default: 'verify,http' },
    calls: { type: 'string', default: '3000' },
    'warmup-calls': { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    'redis-url': { type: 'string', default: DEFAULT_REDIS_URL },
    'no-redis': { type: 'boolean', default: false },
    'http-cases': { type: 'string', default: 'api-key,seed,rfc9421-ed25519' },
    adapter: { type: 'string', default: 'fastify' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    'time-limit': { type: 'string', default: '600' },
  },
});

if (!['fastify', 'express'].includes(args.adapter)) fail(`--adapter must be fastify or express, not ${args.adapter}`);
if (args.serve) await serve(args.adapter);
else await main();

/** Child process: the app on 127.0.0.1 with a principal, an API key and two signing keys; reports them. */
async function serve(adapterName) {
  await import('reflect-metadata');
  const { Body, Controller, Get, HttpCode, Module, Post } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { ApiKeys, CurrentPrincipal, Principals, Public, SecurityModule, Signed, SigningKeys } = await import(
    LIBRARY.href
  );

  // Plain JavaScript: decorators are applied by hand, as TypeScript would emit them.
  const answer = (principal, body) => ({
    principalId: principal.id,
    authMethod: principal.authMethod,
    keyId: principal.keyId ?? null,
    items: Array.isArray(body?.items) ? body.items.length : -1,
  });
  class BenchController {
    cpu() {
      return process.cpuUsage();
    }
    keyed(principal, body) {
      return answer(principal, body);
    }
    signed(principal, body) {
      return answer(principal, body);
    }
  }
  // `@CurrentPrincipal() principal, @Body() body`, as TypeScript's __param(0, …), __param(1, …) apply them.
  const params = [(target, key) => CurrentPrincipal()(target, key, 0), (target, key) => Body()(target, key, 1)];
  decorateMethod(BenchController, 'cpu', [Get('cpu-usage'), Public()]);
  decorateMethod(BenchController, 'keyed', [Post('keyed'), HttpCode(200), ...params]);
  decorateMethod(BenchController, 'signed', [Post('signed'), HttpCode(200), Signed(), ...params]);
  Controller()(BenchController);

  class BenchModule {}
  Module({
    imports: [
      SecurityModule.forRoot({
        environment: 'production',
        audit: { log: false },
        apiKeys: { pepper: `v1:${randomBytes(32).toString('base64')}` },
        changes: { transport: 'memory' },
        rateLimit: false,
        signing: { masterKeys: `v1:${randomBytes(32).toString('base64')}` },
        // One instance with the in-memory nonce store and no rate limits: waived on purpose.
        lint: { allow: ['rate-limit-off', 'signing-nonces-not-shared'] },
      }),
    ],
    controllers: [BenchController],
  })(BenchModule);

  const app = await NestFactory.create(BenchModule, await createAdapter(adapterName), {
    logger: ['error'],
    bodyParser: false,
  });
  const actor = { label: 'bench' };
  const principals = app.get(Principals);
  await principals.defineRole('viewer', ROLE_PERMISSIONS, actor);
  const owner = await principals.create({ username: 'bench-service', kind: 'service', roles: ['viewer'] }, actor);
  const apiKey = await app.get(ApiKeys).create({ ownerId: owner.id, name: 'bench' }, actor);
  const signingKeys = app.get(SigningKeys);
  const hmac = await signingKeys.create({ ownerId: owner.id, name: 'bench hmac', algorithm: 'hmac-sha256' }, actor);
  const ed25519 = await signingKeys.create({ ownerId: owner.id, name: 'bench ed25519', algorithm: 'ed25519' }, actor);
  await listenAndReport(app, {
    principalId: owner.id,
    apiKey: apiKey.key,
    hmac: { accessKeyId: hmac.accessKeyId, secret: hmac.secret },
    ed25519: { accessKeyId: ed25519.accessKeyId, privateKey: ed25519.privateKey },
  });
}

/** Parent: part 1 in this process, part 2 against child servers; then the tables. */
async function main() {
  requireLibrary();
  const parts = args.parts.split(',').map((part) => part.trim());
  for (const part of parts) if (!['verify', 'http'].includes(part)) fail(`--parts: unknown part ${part}`);
  const calls = positive(args.calls, '--calls');
  const warmupCalls = Number(args['warmup-calls']);
  if (!Number.isInteger(warmupCalls) || warmupCalls < 0) fail('--warmup-calls must be 0 or a positive integer');
  const concurrency = positive(args.concurrency, '--concurrency');
  const timeLimit = positive(args['time-limit'], '--time-limit');
  const http = loadSettings(args);
  const httpCases = args['http-cases'].split(',').map((name) => {
    const found = HTTP_CASES.find((c) => c.name === name.trim());
    if (!found) fail(`--http-cases: unknown case ${name}; known: ${HTTP_CASES.map((c) => c.name).join(', ')}`);
    return found;
  });
  const lib = await import(LIBRARY.href);

  // Everything cleans up through this list; Ctrl-C and the time limit run it too.
  const cleanups = [];
  let cleaning;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      while (cleanups.length > 0)
        await cleanups
          .pop()()
          .catch((error) => console.error(`cleanup: ${error}`));
    })());
  const stop = (reason, code) => {
    console.error(`${reason}; cleaning up`);
    void cleanUp().finally(() => process.exit(code));
  };
  const deadline = setTimeout(() => stop(`time limit of ${timeLimit} s reached`, 1), timeLimit * 1_000);
  deadline.unref();
  process.once('SIGINT', () => stop('interrupted', 130));

  const output = [];
  try {
    if (parts.includes('verify')) {
      const redis = args['no-redis'] ? undefined : await connectRedis(cleanups);
      const rows = await verifyPart(lib, { calls, warmupCalls, concurrency, rounds: http.rounds, redis });
      output.push(verifyTable(rows, { calls, warmupCalls, concurrency, rounds: http.rounds, redis }));
    }
    if (parts.includes('http')) {
      const autocannon = await importAutocannon();
      const results = await httpPart(lib, autocannon, httpCases, http, cleanups);
      output.push(httpTable(results, http));
    }
  } finally {
    await cleanUp();
    clearTimeout(deadline);
  }
  console.log(output.join('\n\n'));
}

// ---------------------------------------------------------------------------------------------------------
// Requests

/** `count` distinct JSON bodies of exactly BODY_BYTES bytes (an order: an id, ten items, a padded note). */
function makeBodies(count) {
  const bodies = new Array(count);
  for (let i = 0; i < count; i += 1) {
    const order = {
      orderId: `ord_${randomBytes(12).toString('hex')}`,
      customer: 'cus_4f1c2a9e8b7d6c5a',
      currency: 'EUR',
      items: Array.from({ length: 10 }, (_, n) => ({ sku: `SKU-${1000 + n}`, quantity: 1 + (n % 3), price: 1999 })),
      note: '',
    };
    const bare = Buffer.byteLength(JSON.stringify(order));
    order.note = 'x'.repeat(BODY_BYTES - bare);
    bodies[i] = Buffer.from(JSON.stringify(order));
    if (bodies[i].length !== BODY_BYTES) throw new Error(`body of ${bodies[i].length} bytes`);
  }
  return bodies;
}

/** The credentials `signRequest` takes for a scheme, from `{ hmac, ed25519 }`. */
function credentialsFor(scheme, keys) {
  return scheme.key === 'hmac' ? keys.hmac : keys.ed25519;
}

/**
 * Signs one `POST <url>` with `body` (content-type application/json): the headers as a server receives
 * them (lower-case names, flat strings through a JSON round trip), content-length left to the sender.
 */
function signOne(lib, scheme, credentials, url, body) {
  const headers = { 'content-type': 'application/json' };
  const added = lib.signRequest({ method: 'POST', url, headers, body }, credentials, {
    scheme: scheme.scheme,
    ...SIGV4,
  });
  return JSON.parse(JSON.stringify({ ...headers, ...added }));
}

// ---------------------------------------------------------------------------------------------------------
// Part 1: verification in process

async function connectRedis(cleanups) {
  const prefix = `nas-bench-sig:${randomBytes(6).toString('hex')}:`;
  let redis;
  try {
    redis = await connectBenchRedis(args['redis-url'], {
      prefix,
      hint: 'start it, pass --redis-url or --no-redis',
      onCleanup: (cleanup) => cleanups.push(cleanup),
      progress,
      redactUrl: redact,
    });
  } catch (error) {
    fail(error.message);
  }
  const version = /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1] ?? 'unknown';
  return { client: redis, prefix, version };
}

async function verifyPart(lib, { calls, warmupCalls, concurrency, rounds, redis }) {
  const { MemoryNonceStore, RedisNonceStore, parseSignedRequest } = lib;
  const secret = randomBytes(30).toString('base64url').slice(0, 40);
  const pair = generateKeyPairSync('ed25519');
  const keys = {
    hmac: { accessKeyId: 'NASBENCHHMAC00000001', secret },
    ed25519: { accessKeyId: 'NASBENCHED2551900001', privateKey: pair.privateKey },
  };
  const materials = {
    hmac: { algorithm: 'hmac-sha256', secret: Buffer.from(secret, 'utf8') },
    ed25519: { algorithm: 'ed25519', publicKey: pair.publicKey },
  };
  const modes = MODES.filter((mode) => mode.name !== 'redis' || redis);
  const count = warmupCalls + calls;
  const runs = new Map();
  for (const scheme of SCHEMES) for (const mode of modes) runs.set(`${scheme.name}/${mode.name}`, []);

  for (let round = 1; round <= rounds; round += 1) {
    const shift = (round - 1) % SCHEMES.length;
    for (const scheme of [...SCHEMES.slice(shift), ...SCHEMES.slice(0, shift)]) {
      const bodies = makeBodies(count);
      const signStart = process.hrtime.bigint();
      const inputs = bodies.map((body) => ({
        method: 'POST',
        path: '/orders',
        query: '',
        headers: {
          ...signOne(lib, scheme, credentialsFor(scheme, keys), 'http://api.example.test/orders', body),
          'content-length': String(body.length),
        },
        body,
      }));
      const signUs = Number(process.hrtime.bigint() - signStart) / 1_000 / count;
      const material = materials[scheme.key];
      const modeShift = (round - 1) % modes.length;
      for (const mode of [...modes.slice(modeShift), ...modes.slice(0, modeShift)]) {
        // A fresh store (memory) or prefix (Redis) per pass: each claim of the batch is a first claim.
        const storeFor = (pass) =>
          mode.name === 'memory'
            ? new MemoryNonceStore()
            : mode.name === 'redis'
              ? new RedisNonceStore(redis.client, { prefix: `${redis.prefix}${round}-${scheme.name}-${pass}:` })
              : undefined;
        const parsedBeforehand =
          mode.name === 'crypto' ? inputs.map((input) => parseSignedRequest(input, { sigv4: SIGV4 })) : undefined;
        const check = (store) => async (i) => {
          if (parsedBeforehand) {
            if (!parsedBeforehand[i].verify(material)) throw new Error(`${scheme.name} request ${i}: verify() false`);
            return;
          }
          const input = inputs[i];
          const parsed = parseSignedRequest(input, { sigv4: SIGV4 });
          if (!parsed.verify(material)) throw new Error(`${scheme.name} request ${i}: verify() returned false`);
          if (store && !(await store.claim(`${scheme.scheme}:${parsed.keyId}:${parsed.replayId}`, NONCE_TTL_MS))) {
            throw new Error(`${scheme.name} request ${i}: the nonce claim lost`);
          }
        };
        const sequentialStore = storeFor('seq');
        collectGarbage();
        const sequential = await timeSequential(check(sequentialStore), warmupCalls, calls);
        await expectReplayRefused(sequentialStore, parseSignedRequest, inputs[count - 1], scheme);
        const concurrentStore = storeFor('conc');
        collectGarbage();
        const perSecondConcurrent = await timeConcurrent(check(concurrentStore), warmupCalls, calls, concurrency);
        await expectReplayRefused(concurrentStore, parseSignedRequest, inputs[0], scheme);
        const row = { ...sequential, perSecondConcurrent, signUs };
        runs.get(`${scheme.name}/${mode.name}`).push(row);
        progress(
          `round ${round}/${rounds} ${scheme.name} ${mode.name}: p50 ${us(row.p50)} µs, p99 ${us(row.p99)} µs, ` +
            `${Math.round(row.perSecond).toLocaleString('en-US')}/s one at a time, ` +
            `${Math.round(perSecondConcurrent).toLocaleString('en-US')}/s with ${concurrency} in flight ` +
            `(signing ${signUs.toFixed(1)} µs each; load average ${loadAverage()})`,
        );
      }
    }
  }
  const rows = [];
  for (const scheme of SCHEMES) {
    for (const mode of modes) {
      const all = runs.get(`${scheme.name}/${mode.name}`);
      const sorted = [...all].sort((a, b) => a.perSecond - b.perSecond);
      rows.push({ scheme, mode, ...sorted[Math.floor((sorted.length - 1) / 2)], all });
    }
  }
  return rows;
}

/** After a pass, claiming one of its requests again must lose (the store really kept the nonces). */
async function expectReplayRefused(store, parseSignedRequest, input, scheme) {
  if (!store) return;
  const parsed = parseSignedRequest(input, { sigv4: SIGV4 });
  if (await store.claim(`${scheme.scheme}:${parsed.keyId}:${parsed.replayId}`, NONCE_TTL_MS)) {
    throw new Error(`${scheme.name}: a replayed nonce was accepted by the ${store.kind} store`);
  }
}

/** `warmup` untimed calls, then `calls` timed ones, one after the other: p50, p99, mean (ns) and calls/s. */
async function timeSequential(call, warmup, calls) {
  for (let i = 0; i < warmup; i += 1) await call(i);
  const latencies = new Float64Array(calls);
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i += 1) {
    const start = process.hrtime.bigint();
    await call(warmup + i);
    latencies[i] = Number(process.hrtime.bigint() - start);
  }
  const elapsed = Number(process.hrtime.bigint() - started);
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort();
  const at = (q) => latencies[Math.min(calls - 1, Math.ceil(q * calls) - 1)];
  let sum = 0;
  for (const value of latencies) sum += value;
  return {
    p50: at(0.5),
    p99: at(0.99),
    mean: sum / calls,
    perSecond: calls / (elapsed / 1e9),
    cpuUs: (cpu.user + cpu.system) / calls,
  };
}

/** `warmup` untimed calls one at a time, then `calls` by `concurrency` callers at once: calls/s. */
async function timeConcurrent(call, warmup, calls, concurrency) {
  for (let i = 0; i < warmup; i += 1) await call(i);
  let next = 0;
  const caller = async () => {
    while (next < calls) await call(warmup + next++);
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, caller));
  return calls / (Number(process.hrtime.bigint() - started) / 1e9);
}

function verifyTable(rows, { calls, warmupCalls, concurrency, rounds, redis }) {
  const byKey = new Map(rows.map((row) => [`${row.scheme.name}/${row.mode.name}`, row]));
  const lines = [
    `Signature verification in process, \`POST /orders\` with a ${BODY_BYTES}-byte JSON body, ` +
      `${calls.toLocaleString('en-US')} timed calls per case after ${warmupCalls.toLocaleString('en-US')} untimed, ` +
      `median of ${rounds} rounds; ${machineSummary()}` +
      (redis ? `; Redis ${redis.version} at ${redact(args['redis-url'])}, one ioredis connection` : '') +
      `; load average ${loadAverage()} at the end`,
    '',
    `| scheme | mode | verifications/s, one at a time | p50 µs | p99 µs | mean µs | CPU µs per call | verifications/s, ${concurrency} in flight | p50 added to parse + verify, µs |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const base = byKey.get(`${row.scheme.name}/verify`);
    lines.push(
      `| ${row.scheme.label} | ${row.mode.label} | ${Math.round(row.perSecond).toLocaleString('en-US')} | ` +
        `${us(row.p50)} | ${us(row.p99)} | ${us(row.mean)} | ${row.cpuUs.toFixed(1)} | ` +
        `${Math.round(row.perSecondConcurrent).toLocaleString('en-US')} | ` +
        `${row === base ? '–' : `${row.p50 >= base.p50 ? '+' : '−'}${us(Math.abs(row.p50 - base.p50))}`} |`,
    );
  }
  const signing = SCHEMES.map((scheme) => {
    const all = rows.filter((row) => row.scheme === scheme).flatMap((row) => row.all.map((run) => run.signUs));
    return `${scheme.label} ${Math.min(...all).toFixed(0)}–${Math.max(...all).toFixed(0)} µs`;
  });
  lines.push(
    '',
    'verifications/s one at a time: timed calls ÷ the wall time of the sequential pass. CPU µs per call: ' +
      "`process.cpuUsage()` of that pass ÷ calls (all of this process's threads, GC included; not Redis's time).",
  );
  lines.push(
    '',
    `Client side, for scale (\`signRequest\` while pre-signing, per request, range over the rounds): ${signing.join('; ')}.`,
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Part 2: HTTP

async function httpPart(lib, autocannon, cases, { connections, duration, warmup, rounds }, cleanups) {
  const runs = new Map(cases.map((c) => [c.name, []]));
  // Per case: the rate the next run is sized for (the mean of its timed runs so far).
  const expectedRate = new Map();
  for (let round = 1; round <= rounds; round += 1) {
    const shift = (round - 1) % cases.length;
    for (const variant of [...cases.slice(shift), ...cases.slice(0, shift)]) {
      const result = await httpRun(lib, autocannon, variant, { connections, duration, warmup }, expectedRate, cleanups);
      const done = [...runs.get(variant.name), result];
      runs.set(variant.name, done);
      expectedRate.set(variant.name, done.reduce((sum, run) => sum + run.rate, 0) / done.length);
      progress(
        `round ${round}/${rounds} ${variant.name}: ${Math.round(result.rate).toLocaleString('en-US')} req/s, ` +
          `server CPU ${Math.round(result.cpuPerRequest)} µs/request, over ` +
          `${result.seconds.toFixed(1)} s (${result.amount.toLocaleString('en-US')} requests, ` +
          `${result.signedLate} signed during the run; load average ${loadAverage()})`,
      );
    }
  }
  return cases.map((c) => {
    const all = runs.get(c.name);
    const sorted = [...all].sort((a, b) => a.rate - b.rate);
    return { ...c, result: sorted[Math.floor((sorted.length - 1) / 2)], all };
  });
}

/**
 * One run of one case: start a server, check its answers, warm up, pre-sign, load, stop it. Runs are
 * sized in requests (autocannon's `amount`), so the pool holds exactly what a run sends: the mean rate of
 * the case's runs so far (before its first run: the rate of the second half of its warm-up) times
 * `duration`. The rate is the
 * answers divided by the time from the start to the last answer (autocannon's own per-second samples
 * would count the wait for its next one-second tick after the last answer).
 */
async function httpRun(lib, autocannon, variant, { connections, duration, warmup }, expectedRate, cleanups) {
  const server = await startServer({
    script: fileURLToPath(import.meta.url),
    args: ['--serve', '--adapter', args.adapter],
    label: variant.name,
  });
  const stopServer = () => server.stop();
  cleanups.push(stopServer);
  try {
    const origin = `http://127.0.0.1:${server.port}`;
    const url = `${origin}${variant.path}`;
    const keys = { hmac: server.message.hmac, ed25519: server.message.ed25519 };
    const headersFor =
      variant.name === 'api-key'
        ? () => ({ 'content-type': 'application/json', 'x-api-key': server.message.apiKey })
        : (body) => signOne(lib, variant, credentialsFor(variant, keys), url, body);
    await probe(url, variant, headersFor, server.message);

    // Each client builds its next request ahead, so a run may take up to one more per connection.
    const feed = (amount) => {
      const size = amount + 2 * connections;
      const bodies = makeBodies(size);
      return { size, bodies, headers: bodies.map(headersFor), next: 0, late: 0 };
    };
    // `amount` requests (the timed run), or `seconds` of load with a pool for `amount` and requests signed
    // on the spot once it is empty (the warm-up, not measured).
    const fire = async ({ amount, seconds }) => {
      const pool = feed(amount);
      const setupRequest = (request) => {
        const i = pool.next++;
        if (i < pool.size) return { ...request, headers: pool.headers[i], body: pool.bodies[i] };
        pool.late += 1;
        const [body] = makeBodies(1);
        return { ...request, headers: headersFor(body), body };
      };
      const started = performance.now();
      let last = started;
      let secondHalf = 0;
      const tracker = autocannon({
        url: origin,
        connections,
        ...(seconds ? { duration: seconds } : { amount }),
        timeout: 10,
        pipelining: 1,
        requests: [{ method: 'POST', path: variant.path, setupRequest }],
      });
      tracker.on('response', () => {
        last = performance.now();
        if (seconds && last - started >= (seconds * 1_000) / 2) secondHalf += 1;
      });
      const result = await tracker;
      const elapsed = (last - started) / 1_000;
      return Object.assign(result, {
        amount,
        seconds: elapsed,
        rate: (result['2xx'] + result.non2xx) / elapsed,
        // The warm-up's rate once the JIT has done most of its work: what sizes the first timed run.
        secondHalfRate: seconds ? secondHalf / (elapsed - seconds / 2) : undefined,
        signedLate: pool.late,
      });
    };
    const requestsFor = (seconds, rate) => Math.max(connections, Math.round(rate * seconds));
    if (warmup > 0) {
      const warm = await fire({
        seconds: warmup,
        amount: requestsFor(warmup, expectedRate.get(variant.name) ?? FIRST_RATE_GUESS),
      });
      check(variant, warm, 'warm-up');
      if (!expectedRate.has(variant.name)) expectedRate.set(variant.name, warm.secondHalfRate);
    }
    const cpuUsage = async () => {
      const usage = await (await fetch(`${origin}/cpu-usage`)).json();
      return usage.user + usage.system;
    };
    const cpuBefore = await cpuUsage();
    const result = await fire({ amount: requestsFor(duration, expectedRate.get(variant.name) ?? FIRST_RATE_GUESS) });
    // The server's CPU time (user + system) per answered request: less sensitive than req/s to a busy machine.
    result.cpuPerRequest = ((await cpuUsage()) - cpuBefore) / (result['2xx'] + result.non2xx);
    check(variant, result, 'run');
    if (result.signedLate > 0) {
      progress(`warning: ${variant.name}: the pool ran out, ${result.signedLate} requests were signed during the run`);
    }
    return result;
  } finally {
    cleanups.splice(cleanups.indexOf(stopServer), 1);
    await server.stop();
  }
}

function check(variant, result, what) {
  const answered = result['2xx'] + result.non2xx;
  if (result.errors > 0 || result.timeouts > 0 || result['2xx'] !== answered) {
    throw new Error(
      `${variant.name} ${what}: ${result.errors} errors, ${result.timeouts} timeouts, ` +
        `${result.non2xx} answers other than 2xx`,
    );
  }
}

/**
 * The route answers 200 for the principal with the expected auth method; on /signed, the same signed
 * request again answers 401 (replay), and an API key answers 401 (`@Signed()`).
 */
async function probe(url, variant, headersFor, message) {
  const send = async (headers, body) => {
    const { host: _host, ...rest } = headers;
    const response = await fetch(url, { method: 'POST', headers: rest, body });
    return { status: response.status, body: await response.json() };
  };
  const [body] = makeBodies(1);
  const headers = headersFor(body);
  const first = await send(headers, body);
  if (
    first.status !== 200 ||
    first.body.principalId !== message.principalId ||
    first.body.authMethod !== variant.authMethod ||
    first.body.items !== 10
  ) {
    throw new Error(`${variant.name}: POST ${variant.path} answered ${first.status} ${JSON.stringify(first.body)}`);
  }
  if (variant.authMethod === 'signature') {
    const replay = await send(headers, body);
    if (replay.status !== 401) throw new Error(`${variant.name}: a replayed request answered ${replay.status}`);
    const keyed = await send({ 'content-type': 'application/json', 'x-api-key': message.apiKey }, body);
    if (keyed.status !== 401) throw new Error(`${variant.name}: an API key on /signed answered ${keyed.status}`);
  }
}

function httpTable(results, { connections, duration, rounds }) {
  const base = results.find((r) => r.name === 'api-key');
  const lines = [
    `Nest ${args.adapter} (\`bodyParser: false\`), SecurityModule (production, in-memory stores and nonce store, ` +
      `\`rateLimit: false\`), \`POST\` with a ${BODY_BYTES}-byte JSON body, a fresh signature per request, ` +
      `${connections} connections, about ${duration} s per run (sized in requests), median of ${rounds}, loopback; ` +
      `${machineSummary()}; ` +
      `load average ${loadAverage()} at the end`,
    '',
    `| case | req/s | p50 latency | p99 latency | req/s vs API key | server CPU µs per request | CPU vs API key | req/s of the rounds | server CPU µs of the rounds |`,
    '|---|---:|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const { label, result, all } of results) {
    lines.push(
      `| ${label} | ${Math.round(result.rate).toLocaleString('en-US')} | ${ms(result.latency.p50)} | ` +
        `${ms(result.latency.p99)} | ${base ? `${((result.rate / base.result.rate) * 100).toFixed(0)} %` : '–'} | ` +
        `${Math.round(result.cpuPerRequest)} | ${base ? `${((result.cpuPerRequest / base.result.cpuPerRequest) * 100).toFixed(0)} %` : '–'} | ` +
        `${all.map((run) => Math.round(run.rate).toLocaleString('en-US')).join(', ')} | ` +
        `${all.map((run) => Math.round(run.cpuPerRequest)).join(', ')} |`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------

function us(ns) {
  const value = ns / 1_000;
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US');
}

function redact(url) {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

function progress(message) {
  process.stderr.write(`${message}\n`);
}
