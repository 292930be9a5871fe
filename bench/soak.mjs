// Soak: the built demo (dist/apps/demo/main.js) in production mode, as its own process, on a fresh PostgreSQL
// database and Redis, under a steady, capped rate of mixed traffic for `--duration` seconds (600 by default):
// valid API-key calls, invalid keys, calls over a rate limit, signed requests and replays. Every kind of request
// has the statuses it may answer; anything else (a 5xx, a 2xx where a refusal was due, a socket error, a
// timeout) is an error, and the first ones are kept as samples. The server's resident memory (VmRSS from
// /proc/<pid>/status) and V8 heap (through bench/lib/memory-probe.mjs, preloaded) are sampled every
// `--sample-every` seconds. Prints a summary (stdout; progress on stderr), optionally writes it as JSON, and
// exits with 1 on any unexpected answer.
//
//   npm run build && npm --prefix bench run soak               (at the root: 10 min + about 1 min of set-up)
//   node soak.mjs --duration 60                                  (a smoke run)
//   node soak.mjs [--duration 600] [--warmup 30] [--rate 400] [--concurrency 64] [--adapter fastify|express]
//     [--ip-limit 600/60s] [--principal-limit 1200/60s] [--key-limit 60/60s] [--sample-every 10]
//     [--database-url postgres://postgres@127.0.0.1:5432/test] [--redis-url redis://127.0.0.1:6379]
//     [--redis-db N] [--via-proxy] [--json soak.json] [--time-limit seconds]
//
// Clients connect directly, each from its own loopback address (127.x.y.z); `--via-proxy` sends the addresses in
// X-Forwarded-For through one trusted proxy instead (TRUST_PROXY=127.0.0.1): see bench/README.md for why that
// mode fails today (the anomaly detector's IP block counts the proxy, not the client).
//
// Redis: the demo has no key-prefix setting (it uses the library's `nas:`, like every demo the test suites
// start on this machine), so the run uses a Redis database of its own (`--redis-db`, default the highest-numbered
// empty one of 1–15) and deletes every `nas:*` key in it at the end. Only its pub/sub channel is shared.
//
// Clean-up on every path (the end, an error, Ctrl-C, SIGTERM, `--time-limit`): the load stops, the demo is
// stopped (SIGTERM, SIGKILL after 15 s), the database `nas_bench_<hex>` is dropped, the Redis keys are deleted and
// the demo's temporary data directory removed.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanupOnExit } from './lib/cleanup.mjs';
import {
  LIBRARY,
  fail,
  loadAverage,
  machineSummary,
  nonNegative,
  positive,
  redactUrl,
  requireLibrary,
} from './lib/cli.mjs';
import { DEFAULT_DATABASE_URL, createDatabase } from './lib/postgres.mjs';
import { processCpuMicros, processRssMb } from './lib/proc.mjs';
import { connectBenchRedis } from './lib/redis.mjs';

const DEMO_DIST = new URL('../dist/apps/demo/', import.meta.url);
const DEMO_MAIN = fileURLToPath(new URL('main.js', DEMO_DIST));
const MEMORY_PROBE = new URL('./lib/memory-probe.mjs', import.meta.url).href;
const REQUEST_TIMEOUT_MS = 10_000;
const START_WITHIN_MS = 60_000;
const STOP_WITHIN_MS = 15_000;
const SIGV4_SCOPE = { region: 'us-east-1', service: 'demo' };
const ACTOR = { label: 'bench:soak' };
/** Failed authentications per attacker address per minute, well under the anomaly detector's 20/60s. */
const FAILURES_PER_ADDRESS_PER_MINUTE = 6;
/** A valid client (address, principal) uses at most this share of its rate limit. */
const CLIENT_SHARE_OF_LIMIT = 0.4;
const ERROR_SAMPLES_PER_KIND = 5;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '600' },
    warmup: { type: 'string', default: '30' },
    rate: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '64' },
    adapter: { type: 'string', default: 'fastify' },
    'ip-limit': { type: 'string', default: '600/60s' },
    'principal-limit': { type: 'string', default: '1200/60s' },
    'key-limit': { type: 'string', default: '60/60s' },
    'sample-every': { type: 'string', default: '10' },
    'database-url': { type: 'string', default: DEFAULT_DATABASE_URL },
    'redis-url': {
      type: 'string',
      default: process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    },
    'redis-db': { type: 'string' },
    json: { type: 'string' },
    'via-proxy': { type: 'boolean', default: false },
    'time-limit': { type: 'string' },
  },
});

