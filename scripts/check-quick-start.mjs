#!/usr/bin/env node
// Checks that the README's "## Quick start" still works, by reading its commands from the README itself:
// every fenced block under that heading is parsed, every command is recognised and checked, and a command
// this script does not know is a failure (so that a README change cannot slip past it unverified).
//
//   npm install / npm ci    run as `npm install --prefer-offline --no-audit --no-fund` (cheap after CI's
//                           `npm ci`; --no-install skips it)
//   npm start               its script must exist; run with a minimal environment (no DATABASE_URL,
//                           REDIS_URL, NODE_ENV; a temporary DATA_DIR): /health must answer 200 within
//                           QUICK_START_BOOT_MS (default 120 s), then SIGTERM to `npm start` must exit 0
//                           within 30 s and leave nothing answering on the port
//   npm test                its script must exist and .ci/run must call it; not run here (CI runs it)
//   npm run NAME [-- ARGS]  its script must exist; run while the demo runs, in the README's order, must
//                           exit 0 within 120 s; a JSON comment after it must match its last stdout line
//                           ('…' in a documented string stands for any text); `-s` is allowed
//   placeholders            `<id>` is filled from an earlier command's JSON `id`; `sk_live_…` from an
//                           earlier command's printed string that starts with sk_live_
//   curl [-i|-s] [-H H] URL # STATUS …  answered with STATUS (no comment: any 2xx); a JSON body after
//                           it must equal the answer's body;
//                           `problem+json` and `Header: value` after it are checked on the answer (the
//                           header must contain that value)
//   open URL                answered with 200
//
// Usage: node scripts/check-quick-start.mjs [--no-install] [--readme FILE]
// Exit status 0 when every command checked out, 1 otherwise. Prints `[quick-start] …` lines.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const readmePath = args.includes('--readme') ? resolve(args[args.indexOf('--readme') + 1]) : join(ROOT, 'README.md');
const skipInstall = args.includes('--no-install');
const BOOT_MS = Number(process.env.QUICK_START_BOOT_MS ?? 120_000);
const STOP_MS = 30_000;
const COMMAND_MS = 120_000;

let failures = 0;
const say = (message) => console.log(`[quick-start] ${message}`);
const ok = (message) => say(`ok: ${message}`);
const fail = (message) => {
  failures++;
  say(`FAILED: ${message}`);
};

// ---- parse the README -------------------------------------------------------------------------------

