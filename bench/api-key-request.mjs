// What authenticating a request with an API key costs, over HTTP: one Nest app with SecurityModule
// (production, in-memory stores, a pepper) and two routes whose handlers do the same work, `GET /public`
// (`@Public()`) and `GET /me` (the key in `X-API-Key`, the handler returns the principal's fields as the
// demo's /me does). Each run starts the app in its own process and loads one route with autocannon over
// loopback. Prints a markdown table and the ratio `/me ÷ /public` of req/s.
//
//   npm run build && cd bench && npm ci && node api-key-request.mjs [--adapter fastify|express]
//     [--connections 50] [--duration 10] [--warmup 2] [--rounds 3] [--cpu-prof DIR]
//
// The routes run interleaved (their order alternates from round to round), `--rounds` times each, and
// the table shows each route's median round (by req/s). With `--cpu-prof DIR`, one more run of each route
// follows with the server under `node --cpu-prof` (profiles written to DIR), and the busiest functions are
// printed; those runs are slower and not part of the table.
//
// The same key is sent on every request, so after the first one it is served from the verifier's cache:
// this is the steady state of a client that keeps using its key (the cache keeps an entry 30 s).
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LIBRARY, fail, loadAverage, machineSummary, loadSettings, requireLibrary } from './lib/cli.mjs';
import { percent, summarizeProfile } from './lib/cpu-profile.mjs';
import { importAutocannon, load, median, ms, startServer } from './lib/http-load.mjs';
import { createAdapter, decorateMethod, seedKeyAndListen } from './lib/nest-app.mjs';

const ROUTES = [
  { name: 'public', path: '/public', label: '`GET /public` (`@Public()`)', withKey: false },
  { name: 'me', path: '/me', label: '`GET /me` (`X-API-Key`)', withKey: true },
];
const TARGET_RATIO = 0.85;
const ROLE_PERMISSIONS = ['documents:read', 'items:read', 'users:read'];

const { values: args } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    adapter: { type: 'string', default: 'fastify' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    'cpu-prof': { type: 'string' },
  },
});

if (!['fastify', 'express'].includes(args.adapter)) fail(`--adapter must be fastify or express, not ${args.adapter}`);
if (args.serve) await serve(args.adapter);
else await main();

/** Child process: the app on 127.0.0.1, seeded with one principal and one key; reports port and key. */
async function serve(adapterName) {
  await import('reflect-metadata');
  const { randomBytes } = await import('node:crypto');
  const { Controller, Get, Module } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { ApiKeys, CurrentPrincipal, Principals, Public, SecurityModule } = await import(LIBRARY.href);

  // What /public answers: the fields of /me, with values of the same lengths, so that both handlers
  // build and serialize the same object and only the security pipeline differs.
  const ANONYMOUS = {
    id: '00000000-0000-4000-8000-000000000000',
    kind: 'service',
    roles: ['viewer'],
    permissions: ROLE_PERMISSIONS,
    keyId: '000000000000',
    authMethod: 'none',
  };
  const fieldsOf = (principal) => ({
    principalId: principal.id,
    kind: principal.kind,
    roles: principal.roles,
    permissions: principal.permissions,
    keyId: principal.keyId ?? null,
    authMethod: principal.authMethod,
  });

  // Plain JavaScript: decorators are applied by hand, as TypeScript would emit them.
  class BenchController {
    public() {
      return fieldsOf(ANONYMOUS);
    }
    me(principal) {
      return fieldsOf(principal);
    }
  }
  decorateMethod(BenchController, 'public', [Get('public'), Public()]);
  // `@CurrentPrincipal() principal` on parameter 0, as TypeScript's __param(0, …) applies it.
  decorateMethod(BenchController, 'me', [Get('me'), (target, key) => CurrentPrincipal()(target, key, 0)]);
  Controller()(BenchController);

  const pepper = `v1:${randomBytes(32).toString('base64')}`;
  class BenchModule {}
  Module({
    imports: [
      SecurityModule.forRoot({
        environment: 'production',
        audit: { log: false },
        apiKeys: { pepper },
        // One instance with in-memory stores: waived on purpose.
        lint: { allow: ['signing-nonces-not-shared'] },
        // Limits never reached in a run (the default ip 1000/60s would answer 429s): every decision is made.
        rateLimit: { policies: { ip: '1000000000/60s', principal: '1000000000/60s' } },
      }),
    ],
    controllers: [BenchController],
  })(BenchModule);

  const app = await NestFactory.create(BenchModule, await createAdapter(adapterName), { logger: ['error'] });
  await seedKeyAndListen(app, { Principals, ApiKeys }, ROLE_PERMISSIONS);
}

