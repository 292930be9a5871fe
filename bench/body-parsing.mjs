// What the library's input limits cost when it parses a JSON body: in process (`parseJsonWithin`, the shape
// scan then `JSON.parse`, against `JSON.parse` alone), and over HTTP (a Nest app whose bodies the library
// parses, against the same app without SecurityModule and with Nest's default body parser). Prints markdown
// tables.
//
//   npm run build && cd bench && npm ci && node body-parsing.mjs [--parts parse,http] [--rounds 7]
//     [--batch-ms 200] [--warmup-ms 300] [--adapters fastify,express] [--connections 50] [--duration 5]
//     [--warmup 2] [--http-rounds 3] [--time-limit 600]
//
// Part 1, parsing in process. `parseJsonWithin(text, limits)` from the compiled
// `libs/security/dist/validation/core/json-shape.js` (one linear scan of the text for nesting depth,
// elements per array, keys per object and forbidden keys, then `JSON.parse`), with the defaults of
// `SecurityModule.forRoot({ limits })`: { maxDepth: 32, maxArrayLength: 1000, maxKeys: 1000 }. Bodies are
// orders (an id, a customer with an address, totals, tags, an array of item records each with an array of
// options and an array of numbers, a padded note), compact JSON of exactly 1,000, 10,000 and 100,000
// bytes, Latin-1 text included (`Zürich`, so UTF-8 is not plain ASCII, but the strings stay one byte per
// character in V8); each is a string decoded from a Buffer, as the body parser gets it, and each size has
// `POOL` distinct bodies taken in turn. Per body size three functions are timed: `JSON.parse(text)`,
// `parseJsonWithin(text, limits)` and `checkJsonShape(text, limits)` (the scan alone). Hostile bodies,
// timed with the first two: `[[[…]]]` 10,000 deep (20,000 bytes) and 50,000 deep (100,000 bytes, just
// under the default body limit of 100 kb), which the scan refuses at depth 33 and `JSON.parse` builds in
// full, and a 100,000-byte order with a `"__proto__"` key as its last member, which the scan refuses only
// at the end (`JSON.parse` accepts it: an own property named `__proto__`). Each function is warmed up for
// `--warmup-ms`, which also sizes its batch to about `--batch-ms`; then `--rounds` rounds, each timing one
// batch per function and body (a full GC before each batch, the functions in a rotating order) with
// `process.hrtime.bigint()` around the whole batch. Every result is checked (accepted, or refused with the
// expected rule), so nothing is optimised away and a wrong outcome fails the run. The tables show the
// median round of each; MB/s is 10^6 bytes per second.
//
// Part 2, HTTP (optional, `--parts parse` skips it). One Nest app per adapter with a `POST /echo` route
// (`@Body() body: unknown`, returns `{ n: Object.keys(body).length }`) in three variants, each in its own
// process:
//   bare      no SecurityModule, Nest's default body parser;
//   parser    no SecurityModule, created with `{ bodyParser: false }`, and the library's exported
//             `installBodyParsing(adapter, { capBytes, limits })` with the limits `resolveSecurityOptions`
//             gives for the options below: the library's parser alone (raw bytes kept, the shape scan);
//   security  created with `{ bodyParser: false }`, SecurityModule.forRoot({ environment: 'production',
//             audit: { log: false }, rateLimit: false, anomalies: false, changes: { transport: 'memory' } })
//             and the route `@Public()`: the parser as the module installs it, and the rest of the module
//             (request id, the global guards, interceptors, validation pipe and exception filter).
// All have `GET /cpu-usage` (the server's `process.cpuUsage()`). autocannon POSTs the same 10,000-byte
// order on every request. Before loading, the parent checks the answer (`{ n: 9 }`) and that the `security`
// variant refuses the 50,000-deep array with 400 (the progress line shows what the others answer). Each run
// starts a fresh server, warms it up for `--warmup` seconds, and loads it for `--duration`; the variants
// run interleaved (in a rotating order), `--http-rounds` times per adapter, and the table shows each
// variant's median round by req/s, with the server's CPU time per request (read before and after the
// timed run), the column a busy machine disturbs least. `security` minus `parser` is the rest of the
// module, which request-overhead.mjs measures on a GET.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LIBRARY, fail, loadAverage, machineSummary, nonNegative, positive, requireLibrary } from './lib/cli.mjs';
import { importAutocannon, load, ms, startServer } from './lib/http-load.mjs';
import { createAdapter, decorateMethod, listenAndReport } from './lib/nest-app.mjs';