// The request kinds: class, share of the rate (weights add up to 100), the statuses each may answer.
// `ip`: whose address goes in X-Forwarded-For (the demo trusts 127.0.0.1 as a proxy).
const KINDS = [
  // Valid API-key calls, spread over enough principals and addresses to stay under every limit.
  { name: 'GET /me', cls: 'valid', weight: 12, expect: [200] },
  { name: 'GET /v2/items?limit=2', cls: 'valid', weight: 10, expect: [200] },
  { name: 'GET /documents?limit=5&sort=-createdAt', cls: 'valid', weight: 10, expect: [200] },
  { name: 'GET /documents/:id', cls: 'valid', weight: 8, expect: [200] },
  { name: 'POST /documents (JSON)', cls: 'valid', weight: 10, expect: [201] },
  // Invalid credentials, from a pool of attacker addresses (each under the failed-auth detector's threshold).
  { name: 'garbage key', cls: 'invalid', weight: 4, expect: [401] },
  { name: 'wrong checksum', cls: 'invalid', weight: 4, expect: [401] },
  { name: 'unknown key id', cls: 'invalid', weight: 4, expect: [401] },
  { name: 'wrong secret', cls: 'invalid', weight: 4, expect: [401] },
  { name: 'revoked key', cls: 'invalid', weight: 3, expect: [401] },
  { name: 'no key', cls: 'invalid', weight: 1, expect: [401] },
  // Deliberately over a limit: 429 expected (200 while budget is left).
  { name: 'key over its own limit', cls: 'limited', weight: 3, expect: [200, 429], mustSee: 429 },
  { name: 'route limit (GET /mfa, 10/300s)', cls: 'limited', weight: 1.5, expect: [200, 429], mustSee: 429 },
  { name: 'one address over the ip policy', cls: 'limited', weight: 5, expect: [200, 429], mustSee: 429 },
  { name: 'blocked address (failed auth)', cls: 'limited', weight: 0.5, expect: [401, 429], mustSee: 429 },
  // Signed requests (the library's client `signRequest`), and replays of answered ones from other addresses.
  { name: 'POST /payments, seed hmac-sha256', cls: 'signed', weight: 9, expect: [201] },
  { name: 'GET /signed/echo, SigV4', cls: 'signed', weight: 7, expect: [200] },
  { name: 'POST /signed/echo, seed hmac-sha256', cls: 'signed', weight: 2, expect: [200] },
  { name: 'replay of a signed request', cls: 'signed', weight: 2, expect: [401] },
];
const CLASSES = ['valid', 'invalid', 'limited', 'signed'];
const VIA_PROXY = args['via-proxy'];
/** Numbers request targets and bodies across the self-test and the run: a SigV4 signature has no nonce, so two
 * identical requests signed within the same second are one signature, and the second is (rightly) a replay. */
let counter = 0;

async function main() {
  requireLibrary();
  if (!existsSync(DEMO_MAIN))
    fail(`The built demo is missing (${DEMO_MAIN}): run \`npm run build\` at the root first.`);
  const settings = {
    duration: positive(args.duration, '--duration'),
    warmup: nonNegative(args.warmup, '--warmup'),
    rate: positive(args.rate, '--rate'),
    concurrency: positive(args.concurrency, '--concurrency'),
    sampleEvery: positive(args['sample-every'], '--sample-every'),
    adapter: ['fastify', 'express'].includes(args.adapter) ? args.adapter : fail('--adapter: fastify or express'),
    ipLimit: limitOf(args['ip-limit'], '--ip-limit'),
    principalLimit: limitOf(args['principal-limit'], '--principal-limit'),
    keyLimit: limitOf(args['key-limit'], '--key-limit'),
  };
  const timeLimit = args['time-limit']
    ? positive(args['time-limit'], '--time-limit')
    : settings.duration + settings.warmup + 300;
  const lib = await import(LIBRARY.href);
  const cleanups = cleanupOnExit({ timeLimit });
  let report;
  try {
    const world = await prepare(lib, settings, cleanups);
    const demo = await startDemo(world, settings, cleanups);
    await selfTest(lib, world, demo);
    report = await soak(lib, world, demo, settings, cleanups);
    report.serverStop = await demo.stop();
  } finally {
    await cleanups.run();
  }
  console.log(summary(report, settings));
  if (args.json) {
    await writeFile(args.json, `${JSON.stringify(report, null, 2)}\n`);
    progress(`wrote ${args.json}`);
  }
  if (report.problems.length > 0) {
    console.error(`soak failed: ${report.problems.join('; ')}`);
    process.exitCode = 1;
  }
}

/** `count/window` (e.g. `600/60s`) as `{ text, perMinute }`. */
function limitOf(text, option) {
  const match = /^(\d+)\/(\d+)(ms|s|m|h)$/.exec(text ?? '');
  if (!match) fail(`${option} must be count/window, e.g. 600/60s`);
  const windowMs = Number(match[2]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[3]];
  return { text, perMinute: (Number(match[1]) * 60_000) / windowMs };
}

/** Requests per second of a kind at `rate`. */
function rateOf(name, rate) {
  const total = KINDS.reduce((sum, kind) => sum + kind.weight, 0);
  return (KINDS.find((kind) => kind.name === name).weight / total) * rate;
}

function classRate(cls, rate, filter = () => true) {
  return KINDS.filter((kind) => kind.cls === cls && filter(kind)).reduce(
    (sum, kind) => sum + rateOf(kind.name, rate),
    0,
  );
}

/**
 * The database (created; migrated and seeded through the library's own services in a Nest application context of
 * this process, with the demo's entities, migrations and roles), the Redis database, the clients.
 */