/** Parent: loads each route in turn, each in a fresh server, and prints the table. */
async function main() {
  requireLibrary();
  const autocannon = await importAutocannon();
  const { connections, duration, warmup, rounds } = loadSettings(args);
  const settings = { connections, duration, warmup };

  const runs = new Map(ROUTES.map((route) => [route.name, []]));
  const loads = [];
  for (let round = 1; round <= rounds; round += 1) {
    // Alternating the order keeps a slow start or end of the sequence from always hitting one route.
    const order = round % 2 === 1 ? ROUTES : [...ROUTES].reverse();
    for (const route of order) {
      const result = await measure(autocannon, route, settings);
      runs.get(route.name).push(result);
      loads.push(Number(loadAverage()));
      process.stderr.write(
        `round ${round}/${rounds} ${route.path}: ${Math.round(result.requests.average)} req/s ` +
          `(load average ${loadAverage()})\n`,
      );
    }
  }
  const results = ROUTES.map((route) => ({ ...route, result: median(runs.get(route.name)) }));
  printTable(results, { connections, duration, rounds, adapter: args.adapter, loads });

  if (args['cpu-prof']) await profile(autocannon, resolve(args['cpu-prof']), settings);
}

/** One run of one route: start a server, check its answers, warm it up, load it, stop it. */
async function measure(autocannon, route, { connections, duration, warmup }, nodeArgs = []) {
  const server = await startServer({
    script: fileURLToPath(import.meta.url),
    args: ['--serve', '--adapter', args.adapter],
    label: route.path,
    nodeArgs,
  });
  try {
    const url = `http://127.0.0.1:${server.port}${route.path}`;
    const headers = route.withKey ? { 'x-api-key': server.message.key } : undefined;
    await probe(url, route, headers, server.message.principalId);
    const warm = warmup > 0 ? await load(autocannon, { url, connections, duration: warmup, headers }) : undefined;
    const result = await load(autocannon, { url, connections, duration, headers });
    const answered = result['2xx'] + result.non2xx;
    if (result.errors > 0 || result.timeouts > 0 || result['2xx'] !== answered) {
      throw new Error(
        `${route.path}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} answers other than 2xx`,
      );
    }
    // Every request the server answered, warm-up included (the profiling pass divides by it).
    result.served = answered + (warm ? warm['2xx'] + warm.non2xx : 0);
    return result;
  } finally {
    await server.stop();
  }
}

/** The route answers 200 with the expected principal; /me without the key answers 401. */
async function probe(url, route, headers, principalId) {
  const response = await fetch(url, { headers });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`GET ${route.path} answered ${response.status}, expected 200`);
  if (route.withKey) {
    if (body.principalId !== principalId || body.authMethod !== 'api-key') {
      throw new Error(`GET ${route.path} answered another principal: ${JSON.stringify(body)}`);
    }
    const anonymous = await fetch(url);
    await anonymous.arrayBuffer();
    if (anonymous.status !== 401) throw new Error(`GET ${route.path} without a key answered ${anonymous.status}`);
  }
}

