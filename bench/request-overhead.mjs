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
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LIBRARY, fail, machineSummary, loadSettings, requireLibrary } from './lib/cli.mjs';
import { importAutocannon, load, median, ms, startServer } from './lib/http-load.mjs';
import { createAdapter, decorateMethod, listenAndReport } from './lib/nest-app.mjs';

const VARIANTS = [
  { name: 'bare', label: 'bare Nest', expectedStatus: 200 },
  { name: 'public', label: 'SecurityModule, `@Public()` route', expectedStatus: 200 },
  { name: 'protected', label: 'SecurityModule, protected route (401)', expectedStatus: 401 },
];

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
  decorateMethod(PingController, 'ping', decorators);
  Controller()(PingController);

  class BenchModule {}
  Module({
    imports:
      variant === 'bare'
        ? []
        : [
            SecurityModule.forRoot({
              environment: 'production',
              // One instance with in-memory stores: waived on purpose.
              lint: { allow: ['signing-nonces-not-shared'] },
              // Limits never reached in a run (the default ip 1000/60s would answer 429s): every decision is made.
              rateLimit: { policies: { ip: '1000000000/60s', principal: '1000000000/60s' } },
            }),
          ],
    controllers: [PingController],
  })(BenchModule);

  const app = await NestFactory.create(BenchModule, await createAdapter(adapterName), { logger: ['error'] });
  await listenAndReport(app);
}

/** Parent: starts each variant in turn, loads it, stops it, prints the table. */
async function main() {
  requireLibrary();
  const autocannon = await importAutocannon();
  const { connections, duration, warmup, rounds } = loadSettings(args);

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

function startVariant(name, adapter) {
  return startServer({
    script: fileURLToPath(import.meta.url),
    args: ['--serve', name, '--adapter', adapter],
    label: name,
  });
}

function printTable(results, { connections, duration, rounds, adapter }) {
  const bare = results[0].result;
  const lines = [
    `Nest ${adapter}, GET /ping, ${connections} connections, ${duration} s per run, median of ${rounds}, loopback; ` +
      machineSummary(),
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