async function prepare(lib, settings, cleanups) {
  const pepper = `v1:${randomBytes(32).toString('base64')}`;
  const masterKeys = `v1:${randomBytes(32).toString('base64')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'nas-bench-soak-'));
  cleanups.add(() => rm(dataDir, { recursive: true, force: true }));

  const redis = await chooseRedis(settings, cleanups);
  const database = await createDatabase(args['database-url']);
  cleanups.add(database.drop);
  progress(`database ${database.name} on ${redactUrl(args['database-url'])}; Redis ${redactUrl(redis.url)}`);

  // How many clients keep each one under CLIENT_SHARE_OF_LIMIT of the ip and principal policies.
  const perClientPerMinute =
    CLIENT_SHARE_OF_LIMIT * Math.min(settings.ipLimit.perMinute, settings.principalLimit.perMinute);
  const clientsFor = (perSecond) => Math.max(4, Math.ceil((perSecond * 60) / perClientPerMinute));
  const validCount = clientsFor(classRate('valid', settings.rate));
  const signerCount = clientsFor(classRate('signed', settings.rate, (kind) => !kind.name.startsWith('replay')));
  const failuresPerSecond = classRate('invalid', settings.rate) + rateOf('replay of a signed request', settings.rate);
  const attackerCount = Math.max(16, Math.ceil((failuresPerSecond * 60) / FAILURES_PER_ADDRESS_PER_MINUTE));

  const started = Date.now();
  const seeded = await seed(lib, database.url, {
    pepper,
    masterKeys,
    validCount,
    signerCount,
    keyLimit: settings.keyLimit,
  });
  progress(
    `seeded ${validCount} API-key clients, ${signerCount} signers, the limited and revoked keys in ` +
      `${((Date.now() - started) / 1_000).toFixed(1)} s; ${attackerCount} attacker addresses`,
  );
  return {
    ...seeded,
    pepper,
    masterKeys,
    dataDir,
    database,
    redis,
    attackers: Array.from({ length: attackerCount }, (_, index) => address(127, 18, index)),
  };
}

/** `first.second.x.y` for the index-th client (x.y from 0.1 on). */
function address(first, second, index) {
  const n = index + 1;
  return `${first}.${second + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

/**
 * The Redis URL the demo gets: `--redis-url` with a database of its own (`--redis-db`, else the highest-numbered
 * empty one of 1–15). Registers the deletion of every `nas:*` key there.
 */
async function chooseRedis(settings, cleanups) {
  const base = new URL(args['redis-url']);
  const { Redis } = await import('ioredis');
  let db;
  if (args['redis-db'] !== undefined) {
    db = nonNegative(args['redis-db'], '--redis-db');
  } else {
    const probe = new Redis(base.toString(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    probe.on('error', () => {});
    try {
      await probe.connect();
    } catch (error) {
      throw new Error(`cannot connect to Redis at ${redactUrl(base.toString())} (${error.message}); pass --redis-url`);
    }
    try {
      const keyspace = await probe.info('keyspace');
      const used = new Set(
        [...keyspace.matchAll(/^db(\d+):keys=(\d+)/gm)].filter((m) => Number(m[2]) > 0).map((m) => Number(m[1])),
      );
      const databases = Number((await probe.config('GET', 'databases'))[1] ?? 16);
      for (let candidate = Math.min(15, databases - 1); candidate >= 1; candidate -= 1) {
        if (!used.has(candidate)) {
          db = candidate;
          break;
        }
      }
    } finally {
      probe.disconnect();
    }
    if (db === undefined) throw new Error('no empty Redis database among 1–15: pass --redis-db');
  }
  const url = new URL(base);
  url.pathname = `/${db}`;
  await connectBenchRedis(url.toString(), {
    prefix: 'nas:',
    hint: 'pass --redis-url',
    onCleanup: (cleanup) => cleanups.add(cleanup),
    progress: (message) => progress(`${message} (Redis database ${db})`),
    redactUrl,
  });
  return { url: url.toString(), db };
}

/**
 * Migrates the database (the library's and the demo's migrations) and seeds it through the library's services
 * (`Principals`, `ApiKeys`, `SigningKeys`) in an application context of this process with the run's pepper and
 * master keys: the demo's roles; `validCount` editors with a key each; `signerCount` editors with an HMAC signing
 * key each; an editor whose key has its own limit; one for the MFA route; one for the ip flood; a revoked key.
 */
async function seed(lib, url, { pepper, masterKeys, validCount, signerCount, keyLimit }) {
  await import('reflect-metadata');
  const common = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { TypeOrmModule } = await import('@nestjs/typeorm');
  const { DEMO_ENTITIES, DEMO_MIGRATIONS } = await import(new URL('persistence.js', DEMO_DIST).href);
  const { DEMO_ROLES } = await import(new URL('seed.js', DEMO_DIST).href);
  class SeedModule {}
  common.Module({
    imports: [
      TypeOrmModule.forRoot({
        ...lib.securityDataSourceOptions({ url, poolSize: 4 }),
        entities: [...lib.SECURITY_ENTITIES, ...DEMO_ENTITIES],
        migrations: [...lib.SECURITY_MIGRATIONS, ...DEMO_MIGRATIONS],
        migrationsRun: true,
        retryAttempts: 1,
      }),
      lib.SecurityModule.forRoot({
        environment: 'development',
        redis: false,
        audit: { log: false },
        apiKeys: { pepper },
        changes: { transport: 'memory' },
        signing: { masterKeys, masterKeyFile: false },
        anomalies: false,
      }),
    ],
  })(SeedModule);
  const app = await NestFactory.createApplicationContext(SeedModule, { logger: ['error'] });
  try {
    const principals = app.get(lib.Principals);
    const apiKeys = app.get(lib.ApiKeys);
    const signingKeys = app.get(lib.SigningKeys);
    for (const [name, permissions] of Object.entries(DEMO_ROLES)) await principals.defineRole(name, permissions, ACTOR);
    const editor = async (username, keyOptions = {}) => {
      const owner = await principals.create({ username, kind: 'service', roles: ['editor'] }, ACTOR);
      const issued = await apiKeys.create({ ownerId: owner.id, name: 'soak', ...keyOptions }, ACTOR);
      return { principalId: owner.id, keyId: issued.id, key: issued.key };
    };
    const valid = [];
    for (let i = 0; i < validCount; i += 1)
      valid.push({ ...(await editor(`soak-client-${i}`)), ip: address(127, 1, i) });
    const signers = [];
    for (let i = 0; i < signerCount; i += 1) {
      const owner = await principals.create(
        { username: `soak-signer-${i}`, kind: 'service', roles: ['editor'] },
        ACTOR,
      );
      const key = await signingKeys.create({ ownerId: owner.id, name: 'soak', algorithm: 'hmac-sha256' }, ACTOR);
      signers.push({
        principalId: owner.id,
        credentials: { accessKeyId: key.accessKeyId, secret: key.secret },
        ip: address(127, 2, i),
      });
    }
    const keyLimited = {
      ...(await editor('soak-key-limited', { rateLimit: keyLimit.text })),
      ips: [0, 1, 2, 3].map((i) => address(127, 3, i)),
    };
    const routeLimited = { ...(await editor('soak-mfa')), ip: address(127, 4, 0) };
    const flooder = { ...(await editor('soak-flooder')), ip: address(127, 5, 0) };
    const revoked = await editor('soak-revoked');
    await apiKeys.revoke(revoked.keyId, ACTOR);
    return { valid, signers, keyLimited, routeLimited, flooder, revoked, blockedIp: address(127, 6, 0) };
  } finally {
    await app.close();
  }
}

/** A free loopback port (the demo binds it a moment later). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `node --expose-gc --import memory-probe dist/apps/demo/main.js` in production mode with real limits and
 * waits until `GET /health/ready` answers 200. Its stdout (log lines, the security event log) is discarded; the
 * last 64 kB of stderr are kept for errors.
 */
async function startDemo(world, settings, cleanups) {
  const port = await freePort();
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    HTTP_ADAPTER: settings.adapter,
    DATABASE_URL: world.database.url,
    REDIS_URL: world.redis.url,
    DATA_DIR: world.dataDir,
    API_KEY_PEPPER: world.pepper,
    SIGNING_MASTER_KEYS: world.masterKeys,
    // Direct clients by default (each from its own loopback address); with --via-proxy, one proxy at 127.0.0.1.
    TRUST_PROXY: VIA_PROXY ? '127.0.0.1' : 'false',
    RATE_LIMIT_IP: settings.ipLimit.text,
    RATE_LIMIT_PRINCIPAL: settings.principalLimit.text,
  };
  for (const name of ['SECURITY_LINT_ALLOW', 'ANOMALY_FAILED_AUTH_PER_IP', 'ANOMALY_BLOCK_FOR', 'CHANGES_TRANSPORT'])
    delete env[name];
  const child = spawn(process.execPath, ['--expose-gc', '--import', MEMORY_PROBE, DEMO_MAIN], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env,
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-65_536);
  });
  let exitCode;
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exitCode = code ?? signal;
      resolve(exitCode);
    }),
  );
  const pending = new Map();
  child.on('message', (message) => {
    if (message?.type !== 'nas-bench-memory') return;
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  });
  let stopped;
  const stop = () =>
    (stopped ??= (async () => {
      if (exitCode !== undefined) return { exitCode, stderrTail: stderr.slice(-2_000) };
      const began = Date.now();
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), STOP_WITHIN_MS);
      await exited;
      clearTimeout(force);
      return { exitCode, stopMs: Date.now() - began, stderrTail: stderr.slice(-2_000) };
    })());
  cleanups.add(stop);
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_WITHIN_MS;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`the demo exited with ${exitCode} before it was ready:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`the demo was not ready within ${START_WITHIN_MS} ms:\n${stderr}`);
    const status = await fetch(`${origin}/health/ready`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) break;
    await sleep(250);
  }
  progress(`demo pid ${child.pid} ready on ${origin} (${settings.adapter}, NODE_ENV=production)`);
  let nextId = 0;
  return {
    origin,
    port,
    pid: child.pid,
    stop,
    get exitCode() {
      return exitCode;
    },
    get stderr() {
      return stderr;
    },
    /** `process.memoryUsage()` of the demo (after a full GC with `gc`), or undefined within 5 s. */
    memory(gc = false) {
      if (exitCode !== undefined || !child.connected) return Promise.resolve(undefined);
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve(undefined);
        }, 5_000);
        pending.set(id, (message) => {
          clearTimeout(timer);
          resolve(message);
        });
        child.send({ type: 'nas-bench-memory', id, gc });
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

const agentOf = (concurrency) => new Agent({ keepAlive: true, maxSockets: concurrency, keepAliveMsecs: 1_000 });

/** Sends one request; resolves `{ status, body, ms }` or `{ error, ms }` (never rejects). */
function send(agent, origin, { method, target, headers, body }) {
  const url = new URL(origin);
  const began = performance.now();
  return new Promise((resolve) => {
    // The client's address: the socket's own (bound to a loopback address) or, through the proxy, X-Forwarded-For.
    const { 'x-soak-client': client, ...allHeaders } = headers;
    if (client && VIA_PROXY) allHeaders['x-forwarded-for'] = client;
    if (body !== undefined) allHeaders['content-length'] = String(body.length);
    const outgoing = httpRequest(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method,
        path: target,
        headers: allHeaders,
        timeout: REQUEST_TIMEOUT_MS,
        ...(client && !VIA_PROXY ? { localAddress: client } : {}),
      },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.once('error', (error) =>
          resolve({ error: error.code ?? error.message, ms: performance.now() - began }),
        );
        response.once('end', () =>
          resolve({ status: response.statusCode, body: Buffer.concat(chunks), ms: performance.now() - began }),
        );
      },
    );
    outgoing.once('timeout', () => outgoing.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    outgoing.once('error', (error) => resolve({ error: error.code ?? error.message, ms: performance.now() - began }));
    outgoing.end(body);
  });
}

/**
 * The request builders, one per kind: each returns `{ method, target, headers, body? }`, and `onAnswer` (called
 * with the result) where a kind keeps state (replays take only signed requests that were answered 2xx).
 */
function builders(lib, world, demo) {
  const origin = demo.origin;
  const rr = (list) => {
    let next = 0;
    return () => list[next++ % list.length];
  };
  const validClient = rr(world.valid);
  const signer = rr(world.signers);
  const attacker = rr(world.attackers);
  const keyLimitedIp = rr(world.keyLimited.ips);
  const documentOf = new Map();
  const json = (value) => Buffer.from(JSON.stringify(value));
  const keyed = (client, ip = client.ip) => ({ 'x-api-key': client.key, 'x-soak-client': ip });
  const withChecksum = (body) => body + lib.apiKeyChecksum(body);
  const [validKeyId] = [world.valid[0].keyId];
  // Signed requests answered 2xx, to replay (from an attacker's address) while still within the clock window.
  const answeredSigned = [];
  const sign = (client, scheme, { method, target, headers = {}, body, sign: signHeaders }) => {
    const added = lib.signRequest(
      { method, url: `${origin}${target}`, headers, ...(body ? { body } : {}) },
      client.credentials,
      { scheme, ...SIGV4_SCOPE, ...(signHeaders ? { headers: signHeaders } : {}) },
    );
    return { method, target, headers: { ...headers, ...added, 'x-soak-client': client.ip }, ...(body ? { body } : {}) };
  };
  const keepForReplay = (request) => (result) => {
    if (result.status >= 200 && result.status < 300) {
      answeredSigned.push(request);
      if (answeredSigned.length > 200) answeredSigned.shift();
    }
  };

  return {
    'GET /me': () => ({ request: { method: 'GET', target: '/me', headers: keyed(validClient()) } }),
    'GET /v2/items?limit=2': () => ({
      request: { method: 'GET', target: '/v2/items?limit=2', headers: keyed(validClient()) },
    }),
    'GET /documents?limit=5&sort=-createdAt': () => ({
      request: { method: 'GET', target: '/documents?limit=5&sort=-createdAt', headers: keyed(validClient()) },
    }),
    'GET /documents/:id': () => {
      const client = validClient();
      const id = documentOf.get(client.principalId);
      // Until the client has created a document, read a list instead (same class, same expectations).
      return {
        request: { method: 'GET', target: id ? `/documents/${id}` : '/documents?limit=1', headers: keyed(client) },
      };
    },
    'POST /documents (JSON)': () => {
      const client = validClient();
      const n = ++counter;
      return {
        request: {
          method: 'POST',
          target: '/documents',
          headers: { ...keyed(client), 'content-type': 'application/json' },
          body: json({ title: `soak ${n}`, body: `<p>Soak document <b>${n}</b></p>`, confidential: false }),
        },
        onAnswer: (result) => {
          if (result.status === 201 && !documentOf.has(client.principalId)) {
            try {
              documentOf.set(client.principalId, JSON.parse(result.body.toString('utf8')).id);
            } catch {
              // counted by its status; the id is only a convenience
            }
          }
        },
      };
    },
    'garbage key': () => ({
      request: {
        method: 'GET',
        target: '/me',
        headers: { 'x-api-key': `not-a-key-${randomBytes(6).toString('hex')}`, 'x-soak-client': attacker() },
      },
    }),
    'wrong checksum': () => {
      const key = validClient().key;
      const last = key.at(-1) === 'A' ? 'B' : 'A';
      return {
        request: {
          method: 'GET',
          target: '/me',
          headers: { 'x-api-key': key.slice(0, -1) + last, 'x-soak-client': attacker() },
        },
      };
    },
    'unknown key id': () => ({
      request: {
        method: 'GET',
        target: '/me',
        headers: { 'x-api-key': lib.generateApiKey().key, 'x-soak-client': attacker() },
      },
    }),
    'wrong secret': () => {
      const other = lib.generateApiKey();
      return {
        request: {
          method: 'GET',
          target: '/v2/items?limit=1',
          headers: { 'x-api-key': withChecksum(`sk_live_${validKeyId}${other.secret}`), 'x-soak-client': attacker() },
        },
      };
    },
    'revoked key': () => ({ request: { method: 'GET', target: '/me', headers: keyed(world.revoked, attacker()) } }),
    'no key': () => ({ request: { method: 'GET', target: '/me', headers: { 'x-soak-client': attacker() } } }),
    'key over its own limit': () => ({
      request: { method: 'GET', target: '/v2/items?limit=1', headers: keyed(world.keyLimited, keyLimitedIp()) },
    }),
    'route limit (GET /mfa, 10/300s)': () => ({
      request: { method: 'GET', target: '/mfa', headers: keyed(world.routeLimited) },
    }),
    'one address over the ip policy': () => ({
      request: { method: 'GET', target: '/me', headers: keyed(world.flooder) },
    }),
    'blocked address (failed auth)': () => ({
      request: {
        method: 'GET',
        target: '/me',
        headers: { 'x-api-key': lib.generateApiKey().key, 'x-soak-client': world.blockedIp },
      },
    }),
    'POST /payments, seed hmac-sha256': () => {
      const client = signer();
      const n = ++counter;
      const request = sign(client, 'hmac-sha256', {
        method: 'POST',
        target: '/payments',
        headers: { 'content-type': 'application/json', 'idempotency-key': `soak-${randomUUID()}` },
        body: json({ amount: 12.5, currency: 'EUR', reference: `soak ${n}` }),
        sign: ['idempotency-key'],
      });
      return { request, onAnswer: keepForReplay(request) };
    },
    'GET /signed/echo, SigV4': () => {
      const n = ++counter;
      const request = sign(signer(), 'aws4-hmac-sha256', { method: 'GET', target: `/signed/echo/soak/${n}?n=${n}` });
      return { request, onAnswer: keepForReplay(request) };
    },
    'POST /signed/echo, seed hmac-sha256': () => {
      const n = ++counter;
      const request = sign(signer(), 'hmac-sha256', {
        method: 'POST',
        target: '/signed/echo/orders',
        headers: { 'content-type': 'application/json' },
        body: json({
          order: n,
          items: [
            { sku: 'a', qty: 1 },
            { sku: 'b', qty: 2 },
          ],
        }),
      });
      return { request, onAnswer: keepForReplay(request) };
    },
    'replay of a signed request': () => {
      // Before any signed request was answered: a replay of nothing is skipped (counted as skipped).
      if (answeredSigned.length === 0) return undefined;
      const original = answeredSigned[Math.floor(Math.random() * answeredSigned.length)];
      return { request: { ...original, headers: { ...original.headers, 'x-soak-client': attacker() } } };
    },
  };
}

/** Checks each kind once (in an order that respects their state) before the load; throws on a wrong answer. */
async function selfTest(lib, world, demo) {
  const agent = agentOf(4);
  const build = builders(lib, world, demo);
  const expectOnce = async (name, allowed) => {
    const built = build[name]();
    const result = await send(agent, demo.origin, built.request);
    built.onAnswer?.(result);
    if (!allowed.includes(result.status)) {
      throw new Error(
        `self-test: ${name} answered ${result.status ?? result.error}, expected ${allowed.join(' or ')}: ` +
          `${result.body?.toString('utf8').slice(0, 400) ?? ''}`,
      );
    }
  };
  for (const kind of KINDS) {
    if (kind.cls === 'limited') continue;
    // The first call of these answers what the class answers once warm.
    await expectOnce(kind.name, kind.expect);
  }
  for (const name of ['key over its own limit', 'route limit (GET /mfa, 10/300s)', 'one address over the ip policy']) {
    await expectOnce(name, [200]);
  }
  await expectOnce('blocked address (failed auth)', [401]);
  agent.destroy();
  progress('self-test passed: every kind answered as expected');
}

// ---------------------------------------------------------------------------------------------------------------
// The run

/**
 * `--warmup` seconds, then `--duration` seconds of mixed traffic at `--rate` requests per second (a request is
 * started every tick of 10 ms as the schedule falls due; when `--concurrency` requests are in flight, a due one
 * is skipped and counted, so the rate stays capped and nothing queues up). Memory is sampled every
 * `--sample-every` seconds, and after a full GC at the start (after the warm-up) and at the end (after the load).
 */
async function soak(lib, world, demo, settings, cleanups) {
  const agent = agentOf(settings.concurrency);
  const build = builders(lib, world, demo);
  const totalWeight = KINDS.reduce((sum, kind) => sum + kind.weight, 0);
  // A smooth weighted round-robin: every kind gets its share in every window of about 100 requests.
  const credit = KINDS.map(() => 0);
  const nextKind = () => {
    let best = 0;
    for (let i = 0; i < KINDS.length; i += 1) {
      credit[i] += KINDS[i].weight;
      if (credit[i] > credit[best]) best = i;
    }
    credit[best] -= totalWeight;
    return KINDS[best];
  };
  const newStats = () =>
    new Map(KINDS.map((kind) => [kind.name, { statuses: {}, errors: 0, latencies: [], skipped: 0, samples: [] }]));
  const phases = { warmup: newStats(), measured: newStats() };
  let phase = settings.warmup > 0 ? 'warmup' : 'measured';
  let inFlight = 0;
  let maxInFlight = 0;
  let stopped = false;
  const inFlightDone = [];

  const fire = (kind) => {
    const stats = phases[phase].get(kind.name);
    const built = build[kind.name]();
    if (!built) {
      stats.skipped += 1;
      return;
    }
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const promise = send(agent, demo.origin, built.request).then((result) => {
      inFlight -= 1;
      built.onAnswer?.(result);
      stats.latencies.push(result.ms);
      if (result.error) {
        stats.errors += 1;
        if (stats.samples.length < ERROR_SAMPLES_PER_KIND)
          stats.samples.push({ at: new Date().toISOString(), error: result.error });
        return;
      }
      stats.statuses[result.status] = (stats.statuses[result.status] ?? 0) + 1;
      if (!kind.expect.includes(result.status)) {
        stats.errors += 1;
        if (stats.samples.length < ERROR_SAMPLES_PER_KIND) {
          stats.samples.push({
            at: new Date().toISOString(),
            status: result.status,
            request: `${built.request.method} ${built.request.target}`,
            body: result.body.toString('utf8').slice(0, 300),
          });
        }
      }
    });
    inFlightDone.push(promise);
    if (inFlightDone.length > 4 * settings.concurrency)
      inFlightDone.splice(0, inFlightDone.length - 2 * settings.concurrency);
  };

  let backpressure = 0;
  const runFor = async (seconds) => {
    const began = performance.now();
    let issued = 0;
    while (!stopped) {
      const elapsed = (performance.now() - began) / 1_000;
      if (elapsed >= seconds) break;
      if (demo.exitCode !== undefined)
        throw new Error(`the demo exited with ${demo.exitCode} during the run:\n${demo.stderr}`);
      const due = Math.floor(elapsed * settings.rate) - issued;
      for (let i = 0; i < due; i += 1) {
        issued += 1;
        const kind = nextKind();
        if (inFlight >= settings.concurrency) {
          phases[phase].get(kind.name).skipped += 1;
          backpressure += 1;
          continue;
        }
        fire(kind);
      }
      await sleep(10);
    }
    return { seconds: (performance.now() - began) / 1_000, issued };
  };

  const removeStop = cleanups.add(() => {
    stopped = true;
  });
  const samples = [];
  const sample = async (label, gc = false) => {
    // RSS before the collection: a forced full GC briefly raises it (V8 copies live objects) before it falls.
    const rssMb = round(processRssMb(demo.pid), 1);
    const memory = await demo.memory(gc);
    const entry = {
      t: Math.round((Date.now() - startedAt) / 1_000),
      label,
      rssMb,
      heapUsedMb: memory ? round(memory.heapUsed / 1e6, 1) : undefined,
      heapTotalMb: memory ? round(memory.heapTotal / 1e6, 1) : undefined,
      externalMb: memory ? round(memory.external / 1e6, 1) : undefined,
      cpuSeconds: round((processCpuMicros(demo.pid) ?? NaN) / 1e6, 1),
      afterGc: gc && memory?.collected === true,
      load: loadAverage(),
    };
    samples.push(entry);
    return entry;
  };

  let startedAt = Date.now();
  let warm;
  if (settings.warmup > 0) {
    progress(`warm-up: ${settings.warmup} s at ${settings.rate} req/s`);
    warm = await runFor(settings.warmup);
  }
  phase = 'measured';
  startedAt = Date.now();
  const start = await sample('start (after warm-up; heap after GC)', true);
  const generatorCpu = process.cpuUsage();
  progress(
    `start: RSS ${start.rssMb} MB, heap used ${start.heapUsedMb} MB after GC; ${settings.duration} s at ${settings.rate} req/s`,
  );
  const ticker = setInterval(() => {
    void sample('sample').then((entry) => {
      const totals = totalsOf(phases.measured);
      progress(
        `t=${entry.t}s RSS ${entry.rssMb} MB, heap ${entry.heapUsedMb}/${entry.heapTotalMb} MB, ` +
          `${totals.answered.toLocaleString('en-US')} answered, ${totals.errors} unexpected, in flight ${inFlight}, load ${entry.load}`,
      );
    });
  }, settings.sampleEvery * 1_000);
  let measured;
  try {
    measured = await runFor(settings.duration);
  } finally {
    clearInterval(ticker);
  }
  await Promise.all(inFlightDone);
  while (inFlight > 0) await sleep(50);
  const generatorCpuUsed = process.cpuUsage(generatorCpu);
  removeStop();
  const endLoaded = await sample('end (load stopped)');
  await sleep(2_000);
  const end = await sample('end (2 s after the load; heap after GC)', true);
  agent.destroy();
  progress(`end: RSS ${end.rssMb} MB, heap used ${end.heapUsedMb} MB after GC`);

  const counts = await tableCounts(world.database.url);
  const redisKeys = await countRedisKeys(world.redis.url);
  return analyse({
    phases,
    samples,
    start,
    endLoaded,
    end,
    measured,
    warm,
    backpressure,
    maxInFlight,
    counts,
    redisKeys,
    settings,
    world,
    generatorCpuUsed,
  });
}

/** Rows in the tables that grow during the run (a leak could hide in them too). */
async function tableCounts(url) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  try {
    await client.connect();
    const count = async (table) => Number((await client.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);
    return {
      audit_events: await count('audit_events'),
      documents: await count('documents').catch(() => undefined),
      payments: await count('payments').catch(() => undefined),
    };
  } catch (error) {
    return { error: error.message };
  } finally {
    await client.end().catch(() => {});
  }
}

async function countRedisKeys(url) {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await redis.dbsize();
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

function totalsOf(stats) {
  let answered = 0;
  let errors = 0;
  for (const entry of stats.values()) {
    answered += entry.latencies.length;
    errors += entry.errors;
  }
  return { answered, errors };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Least-squares slope of `y` over `t` (seconds), in units per minute. */
function slopePerMinute(points) {
  if (points.length < 2) return undefined;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.t - mt) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.t - mt) ** 2, 0);
  return den === 0 ? undefined : (num / den) * 60;
}

function analyse({
  phases,
  samples,
  start,
  endLoaded,
  end,
  measured,
  warm,
  backpressure,
  maxInFlight,
  counts,
  redisKeys,
  settings,
  world,
  generatorCpuUsed,
}) {
  const problems = [];
  const kinds = KINDS.map((kind) => {
    const m = phases.measured.get(kind.name);
    const w = phases.warmup.get(kind.name);
    const sorted = Float64Array.from(m.latencies).sort();
    if (m.errors > 0) problems.push(`${kind.name}: ${m.errors} unexpected answers`);
    if (w.errors > 0) problems.push(`${kind.name}: ${w.errors} unexpected answers during the warm-up`);
    // A limit of a minute's window needs a minute of traffic to be reached.
    if (kind.mustSee !== undefined && !m.statuses[kind.mustSee] && settings.warmup + settings.duration >= 60) {
      problems.push(`${kind.name}: never answered ${kind.mustSee}`);
    }
    return {
      name: kind.name,
      cls: kind.cls,
      expected: kind.expect,
      requests: m.latencies.length,
      statuses: m.statuses,
      errors: m.errors,
      skipped: m.skipped,
      p50Ms: round(percentile(sorted, 50), 2),
      p99Ms: round(percentile(sorted, 99), 2),
      maxMs: round(sorted.at(-1), 1),
      errorSamples: [...w.samples.map((s) => ({ ...s, phase: 'warmup' })), ...m.samples],
      warmup: { requests: w.latencies.length, statuses: w.statuses, errors: w.errors },
    };
  });
  const classes = CLASSES.map((cls) => {
    const list = kinds.filter((kind) => kind.cls === cls);
    const latencies = Float64Array.from(
      KINDS.filter((kind) => kind.cls === cls).flatMap((kind) => phases.measured.get(kind.name).latencies),
    ).sort();
    const statuses = {};
    for (const kind of list)
      for (const [status, n] of Object.entries(kind.statuses)) statuses[status] = (statuses[status] ?? 0) + n;
    return {
      cls,
      requests: list.reduce((s, k) => s + k.requests, 0),
      statuses,
      errors: list.reduce((s, k) => s + k.errors, 0),
      p50Ms: round(percentile(latencies, 50), 2),
      p99Ms: round(percentile(latencies, 99), 2),
    };
  });
  const periodic = samples.filter((s) => s.label === 'sample' || s.label.startsWith('start'));
  const lastHalf = periodic.filter((s) => s.t >= settings.duration / 2);
  const peak = samples.reduce((best, s) => (s.rssMb > (best?.rssMb ?? -1) ? s : best), undefined);
  const heapPeak = samples.reduce((best, s) => ((s.heapUsedMb ?? -1) > (best?.heapUsedMb ?? -1) ? s : best), undefined);
  const answered = kinds.reduce((s, k) => s + k.requests, 0);
  return {
    when: new Date().toISOString(),
    machine: machineSummary(),
    settings: {
      ...settings,
      ipLimit: settings.ipLimit.text,
      principalLimit: settings.principalLimit.text,
      keyLimit: settings.keyLimit.text,
      clients: { valid: world.valid.length, signers: world.signers.length, attackers: world.attackers.length },
      redisDb: world.redis.db,
      viaProxy: VIA_PROXY,
    },
    measured: {
      seconds: round(measured.seconds, 1),
      scheduled: measured.issued,
      answered,
      ratePerSecond: round(answered / measured.seconds, 1),
      skippedForBackpressure: backpressure,
      maxInFlight,
      serverCpuSeconds: round((samples.at(-1)?.cpuSeconds ?? NaN) - (start.cpuSeconds ?? NaN), 1),
      loadGeneratorCpuSeconds: round((generatorCpuUsed.user + generatorCpuUsed.system) / 1e6, 1),
    },
    warmup: warm ? { seconds: round(warm.seconds, 1), scheduled: warm.issued } : undefined,
    memory: {
      start,
      peak,
      heapPeak,
      endLoaded,
      end,
      rssSlopeLastHalfMbPerMin: round(slopePerMinute(lastHalf.map((s) => ({ t: s.t, y: s.rssMb }))), 2),
      heapSlopeLastHalfMbPerMin: round(
        slopePerMinute(lastHalf.filter((s) => s.heapUsedMb !== undefined).map((s) => ({ t: s.t, y: s.heapUsedMb }))),
        2,
      ),
      samples,
    },
    rows: counts,
    redisKeysAtEnd: redisKeys,
    classes,
    kinds,
    problems,
  };
}

function summary(report, settings) {
  const fmt = (n) => (n === undefined ? '–' : n.toLocaleString('en-US'));
  const statuses = (s) =>
    Object.entries(s)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([status, n]) => `${status}: ${fmt(n)}`)
      .join(', ') || '–';
  const { memory: mem, measured } = report;
  const lines = [
    `Soak: the built demo (${settings.adapter}, NODE_ENV=production, PostgreSQL + Redis), ${settings.duration} s of mixed traffic ` +
      `after ${settings.warmup} s of warm-up, ${settings.rate} req/s scheduled, at most ${settings.concurrency} in flight; ` +
      `${VIA_PROXY ? 'clients behind one trusted proxy (X-Forwarded-For, TRUST_PROXY=127.0.0.1)' : 'clients connecting directly, each from its own loopback address'}; ` +
      `limits ip ${settings.ipLimit.text}, principal ${settings.principalLimit.text}, the limited key ${settings.keyLimit.text}; ` +
      `${report.machine}; load average ${loadAverage()} at the end`,
    '',
    `Requests: ${fmt(measured.answered)} answered in ${measured.seconds} s (${measured.ratePerSecond} req/s), ` +
      `${fmt(measured.skippedForBackpressure)} skipped for backpressure, at most ${measured.maxInFlight} in flight; ` +
      `CPU: demo ${measured.serverCpuSeconds} s, this load generator ${measured.loadGeneratorCpuSeconds} s; ` +
      `clients: ${report.settings.clients.valid} API-key, ${report.settings.clients.signers} signers, ${report.settings.clients.attackers} attacker addresses`,
    '',
    `Memory of the demo process: RSS ${mem.start.rssMb} MB at the start (after the warm-up; heap used after a full GC ` +
      `${mem.start.heapUsedMb} MB), peak ${mem.peak.rssMb} MB (t=${mem.peak.t}s), ${mem.endLoaded.rssMb} MB at the end of the load, ` +
      `${mem.end.rssMb} MB 2 s later (heap used after a full GC ${mem.end.heapUsedMb} MB; highest heap used sampled ` +
      `${mem.heapPeak?.heapUsedMb} MB). ` +
      `Trend over the second half: RSS ${mem.rssSlopeLastHalfMbPerMin} MB/min, heap used ${mem.heapSlopeLastHalfMbPerMin} MB/min.`,
    '',
    '| class | requests | statuses | unexpected | p50 | p99 |',
    '|---|---:|---|---:|---:|---:|',
    ...report.classes.map(
      (c) =>
        `| ${c.cls} | ${fmt(c.requests)} | ${statuses(c.statuses)} | ${fmt(c.errors)} | ${c.p50Ms} ms | ${c.p99Ms} ms |`,
    ),
    '',
    '| kind | class | expected | requests | statuses | unexpected | p50 | p99 | max |',
    '|---|---|---|---:|---|---:|---:|---:|---:|',
    ...report.kinds.map(
      (k) =>
        `| ${k.name} | ${k.cls} | ${k.expected.join('/')} | ${fmt(k.requests)} | ${statuses(k.statuses)} | ${fmt(k.errors)}` +
        `${k.skipped ? ` (${fmt(k.skipped)} skipped)` : ''} | ${k.p50Ms} ms | ${k.p99Ms} ms | ${k.maxMs} ms |`,
    ),
    '',
    'Memory samples (t s: RSS MB / heap used MB / CPU s):',
    mem.samples.map((s) => `${s.t}: ${s.rssMb}/${s.heapUsedMb}/${s.cpuSeconds}${s.afterGc ? ' (GC)' : ''}`).join(', '),
    '',
    `Rows at the end: ${Object.entries(report.rows)
      .map(([table, n]) => `${table} ${fmt(n)}`)
      .join(', ')}; ` +
      `Redis keys in the run's database: ${fmt(report.redisKeysAtEnd)}; demo stop: exit ${report.serverStop?.exitCode}` +
      `${report.serverStop?.stopMs !== undefined ? ` after ${report.serverStop.stopMs} ms` : ''}`,
  ];
  const samples = report.kinds.flatMap((k) => k.errorSamples.map((s) => ({ kind: k.name, ...s })));
  if (samples.length > 0) {
    lines.push('', 'Unexpected answers (first ones per kind):');
    for (const s of samples.slice(0, 40)) lines.push(`- ${JSON.stringify(s)}`);
  }
  lines.push('', report.problems.length === 0 ? 'No unexpected answers.' : `PROBLEMS: ${report.problems.join('; ')}`);
  return lines.join('\n');
}

function round(value, digits) {
  if (value === undefined || Number.isNaN(value)) return undefined;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function progress(message) {
  process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

await main();