function printTable(results, { connections, duration, rounds, adapter, loads }) {
  const [open, keyed] = results.map((entry) => entry.result.requests.average);
  const ratio = keyed / open;
  const lines = [
    `Nest ${adapter}, SecurityModule (production, in-memory stores, pepper), ${connections} connections, ` +
      `${duration} s per run, median of ${rounds}, loopback; ${machineSummary()}; ` +
      `load average ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)} after the runs`,
    '',
    '| route | req/s | p50 latency | p99 latency | req/s vs /public |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const { label, result } of results) {
    lines.push(
      `| ${label} | ${Math.round(result.requests.average).toLocaleString('en-US')} | ${ms(result.latency.p50)} | ` +
        `${ms(result.latency.p99)} | ${((result.requests.average / open) * 100).toFixed(0)} % |`,
    );
  }
  lines.push(
    '',
    `/me ÷ /public = ${ratio.toFixed(2)} (aim: ≥ ${TARGET_RATIO}; ${ratio >= TARGET_RATIO ? 'met' : 'not met'})`,
  );
  console.log(lines.join('\n'));
}

/**
 * One profiled run of each route. Prints, per route, the server's busy time by origin and its busiest
 * functions, then the functions on which /me spends the most more time per request than /public.
 */
async function profile(autocannon, dir, settings) {
  mkdirSync(dir, { recursive: true });
  const profiled = new Map();
  for (const route of ROUTES) {
    const file = `${route.name}-${process.pid}.cpuprofile`;
    process.stderr.write(`profiling ${route.path} (${resolve(dir, file)})\n`);
    const result = await measure(autocannon, route, settings, [
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-name=${file}`,
    ]);
    profiled.set(route.name, { route, result, summary: summarizeProfile(resolve(dir, file)) });
  }
  const perRequest = (entry, time) => (time / entry.result.served).toFixed(1);
  const lines = ['', '### CPU profile of the server (`node --cpu-prof`, one run per route, not in the table)'];
  for (const entry of profiled.values()) {
    const { route, result, summary } = entry;
    lines.push(
      '',
      `${route.path}: ${Math.round(result.requests.average).toLocaleString('en-US')} req/s under the profiler; ` +
        `${perRequest(entry, summary.busy)} µs of busy server time per request (start-up included)`,
      '',
      '| origin | self | µs per request |',
      '|---|---:|---:|',
      ...summary.byOrigin
        .slice(0, 8)
        .map(({ key, time }) => `| ${key} | ${percent(time, summary.busy)} | ${perRequest(entry, time)} |`),
      '',
      '| function (self time) | self | µs per request |',
      '|---|---:|---:|',
      ...summary.self
        .slice(0, 12)
        .map(({ key, time }) => `| \`${key}\` | ${percent(time, summary.busy)} | ${perRequest(entry, time)} |`),
    );
  }
  const keyedEntry = profiled.get('me');
  lines.push(
    '',
    '/me: functions of the library and of passport, inclusive (the function and what it calls) per request',
    '',
    '| function | inclusive | µs per request |',
    '|---|---:|---:|',
    ...keyedEntry.summary.inclusive
      .filter(({ key }) => /libs\/security|passport|node:internal\/crypto/.test(key))
      .slice(0, 20)
      .map(
        ({ key, time }) =>
          `| \`${key}\` | ${percent(time, keyedEntry.summary.busy)} | ${perRequest(keyedEntry, time)} |`,
      ),
  );
  const open = profiled.get('public');
  const keyed = profiled.get('me');
  const openInclusive = new Map(open.summary.inclusive.map(({ key, time }) => [key, time / open.result.served]));
  const deltas = keyed.summary.inclusive
    .map(({ key, time }) => ({ key, me: time / keyed.result.served, open: openInclusive.get(key) ?? 0 }))
    .map((row) => ({ ...row, delta: row.me - row.open }))
    .filter(({ key }) => key !== '(root)')
    .sort((a, b) => b.delta - a.delta)
    .slice(0, 25);
  lines.push(
    '',
    'Where /me spends more than /public, per request (inclusive: the function and what it calls; nested rows overlap)',
    '',
    '| function | /public µs | /me µs | difference µs |',
    '|---|---:|---:|---:|',
    ...deltas.map(
      ({ key, open: a, me: b, delta }) => `| \`${key}\` | ${a.toFixed(1)} | ${b.toFixed(1)} | ${delta.toFixed(1)} |`,
    ),
  );
  console.log(lines.join('\n'));
}