/** The fenced blocks of the `## Quick start` section, each as its lines. */
export function quickStartBlocks(markdown) {
  const lines = markdown.split(/\r?\n/);
  const start = lines.findIndex((line) => /^##\s+Quick start\s*$/i.test(line));
  if (start < 0) throw new Error('README has no "## Quick start" heading');
  const blocks = [];
  let current = null;
  for (const line of lines.slice(start + 1)) {
    if (current === null && /^#{1,2}\s/.test(line)) break; // the next section
    const fence = /^\s*(```|~~~)\s*([\w-]*)/.exec(line);
    if (fence) {
      if (current === null) current = { lang: fence[2] || '', lines: [] };
      else {
        blocks.push(current);
        current = null;
      }
      continue;
    }
    current?.lines.push(line);
  }
  if (current) throw new Error('an unclosed fenced block under "## Quick start"');
  return blocks.filter((block) => ['', 'bash', 'sh', 'shell', 'console'].includes(block.lang));
}

/** Splits `cmd args  # comment` into words and the comment; `a && b` into two commands. */
export function parseLine(line) {
  const text = line.replace(/^\s*\$\s+/, '').trim();
  if (!text || text.startsWith('#')) return [];
  const hash = text.search(/\s#(\s|$)/);
  const command = (hash < 0 ? text : text.slice(0, hash)).trim();
  const comment = hash < 0 ? '' : text.slice(hash).replace(/^\s*#\s*/, '').trim();
  return command.split(/\s*&&\s*/).map((part, i, parts) => ({
    words: splitWords(part),
    // The comment describes the line's last command.
    comment: i === parts.length - 1 ? comment : '',
    source: line.trim(),
  }));
}

/** Shell words, with '…' and "…" quoting (no escapes or expansions: the README has none). */
export function splitWords(text) {
  const words = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const match of text.matchAll(pattern)) words.push(match[1] ?? match[2] ?? match[3]);
  return words;
}

/** Recognises one command: { kind, … } or { kind: 'unknown' }. */
export function classify({ words, comment, source }) {
  const base = { source, comment, words };
  // npm's own output flags (`npm run -s cli`) change nothing that is checked here.
  const npmFlags = ['-s', '--silent', '-q', '--quiet'];
  const effective = words[0] === 'npm' ? words.filter((word, i) => i === 0 || !npmFlags.includes(word)) : words;
  const [tool, verb, ...rest] = effective;
  // Environment assignments (`FOO=bar npm start`) are not part of the quick start.
  if (tool && /^[A-Z_][A-Z0-9_]*=/.test(tool)) return { kind: 'unknown', ...base };
  if (tool === 'npm') {
    if (['install', 'i', 'ci'].includes(verb) && rest.length === 0) return { kind: 'install', ...base };
    if (verb === 'start' || (verb === 'run' && rest[0] === 'start' && rest.length === 1))
      return { kind: 'start', script: 'start', ...base };
    if (verb === 'test' || verb === 't' || (verb === 'run' && rest[0] === 'test' && rest.length === 1))
      return { kind: 'test', script: 'test', ...base };
    if ((verb === 'run' || verb === 'run-script') && rest[0] && !rest[0].startsWith('-'))
      return { kind: 'run', script: rest[0], argv: words.slice(1), ...base };
  }
  if (tool === 'curl') {
    // -i/-s/-S/-v change only what curl prints; -H adds a header. Any other flag is not known here.
    const headers = [];
    let url;
    let known = true;
    for (let i = 1; i < words.length; i++) {
      const word = words[i];
      if (['-i', '-s', '-S', '-v', '-si', '-is', '--include', '--silent'].includes(word)) continue;
      if ((word === '-H' || word === '--header') && words[i + 1]) headers.push(words[++i]);
      else if (/^https?:\/\//.test(word) && !url) url = word;
      else known = false;
    }
    const status = /^(\d{3})\b/.exec(comment);
    // No status in the comment: any 2xx.
    if (url && known)
      return { kind: 'http', url, headers, status: status ? Number(status[1]) : '2xx', expect: status ? comment.slice(3).trim() : '', ...base };
  }
  if ((tool === 'open' || tool === 'xdg-open') && /^https?:\/\//.test(verb ?? '') && rest.length === 0)
    return { kind: 'http', url: verb, headers: [], status: 200, expect: '', ...base };
  return { kind: 'unknown', ...base };
}

// ---- helpers ----------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function portFree(port, host) {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, host, () => server.close(() => resolvePort(true)));
  });
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function answers(port, host) {
  return new Promise((resolveAnswer) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolveAnswer(true);
    });
    socket.once('error', () => resolveAnswer(false));
  });
}

/** A minimal environment, as on a fresh checkout: nothing of the demo's configuration. */
function cleanEnv(extra) {
  const keep = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'TMPDIR', 'TZ', 'CI'];
  const env = {};
  for (const name of keep) if (process.env[name] !== undefined) env[name] = process.env[name];
  for (const [name, value] of Object.entries(process.env)) if (/^npm_config_/i.test(name)) env[name] = value;
  return { ...env, ...extra };
}

function spawnNpm(argv, env, { detached = false } = {}) {
  const child = spawn('npm', argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached });
  let output = '';
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => (output += chunk));
  // 'exit', not 'close': a process left behind holding the pipes must not hide npm's own exit.
  const exited = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
  // Output after exit, for the messages.
  const closed = new Promise((resolveClose) => child.once('close', resolveClose));
  child.once('error', (error) => (output += `\n${error.message}`));
  return { child, exited, closed, output: () => output, stdout: () => stdout };
}

async function runNpm(argv, env, timeoutMs) {
  const run = spawnNpm(argv, env, { detached: true });
  const timer = setTimeout(() => {
    try {
      process.kill(-run.child.pid, 'SIGKILL');
    } catch {}
  }, timeoutMs);
  const result = await run.exited;
  await Promise.race([run.closed, sleep(2_000)]);
  clearTimeout(timer);
  return { ...result, output: run.output(), stdout: run.stdout() };
}

/**
 * Whether `actual` has what the README documents: every documented key with its value, where a string
 * with '…' in it stands for any text there (`"sk_live_…"`: a string that starts with sk_live_).
 */
export function matchesDocumented(actual, documented) {
  if (typeof documented === 'string' && documented.includes('…')) {
    const pattern = documented.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
    return typeof actual === 'string' && new RegExp(`^${pattern}$`, 's').test(actual);
  }
  if (documented && typeof documented === 'object' && !Array.isArray(documented))
    return !!actual && typeof actual === 'object' && Object.entries(documented).every(([k, v]) => matchesDocumented(actual[k], v));
  return isDeepStrictEqual(actual, documented);
}

/**
 * Fills the README's placeholders from what earlier commands printed (newest first): `<id>` is the `id`
 * of an earlier JSON answer; `sk_live_…` is an earlier answer's string that starts with sk_live_.
 */
