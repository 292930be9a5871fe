// What SecurityModule costs per request: the same one-route Nest app, bare, with the module and a
// `@Public()` route, and with the module and a protected route (every request answers 401), each
// started in its own process and loaded with autocannon over loopback. Prints a markdown table.
//
//   npm run build && cd bench && npm ci && node request-overhead.mjs [--adapter fastify|express]
//     [--connections 50] [--duration 10] [--warmup 2] [--rounds 3]
//
// The variants run interleaved, `--rounds` times each, and the table shows each variant's median
// round (by req/s), so a burst of load from something else on the machine skews one round, not all.
//
// Nest and the library resolve from the root node_modules (one copy of @nestjs/*, shared with the
// compiled library in libs/security/dist); bench/node_modules only holds autocannon.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const LIBRARY = new URL('../node_modules/@app/security/dist/index.js', import.meta.url);
const VARIANTS = [
  { name: 'bare', label: 'bare Nest', expectedStatus: 200 },
  { name: 'public', label: 'SecurityModule, `@Public()` route', expectedStatus: 200 },
  { name: 'protected', label: 'SecurityModule, protected route (401)', expectedStatus: 401 },
];
const START_WITHIN_MS = 30_000;
const STOP_WITHIN_MS = 10_000;

const { values: args } = parseArgs({
  options: {
    serve: { type: 'string' },
    adapter: { type: 'string', default: 'fastify' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
  },
});

if (!['fastify', 'express'].includes(args.adapter)) fail(`--adapter must be fastify or express, not ${args.adapter}`);
if (args.serve) await serve(args.serve, args.adapter);
else await main();

function fail(message) {
  console.error(message);
  process.exit(2);
}

/** Child process: one variant of the app on 127.0.0.1, a free port reported to the parent. */
async function serve(variant, adapterName) {
  await import('reflect-metadata');
  const { Controller, Get, Module } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { SecurityModule, Public } = await import(LIBRARY.href);

  // Plain JavaScript: decorators are applied by hand, as TypeScript would emit them.
  class PingController {
    ping() {
      return { pong: true };
    }
  }
  const decorators = [Get('ping')];
  if (variant === 'public') decorators.push(Public());
  const proto = PingController.prototype;
  Object.defineProperty(
    proto,
    'ping',
    Reflect.decorate(decorators, proto, 'ping', Object.getOwnPropertyDescriptor(proto, 'ping')),
  );
  Controller()(PingController);

  class BenchModule {}
  Module({
    imports: variant === 'bare' ? [] : [SecurityModule.forRoot({ environment: 'production' })],
    controllers: [PingController],
  })(BenchModule);

  let adapter;
  if (adapterName === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    adapter = new FastifyAdapter();
  } else {
    const { ExpressAdapter } = await import('@nestjs/platform-express');
    adapter = new ExpressAdapter();
  }
  const app = await NestFactory.create(BenchModule, adapter, { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  process.send({ port: app.getHttpServer().address().port });
  process.on('SIGTERM', () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

/** Parent: starts each variant in turn, loads it, stops it, prints the table. */
async function main() {
  if (!existsSync(LIBRARY)) {
    fail(
      `The compiled library is missing (${fileURLToPath(LIBRARY)}).\n` +
        'Build it first: `npm run build` at the repository root, then run this again from bench/.',
    );
  }
  let autocannon;
  try {
    ({ default: autocannon } = await import('autocannon'));
  } catch {
    fail('autocannon is not installed: run `npm ci` in bench/ first.');
  }
  const connections = positive(args.connections, '--connections');
  const duration = positive(args.duration, '--duration');
  const warmup = Number(args.warmup);
  if (!Number.isInteger(warmup) || warmup < 0) fail('--warmup must be 0 or a positive integer');
  const rounds = positive(args.rounds, '--rounds');

  const runs = new Map(VARIANTS.map((variant) => [variant.name, []]));
  for (let round = 1; round <= rounds; round += 1) {
    for (const variant of VARIANTS) {
      const result = await measure(autocannon, variant, { connections, duration, warmup });
      runs.get(variant.name).push(result);
      process.stderr.write(`round ${round}/${rounds} ${variant.name}: ${Math.round(result.requests.average)} req/s\n`);
    }
  }
  const results = VARIANTS.map((variant) => ({ ...variant, result: median(runs.get(variant.name)) }));
  printTable(results, { connections, duration, rounds, adapter: args.adapter });
}

/** One round of one variant: start it, check its answer, warm it up, load it, stop it. */
async function measure(autocannon, variant, { connections, duration, warmup }) {
  const server = await startVariant(variant.name, args.adapter);
  try {
    const url = `http://127.0.0.1:${server.port}/ping`;
    const probe = await fetch(url);
    await probe.arrayBuffer();
    if (probe.status !== variant.expectedStatus) {
      throw new Error(`${variant.name}: GET /ping answered ${probe.status}, expected ${variant.expectedStatus}`);
    }
    if (warmup > 0) await load(autocannon, { url, connections, duration: warmup });
    const result = await load(autocannon, { url, connections, duration });
    const answered = result['2xx'] + result.non2xx;
    const expected = variant.expectedStatus === 200 ? result['2xx'] : result['4xx'];
    if (result.errors > 0 || result.timeouts > 0 || expected !== answered) {
      throw new Error(
        `${variant.name}: ${result.errors} errors, ${result.timeouts} timeouts, ` +
          `${answered - expected} answers other than ${variant.expectedStatus}`,
      );
    }
    return result;
  } finally {
    await server.stop();
  }
}

function median(results) {
  const sorted = [...results].sort((a, b) => a.requests.average - b.requests.average);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function positive(text, name) {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) fail(`${name} must be a positive integer`);
  return value;
}

function load(autocannon, { url, connections, duration }) {
  // Bounded: the run ends after `duration` seconds; a request may wait at most 10 s.
  return autocannon({ url, connections, duration, timeout: 10, pipelining: 1 });
}

async function startVariant(name, adapter) {
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), '--serve', name, '--adapter', adapter],
    // stdout is ignored: it carries the security event log lines (one per 401).
    { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, NODE_ENV: 'production' } },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start within ${START_WITHIN_MS} ms`)),
      START_WITHIN_MS,
    );
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening:\n${stderr}`));
    });
  }).catch((error) => {
    child.kill('SIGKILL');
    throw error;
  });
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), STOP_WITHIN_MS);
      await exited;
      clearTimeout(force);
    },
  };
}

function printTable(results, { connections, duration, rounds, adapter }) {
  const bare = results[0].result;
  // autocannon's histogram has a resolution of 1 ms.
  const ms = (value) => (value < 1 ? '< 1 ms' : `${Math.round(value)} ms`);
  const lines = [
    `Nest ${adapter}, GET /ping, ${connections} connections, ${duration} s per run, median of ${rounds}, loopback; ` +
      `Node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'})`,
    '',
    '| app | status | req/s | p50 latency | p99 latency | req/s vs bare |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const { label, expectedStatus, result } of results) {
    const ratio = result.requests.average / bare.requests.average;
    lines.push(
      `| ${label} | ${expectedStatus} | ${Math.round(result.requests.average).toLocaleString('en-US')} | ` +
        `${ms(result.latency.p50)} | ${ms(result.latency.p99)} | ${(ratio * 100).toFixed(0)} % |`,
    );
  }
  console.log(lines.join('\n'));
}