const JSON_SHAPE = new URL('../libs/security/dist/validation/core/json-shape.js', import.meta.url);
// SecurityModule's defaults (limits.jsonDepth, jsonArrayLength, jsonKeys).
const LIMITS = { maxDepth: 32, maxArrayLength: 1000, maxKeys: 1000 };
const SIZES = [1_000, 10_000, 100_000];
const HTTP_BODY_BYTES = 10_000;
// Distinct bodies per size, taken in turn.
const POOL = 16;
// Top-level keys of every order: what POST /echo answers as `n`.
const ORDER_KEYS = 9;
const PROTO_SUFFIX = ',"__proto__":{"isAdmin":true}';
// Item names, colours and sizes of the orders.
const PRODUCTS = ['Desk lamp, brass', 'Espresso cups (set of 4)', 'Wool blanket 150×200', 'Notebook, dotted, A5'];
const COLOURS = ['black', 'white', 'sage green', 'terracotta', 'navy'];
const FITS = ['S', 'M', 'L', 'XL', 'one size'];
const VARIANTS = [
  { name: 'bare', label: 'without SecurityModule', parser: "Nest's default" },
  { name: 'parser', label: 'without SecurityModule', parser: "the library's (`installBodyParsing`)" },
  { name: 'security', label: 'SecurityModule, `@Public()` route', parser: "the library's (the module)" },
];
const MODULE_OPTIONS = {
  environment: 'production',
  audit: { log: false },
  rateLimit: false,
  anomalies: false,
  changes: { transport: 'memory' },
  // One instance, in-memory stores and no rate limits: what this benchmark measures, waived on purpose.
  lint: { allow: ['rate-limit-off', 'signing-nonces-not-shared'] },
};
// A full garbage collection before each timed batch, so that one batch does not pay for the garbage of the
// one before it (the usual way to reach gc() without --expose-gc).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc');