export function fillPlaceholders(word, outputs) {
  const strings = (value) =>
    value && typeof value === 'object' ? Object.values(value).flatMap(strings) : typeof value === 'string' ? [value] : [];
  let missing = null;
  const filled = word
    .replace(/<([\w-]+)>/g, (placeholder, name) => {
      const found = outputs.findLast((output) => output && typeof output === 'object' && output[name] !== undefined);
      if (!found) missing = placeholder;
      return found ? String(found[name]) : placeholder;
    })
    .replace(/([\w-]+)…/g, (placeholder, prefix) => {
      const found = outputs.flatMap(strings).findLast((value) => value.startsWith(prefix) && value.length > prefix.length);
      if (!found) missing = placeholder;
      return found ?? placeholder;
    });
  return { filled, missing };
}

const tail = (text, n = 30) => text.trimEnd().split('\n').slice(-n).join('\n');

// ---- the check --------------------------------------------------------------------------------------

async function main() {
  let commands;
  try {
    const blocks = quickStartBlocks(readFileSync(readmePath, 'utf8'));
    if (blocks.length === 0) throw new Error('no shell block under "## Quick start"');
    commands = blocks.flatMap((block) => block.lines.flatMap(parseLine)).map(classify);
  } catch (error) {
    fail(`reading ${readmePath}: ${error.message}`);
    return;
  }
  say(`${commands.length} commands in the README's quick start`);

  const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts ?? {};
  for (const command of commands) {
    if (command.kind === 'unknown')
      fail(`\`${command.source}\`: a command this check does not know; teach scripts/check-quick-start.mjs to verify it`);
    else if (command.script && !scripts[command.script])
      fail(`\`${command.source}\`: package.json has no "${command.script}" script`);
  }
  const start = commands.find((command) => command.kind === 'start');
  if (!start) fail('the quick start has no `npm start`');
  const test = commands.find((command) => command.kind === 'test');
  if (!test) fail('the quick start has no `npm test`');
  else if (scripts.test) {
    const ciRun = existsSync(join(ROOT, '.ci/run')) ? readFileSync(join(ROOT, '.ci/run'), 'utf8') : '';
    if (/^\s*npm test\b/m.test(ciRun)) ok('`npm test`: not run here, .ci/run runs it (REQUIRE_SERVICES=1)');
    else fail('`npm test` is the README\'s test command but .ci/run does not call it');
  }
  if (failures > 0 || !start) return;

  // npm install
  if (commands.some((command) => command.kind === 'install')) {
    if (skipInstall) say('npm install: skipped (--no-install); CI\'s `npm ci` installed from the lockfile');
    else {
      const result = await runNpm(['install', '--prefer-offline', '--no-audit', '--no-fund'], cleanEnv({}), 300_000);
      if (result.code === 0) ok('`npm install` (--prefer-offline)');
      else return fail(`\`npm install\` exited ${result.code ?? result.signal}:\n${tail(result.output)}`);
    }
  }

  // npm start: the documented address, or a free port when that one is taken here.
  const documented = commands.filter((command) => command.kind === 'http').map((command) => new URL(command.url));
  const documentedUrl = documented[0] ?? new URL('http://127.0.0.1:3000');
  const host = documentedUrl.hostname.replace(/^\[|\]$/g, '');
  let port = Number(documentedUrl.port || 80);
  const extra = {};
  if (!(await portFree(port, host))) {
    port = await freePort();
    extra.PORT = String(port);
    say(`port ${documentedUrl.port} is taken on this machine: running the demo with PORT=${port}`);
  }
  const rewrite = (url) => {
    const u = new URL(url);
    if (u.hostname === documentedUrl.hostname && u.port === documentedUrl.port) u.port = String(port);
    return u.toString();
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'quick-start-'));
  const env = cleanEnv({ DATA_DIR: join(dataDir, 'data'), ...extra });
  const demo = spawnNpm(['start'], env, { detached: true });
  let exitedEarly = null;
  demo.exited.then((result) => (exitedEarly = result));
  const killGroup = () => {
    try {
      process.kill(-demo.child.pid, 'SIGKILL');
    } catch {}
  };

  try {
    const healthUrl = rewrite(new URL('/health', documentedUrl).toString());
    const started = Date.now();
    let up = false;
    while (Date.now() - started < BOOT_MS && !exitedEarly) {
      try {
        if ((await fetch(healthUrl, { signal: AbortSignal.timeout(5_000) })).status === 200) {
          up = true;
          break;
        }
      } catch {}
      await sleep(250);
    }
    if (!up) {
      const why = exitedEarly ? `exited ${exitedEarly.code ?? exitedEarly.signal}` : `no 200 within ${BOOT_MS} ms`;
      return fail(`\`npm start\`: /health ${why}:\n${tail(demo.output())}`);
    }
    ok(`\`npm start\`: /health 200 after ${((Date.now() - started) / 1000).toFixed(1)} s (no DATABASE_URL, no REDIS_URL)`);

    // The commands after `npm start`, in the README's order, each against the running demo.
    const outputs = [];
    for (const command of commands.filter((c) => c.kind === 'http' || c.kind === 'run')) {
      const fill = (word) => {
        const { filled, missing } = fillPlaceholders(word, outputs);
        if (missing) throw new Error(`nothing printed before it gives a value for ${missing}`);
        return filled;
      };
      try {
        if (command.kind === 'run') {
          const argv = command.argv.map(fill);
          const result = await runNpm(argv, env, COMMAND_MS);
          const lines = result.stdout.split('\n').filter((line) => line.trim());
          let json;
          try {
            json = JSON.parse(lines.at(-1) ?? '');
          } catch {}
          outputs.push(json);
          const problems = [];
          if (result.code !== 0) problems.push(`exit ${result.code ?? result.signal}`);
          if (command.comment.startsWith('{')) {
            let documented;
            try {
              documented = JSON.parse(command.comment);
            } catch {
              problems.push(`the README's output is not JSON: ${command.comment}`);
            }
            if (documented !== undefined && !matchesDocumented(json, documented))
              problems.push(`printed ${lines.at(-1) ?? '(nothing)'}, not ${command.comment}`);
          }
          if (problems.length) fail(`\`${command.source}\`: ${problems.join('; ')}\n${tail(result.output)}`);
          else ok(`\`npm ${command.argv.join(' ')}\` while the demo runs: exit 0${command.comment.startsWith('{') ? `, ${command.comment}` : ''}`);
          continue;
        }
        const url = rewrite(command.url);
        const headers = {};
        for (const header of command.headers.map(fill)) {
          const colon = header.indexOf(':');
          headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
        }
        const response = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
        const body = await response.text();
        const problems = [];
        if (command.status === '2xx' ? response.status < 200 || response.status > 299 : response.status !== command.status)
          problems.push(`status ${response.status}, not ${command.status}: ${body.slice(0, 200)}`);
        const expect = command.expect.replace(/^[\s,]+/, '');
        if (expect.startsWith('{')) {
          let documentedBody;
          try {
            documentedBody = JSON.parse(expect);
          } catch {
            problems.push(`the README's body is not JSON: ${expect}`);
          }
          let actual;
          try {
            actual = JSON.parse(body);
          } catch {}
          if (documentedBody !== undefined && !isDeepStrictEqual(actual, documentedBody))
            problems.push(`body ${body.slice(0, 200)}, not ${expect}`);
        } else {
          for (const part of expect.split(/,\s*/)) {
            if (part === 'problem+json') {
              if (!/application\/problem\+json/.test(response.headers.get('content-type') ?? ''))
                problems.push(`content-type ${response.headers.get('content-type')}, not problem+json`);
            }
            const header = /^([A-Za-z][A-Za-z0-9-]*):\s*(.+)$/.exec(part);
            // The README names the first challenge or value; the answer may carry more.
            if (header && !(response.headers.get(header[1]) ?? '').includes(header[2]))
              problems.push(`${header[1]}: ${response.headers.get(header[1])}, without ${header[2]}`);
          }
        }
        if (problems.length) fail(`\`${command.source}\`: ${problems.join('; ')}`);
        else ok(`\`${command.words.join(' ')}\` → ${response.status}${expect ? ` ${expect}` : ''}`);
      } catch (error) {
        fail(`\`${command.source}\`: ${error.message}`);
      }
    }

    // SIGTERM to `npm start` itself, as a process manager sends it.
    process.kill(demo.child.pid, 'SIGTERM');
    const stopped = await Promise.race([demo.exited, sleep(STOP_MS).then(() => null)]);
    if (!stopped) return fail(`\`npm start\` did not exit within ${STOP_MS / 1000} s of SIGTERM:\n${tail(demo.output())}`);
    let lingering = await answers(port, host);
    for (let i = 0; lingering && i < 20; i++) {
      await sleep(500);
      lingering = await answers(port, host);
    }
    if (lingering)
      fail(
        `\`npm start\` exited (${stopped.code ?? stopped.signal}) on SIGTERM but the demo still answers on port ${port}: ` +
          `the signal did not reach it (the start script's shell does not pass it on; \`exec node …\` in the script would)`,
      );
    else if (stopped.code !== 0) fail(`\`npm start\` exited ${stopped.code ?? stopped.signal} on SIGTERM, not 0:\n${tail(demo.output())}`);
    else ok('SIGTERM: `npm start` exited 0 and the demo stopped');
  } finally {
    killGroup();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (error) {
  fail(error.stack ?? String(error));
}
say(failures === 0 ? 'all quick-start commands check out' : `${failures} problem(s)`);
process.exit(failures === 0 ? 0 : 1);