const { values: args } = parseArgs({
  options: {
    serve: { type: 'string' },
    adapter: { type: 'string', default: 'fastify' },
    parts: { type: 'string', default: 'parse,http' },
    rounds: { type: 'string', default: '7' },
    'batch-ms': { type: 'string', default: '200' },
    'warmup-ms': { type: 'string', default: '300' },
    adapters: { type: 'string', default: 'fastify,express' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    'http-rounds': { type: 'string', default: '3' },
    'time-limit': { type: 'string', default: '600' },
  },
});

if (args.serve) await serve(args.serve, args.adapter);
else await main();

/** Parent: part 1 in this process, part 2 against child servers; then the tables on stdout. */
async function main() {
  requireLibrary();
  if (!existsSync(JSON_SHAPE)) {
    fail(`${fileURLToPath(JSON_SHAPE)} is missing: run \`npm run build\` at the repository root first.`);
  }
  const parts = args.parts.split(',').map((part) => part.trim());
  for (const part of parts) if (!['parse', 'http'].includes(part)) fail(`--parts: unknown part ${part}`);
  const adapters = args.adapters.split(',').map((name) => name.trim());
  for (const name of adapters) if (!['fastify', 'express'].includes(name)) fail(`--adapters: unknown adapter ${name}`);
  const settings = {
    rounds: positive(args.rounds, '--rounds'),
    batchMs: positive(args['batch-ms'], '--batch-ms'),
    warmupMs: positive(args['warmup-ms'], '--warmup-ms'),
    connections: positive(args.connections, '--connections'),
    duration: positive(args.duration, '--duration'),
    warmup: nonNegative(args.warmup, '--warmup'),
    httpRounds: positive(args['http-rounds'], '--http-rounds'),
  };
  const timeLimit = positive(args['time-limit'], '--time-limit');

  // Servers stop through this list; Ctrl-C and the time limit empty it too.
  const cleanups = [];
  const cleanUp = async () => {
    while (cleanups.length > 0)
      await cleanups
        .pop()()
        .catch((error) => console.error(`cleanup: ${error}`));
  };
  const stop = (reason, code) => {
    console.error(`${reason}; cleaning up`);
    void cleanUp().finally(() => process.exit(code));
  };
  const deadline = setTimeout(() => stop(`time limit of ${timeLimit} s reached`, 1), timeLimit * 1_000);
  deadline.unref();
  process.once('SIGINT', () => stop('interrupted', 130));

  const output = [];
  try {
    if (parts.includes('parse')) {
      const shape = await import(JSON_SHAPE.href);
      const { realistic, hostile } = parsePart(shape, settings);
      output.push(realisticTable(realistic, settings), hostileTable(hostile, settings));
    }
    if (parts.includes('http')) {
      const autocannon = await importAutocannon();
      const results = await httpPart(autocannon, adapters, settings, cleanups);
      output.push(httpTable(results, settings));
    }
  } finally {
    await cleanUp();
    clearTimeout(deadline);
  }
  console.log(output.join('\n\n'));
}

// ---------------------------------------------------------------------------------------------------------
// Bodies

/** A small seeded generator (mulberry32), so that the bodies are the same from run to run. */
function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One item record: strings, numbers, a boolean, an array of objects and an array of numbers. */
function item(rand, n) {
  return {
    sku: `SKU-${10_000 + Math.floor(rand() * 90_000)}`,
    name: PRODUCTS[n % PRODUCTS.length],
    quantity: 1 + Math.floor(rand() * 5),
    unitPrice: Math.round(rand() * 20_000) / 100,
    taxRate: 0.077,
    inStock: rand() > 0.1,
    options: [
      { name: 'colour', value: COLOURS[Math.floor(rand() * COLOURS.length)] },
      { name: 'size', value: FITS[Math.floor(rand() * FITS.length)] },
    ],
    dimensionsCm: [Math.round(rand() * 1000) / 10, Math.round(rand() * 1000) / 10, Math.round(rand() * 1000) / 10],
  };
}

/**
 * An order of exactly `bytes` bytes of compact JSON (UTF-8), as a string decoded from a Buffer: item
 * records while they fit, then the note padded to the size. `ORDER_KEYS` top-level keys.
 */
function makeOrder(bytes, seed) {
  const rand = seeded(seed);
  const order = {
    id: `ord_${Math.floor(rand() * 2 ** 48).toString(16)}`,
    createdAt: new Date(Date.UTC(2025, 0, 1) + Math.floor(rand() * 3e10)).toISOString(),
    status: 'pending',
    customer: {
      id: `cus_${Math.floor(rand() * 2 ** 48).toString(16)}`,
      name: 'Zoë Müller',
      email: 'zoe.mueller@example.com',
      address: { street: 'Bahnhofstrasse 12', city: 'Zürich', postcode: '8001', country: 'CH' },
    },
    currency: 'CHF',
    total: 0,
    tags: ['web', 'gift-wrap'],
    items: [],
    note: '',
  };
  // The size with the total of the items so far (its digits count too).
  const size = () => {
    order.total = Math.round(order.items.reduce((sum, it) => sum + it.quantity * it.unitPrice, 0) * 100) / 100;
    return Buffer.byteLength(JSON.stringify(order));
  };
  for (;;) {
    order.items.push(item(rand, order.items.length));
    if (size() > bytes) {
      order.items.pop();
      break;
    }
  }
  const missing = bytes - size();
  if (missing < 0) throw new Error(`an order of ${bytes} bytes cannot be built`);
  order.note = 'Please leave the parcel at the reception. '.repeat(Math.ceil(missing / 42)).slice(0, missing);
  const buffer = Buffer.from(JSON.stringify(order));
  if (buffer.length !== bytes) throw new Error(`an order of ${buffer.length} bytes, not ${bytes}`);
  if (Object.keys(order).length !== ORDER_KEYS) throw new Error('ORDER_KEYS is out of date');
  return buffer.toString('utf8');
}

/** `[[[…]]]`, `depth` deep: 2 × depth bytes. */
function deepArray(depth) {
  return Buffer.from('['.repeat(depth) + ']'.repeat(depth)).toString('utf8');
}

/** A 100,000-byte order whose last member is `"__proto__"`. */
function protoOrder() {
  const order = makeOrder(100_000 - PROTO_SUFFIX.length, 1);
  return Buffer.from(`${order.slice(0, -1)}${PROTO_SUFFIX}}`).toString('utf8');
}

// ---------------------------------------------------------------------------------------------------------
// Part 1: parsing in process

/**
 * The timed functions, each with its own loop (its own call site and type feedback): `n` calls over
 * `bodies` in turn, returning how many were accepted.
 */
function runnersFor({ parseJsonWithin, checkJsonShape }) {
  return {
    parse: {
      label: '`JSON.parse`',
      run(bodies, n) {
        let accepted = 0;
        for (let i = 0; i < n; i++) if (JSON.parse(bodies[i % bodies.length]) !== undefined) accepted++;
        return accepted;
      },
    },
    within: {
      label: '`parseJsonWithin`',
      run(bodies, n) {
        let accepted = 0;
        for (let i = 0; i < n; i++) if ('value' in parseJsonWithin(bodies[i % bodies.length], LIMITS)) accepted++;
        return accepted;
      },
    },
    scan: {
      label: '`checkJsonShape`',
      run(bodies, n) {
        let accepted = 0;
        for (let i = 0; i < n; i++) if (checkJsonShape(bodies[i % bodies.length], LIMITS) === undefined) accepted++;
        return accepted;
      },
    },
  };
}

function parsePart(shape, { rounds, batchMs, warmupMs }) {
  const runners = runnersFor(shape);
  const cases = [
    ...SIZES.map((bytes) => ({
      kind: 'realistic',
      name: `${bytes / 1000} KB order`,
      bytes,
      bodies: Array.from({ length: POOL }, (_, i) => makeOrder(bytes, bytes + i)),
      functions: ['parse', 'within', 'scan'],
    })),
    {
      kind: 'hostile',
      name: '`[[[…]]]` 10,000 deep',
      bodies: [deepArray(10_000)],
      functions: ['parse', 'within'],
      refusedBy: 'depth',
    },
    {
      kind: 'hostile',
      name: '`[[[…]]]` 50,000 deep',
      bodies: [deepArray(50_000)],
      functions: ['parse', 'within'],
      refusedBy: 'depth',
    },
    {
      kind: 'hostile',
      name: '100 KB order, `"__proto__"` as its last key',
      bodies: [protoOrder()],
      functions: ['parse', 'within'],
      refusedBy: 'forbidden_key',
    },
  ];
  for (const c of cases) {
    c.bytes = Buffer.byteLength(c.bodies[0]);
    // Untimed: what each function must do with these bodies, checked once more after every batch.
    for (const body of c.bodies) {
      const outcome = shape.parseJsonWithin(body, LIMITS);
      if (c.kind === 'realistic') {
        if (!('value' in outcome)) throw new Error(`${c.name}: refused: ${JSON.stringify(outcome.violation)}`);
        if (JSON.stringify(outcome.value) !== JSON.stringify(JSON.parse(body))) {
          throw new Error(`${c.name}: parseJsonWithin and JSON.parse disagree`);
        }
      } else if (outcome.violation?.rule !== c.refusedBy) {
        throw new Error(`${c.name}: expected rule ${c.refusedBy}, got ${JSON.stringify(outcome)}`);
      }
    }
    c.expected = (fn, n) => (fn === 'parse' || c.kind === 'realistic' ? n : 0);
    c.runs = Object.fromEntries(c.functions.map((fn) => [fn, []]));
    c.iterations = {};
  }
  const batch = (c, fn, n) => {
    const accepted = runners[fn].run(c.bodies, n);
    if (accepted !== c.expected(fn, n)) {
      throw new Error(`${c.name} ${fn}: ${accepted} of ${n} accepted, expected ${c.expected(fn, n)}`);
    }
  };

  // Warm-up: batches that double until `warmupMs` has passed; the last one sizes the timed batches.
  for (const c of cases) {
    for (const fn of c.functions) {
      const started = process.hrtime.bigint();
      let n = 1;
      let perCallNs = 0;
      for (;;) {
        const at = process.hrtime.bigint();
        batch(c, fn, n);
        perCallNs = Number(process.hrtime.bigint() - at) / n;
        if (Number(process.hrtime.bigint() - started) / 1e6 >= warmupMs) break;
        n *= 2;
      }
      c.iterations[fn] = Math.max(1, Math.round((batchMs * 1e6) / perCallNs));
    }
  }
  progress(`warmed up; load average ${loadAverage()}`);

  for (let round = 1; round <= rounds; round += 1) {
    for (const c of cases) {
      const shift = (round - 1) % c.functions.length;
      for (const fn of [...c.functions.slice(shift), ...c.functions.slice(0, shift)]) {
        const n = c.iterations[fn];
        collectGarbage();
        const started = process.hrtime.bigint();
        batch(c, fn, n);
        c.runs[fn].push(Number(process.hrtime.bigint() - started) / 1e3 / n);
      }
    }
    const summary = cases
      .filter((c) => c.kind === 'realistic')
      .map((c) => `${c.name} ×${(c.runs.within.at(-1) / c.runs.parse.at(-1)).toFixed(2)}`)
      .join(', ');
    progress(`round ${round}/${rounds}: parseJsonWithin ÷ JSON.parse: ${summary}; load average ${loadAverage()}`);
  }
  for (const c of cases) {
    c.median = Object.fromEntries(c.functions.map((fn) => [fn, medianOf(c.runs[fn])]));
    c.ratios = c.runs.within.map((us, i) => us / c.runs.parse[i]);
  }
  return { realistic: cases.filter((c) => c.kind === 'realistic'), hostile: cases.filter((c) => c.kind === 'hostile') };
}

function realisticTable(cases, { rounds, batchMs }) {
  const lines = [
    `JSON bodies in process, limits { maxDepth: 32, maxArrayLength: 1000, maxKeys: 1000 }, ${POOL} distinct ` +
      `bodies per size, batches of about ${batchMs} ms, median of ${rounds} rounds; ${machineSummary()}; ` +
      `load average ${loadAverage()} at the end`,
    '',
    '| body | bytes | `JSON.parse` µs | MB/s | `parseJsonWithin` µs | MB/s | time ÷ `JSON.parse` | ÷ range over rounds | the scan alone (`checkJsonShape`) µs | MB/s |',
    '|---|---:|---:|---:|---:|---:|---:|---|---:|---:|',
  ];
  for (const c of cases) {
    const { parse, within, scan } = c.median;
    lines.push(
      `| ${c.name} | ${c.bytes.toLocaleString('en-US')} | ${us(parse)} | ${mbps(c.bytes, parse)} | ${us(within)} | ` +
        `${mbps(c.bytes, within)} | ${(within / parse).toFixed(2)} | ` +
        `${Math.min(...c.ratios).toFixed(2)}–${Math.max(...c.ratios).toFixed(2)} | ${us(scan)} | ${mbps(c.bytes, scan)} |`,
    );
  }
  lines.push(
    '',
    'µs per body: the batch time ÷ its bodies (the median round); MB/s: bytes ÷ µs. "÷ range over rounds": ' +
      '`parseJsonWithin` ÷ `JSON.parse` in each round.',
  );
  return lines.join('\n');
}

function hostileTable(cases, { rounds }) {
  const lines = [
    `Hostile bodies in process, the same limits, median of ${rounds} rounds`,
    '',
    '| body | bytes | `JSON.parse` µs | `JSON.parse` does | `parseJsonWithin` µs | `parseJsonWithin` does | time ÷ `JSON.parse` |',
    '|---|---:|---:|---|---:|---|---:|',
  ];
  for (const c of cases) {
    const { parse, within } = c.median;
    lines.push(
      `| ${c.name} | ${c.bytes.toLocaleString('en-US')} | ${us(parse)} | accepts it | ${us(within)} | ` +
        `refuses it (\`${c.refusedBy}\`) | ${ratio(within / parse)} |`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Part 2: HTTP

/** Child process: one variant of the app on 127.0.0.1, a free port reported to the parent. */
async function serve(variant, adapterName) {
  if (!VARIANTS.some((v) => v.name === variant)) fail(`--serve: unknown variant ${variant}`);
  if (!['fastify', 'express'].includes(adapterName)) fail(`--adapter must be fastify or express, not ${adapterName}`);
  await import('reflect-metadata');
  const { Body, Controller, Get, Module, Post } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { Public, SecurityModule, installBodyParsing, resolveSecurityOptions } = await import(LIBRARY.href);
  const security = variant === 'security';

  // Plain JavaScript: decorators are applied by hand, as TypeScript would emit them (`body: unknown` is
  // `design:paramtypes` [Object], which the validation pipe lets through).
  class EchoController {
    cpu() {
      return process.cpuUsage();
    }
    echo(body) {
      return { n: Object.keys(body).length };
    }
  }
  const open = security ? [Public()] : [];
  decorateMethod(EchoController, 'cpu', [Get('cpu-usage'), ...open]);
  decorateMethod(EchoController, 'echo', [
    Post('echo'),
    ...open,
    (target, key) => Body()(target, key, 0),
    Reflect.metadata('design:paramtypes', [Object]),
  ]);
  Controller()(EchoController);

  class BenchModule {}
  Module({
    imports: security ? [SecurityModule.forRoot(MODULE_OPTIONS)] : [],
    controllers: [EchoController],
  })(BenchModule);

  const app = await NestFactory.create(BenchModule, await createAdapter(adapterName), {
    logger: ['error'],
    ...(variant === 'bare' ? {} : { bodyParser: false }),
  });
  if (variant === 'parser') {
    // Before listen() registers the routes, as SecurityModule's configure() does; no other @BodyLimit().
    const { limits } = resolveSecurityOptions(MODULE_OPTIONS);
    installBodyParsing(app.getHttpAdapter(), { capBytes: limits.bodyBytes, limits });
  }
  await listenAndReport(app);
}

async function httpPart(autocannon, adapters, settings, cleanups) {
  const body = makeOrder(HTTP_BODY_BYTES, 42);
  const deep = deepArray(50_000);
  const runs = new Map();
  for (const adapter of adapters) for (const v of VARIANTS) runs.set(`${adapter}/${v.name}`, []);
  for (let round = 1; round <= settings.httpRounds; round += 1) {
    for (const adapter of adapters) {
      const shift = (round - 1) % VARIANTS.length;
      for (const variant of [...VARIANTS.slice(shift), ...VARIANTS.slice(0, shift)]) {
        const result = await httpRun(autocannon, adapter, variant, { body, deep }, settings, cleanups);
        runs.get(`${adapter}/${variant.name}`).push(result);
        progress(
          `round ${round}/${settings.httpRounds} ${adapter} ${variant.name}: ` +
            `${Math.round(result.requests.average).toLocaleString('en-US')} req/s, server CPU ` +
            `${Math.round(result.cpuPerRequest)} µs/request (the 50,000-deep array answered ${result.deepStatus}; ` +
            `load average ${loadAverage()})`,
        );
      }
    }
  }
  return adapters.flatMap((adapter) =>
    VARIANTS.map((variant) => {
      const all = runs.get(`${adapter}/${variant.name}`);
      const sorted = [...all].sort((a, b) => a.requests.average - b.requests.average);
      return { adapter, variant, result: sorted[Math.floor((sorted.length - 1) / 2)], all };
    }),
  );
}

/** One run: start the variant, check its answers, warm it up, load it, stop it. */
async function httpRun(autocannon, adapter, variant, { body, deep }, { connections, duration, warmup }, cleanups) {
  const server = await startServer({
    script: fileURLToPath(import.meta.url),
    args: ['--serve', variant.name, '--adapter', adapter],
    label: `${adapter} ${variant.name}`,
  });
  const stopServer = () => server.stop();
  cleanups.push(stopServer);
  try {
    const origin = `http://127.0.0.1:${server.port}`;
    const url = `${origin}/echo`;
    const headers = { 'content-type': 'application/json' };
    const post = async (text) => {
      const response = await fetch(url, { method: 'POST', headers, body: text });
      return { status: response.status, body: await response.text() };
    };
    const answer = await post(body);
    if (answer.status !== 201 || answer.body !== JSON.stringify({ n: ORDER_KEYS })) {
      throw new Error(`${adapter} ${variant.name}: POST /echo answered ${answer.status} ${answer.body.slice(0, 200)}`);
    }
    const refused = await post(deep);
    if (variant.name === 'security' && refused.status !== 400) {
      throw new Error(`${adapter} security: the 50,000-deep array answered ${refused.status}, not 400`);
    }
    const options = { url, connections, headers, method: 'POST', body };
    if (warmup > 0) check(adapter, variant, await load(autocannon, { ...options, duration: warmup }), 'warm-up');
    const cpuUsage = async () => {
      const usage = await (await fetch(`${origin}/cpu-usage`)).json();
      return usage.user + usage.system;
    };
    const cpuBefore = await cpuUsage();
    const result = await load(autocannon, { ...options, duration });
    result.cpuPerRequest = ((await cpuUsage()) - cpuBefore) / (result['2xx'] + result.non2xx);
    result.deepStatus = refused.status;
    check(adapter, variant, result, 'run');
    return result;
  } finally {
    cleanups.splice(cleanups.indexOf(stopServer), 1);
    await server.stop();
  }
}

function check(adapter, variant, result, what) {
  const answered = result['2xx'] + result.non2xx;
  if (result.errors > 0 || result.timeouts > 0 || answered === 0 || result['2xx'] !== answered) {
    throw new Error(
      `${adapter} ${variant.name} ${what}: ${result.errors} errors, ${result.timeouts} timeouts, ` +
        `${result.non2xx} answers other than 2xx`,
    );
  }
}

function httpTable(results, { connections, duration, httpRounds }) {
  const lines = [
    `Nest, \`POST /echo\` with a ${HTTP_BODY_BYTES.toLocaleString('en-US')}-byte JSON body (the same on every ` +
      `request), ${connections} connections, ${duration} s per run, median of ${httpRounds}, loopback; ` +
      `${machineSummary()}; load average ${loadAverage()} at the end`,
    '',
    '| adapter | app | body parser | req/s | p50 latency | p99 latency | req/s vs without | server CPU µs per request | CPU vs without | req/s of the rounds |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const { adapter, variant, result, all } of results) {
    const base = results.find((r) => r.adapter === adapter && r.variant.name === 'bare')?.result ?? result;
    lines.push(
      `| ${adapter} | ${variant.label} | ${variant.parser} | ${Math.round(result.requests.average).toLocaleString('en-US')} | ` +
        `${ms(result.latency.p50)} | ${ms(result.latency.p99)} | ` +
        `${((result.requests.average / base.requests.average) * 100).toFixed(0)} % | ${Math.round(result.cpuPerRequest)} | ` +
        `${((result.cpuPerRequest / base.cpuPerRequest) * 100).toFixed(0)} % | ` +
        `${all.map((run) => Math.round(run.requests.average).toLocaleString('en-US')).join(', ')} |`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------

function medianOf(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function us(value) {
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US');
}

function mbps(bytes, microseconds) {
  return Math.round(bytes / microseconds).toLocaleString('en-US');
}

function ratio(value) {
  return value < 0.01 ? `1/${Math.round(1 / value).toLocaleString('en-US')}` : value.toFixed(2);
}

function progress(message) {
  process.stderr.write(`${message}\n`);
}
