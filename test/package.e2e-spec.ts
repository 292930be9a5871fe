import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { EMBEDDED_POOL_SIZE } from '../libs/security/src/persistence/embedded-postgres.js';
import { ROOT } from './support/processes.js';
import { testDatabase, type TestDatabase } from './support/services.js';

// What a user gets from `npm install nest-api-security`: the library is built, packed with `npm pack`
// (its `prepack` builds too), installed from the tarball into an application in the temp directory,
// outside the monorepo, and used there from plain JavaScript (ESM and CommonJS) and type-checked from
// TypeScript. Nothing in that application can reach the monorepo's node_modules or its `@app/security`
// alias. The programs are in test/fixtures/package-smoke/.

const LIBRARY = resolve(ROOT, 'libs/security');
const FIXTURES = resolve(ROOT, 'test/fixtures/package-smoke');
// The npm install dominates: generous for a cold cache or a loaded machine, quick with a warm cache.
const SETUP_TIMEOUT_MS = 180_000;
const RUN_TIMEOUT_MS = 60_000;
// A hung program is killed before the test times out, so its output reaches the failure message.
const PROGRAM_TIMEOUT_MS = RUN_TIMEOUT_MS - 5_000;
// What the example application depends on besides the tarball: the peers, at the versions the
// monorepo is tested with (its lock file), so npm resolves nothing new.
const APP_PACKAGES = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/passport',
  '@nestjs/platform-express',
  'class-transformer',
  'class-validator',
  'passport',
  'pg',
  'reflect-metadata',
  'rxjs',
  'typeorm',
  // For the type check of consumer.mts only.
  '@types/node',
];

const exec = promisify(execFile);

/** The library's manifest, as packed. */
const manifest = JSON.parse(readFileSync(resolve(LIBRARY, 'package.json'), 'utf8')) as {
  exports: Record<string, string | Record<string, string>>;
};

interface PackResult {
  filename: string;
  files: Array<{ path: string }>;
}

/** Runs a command; a failure names the step and carries its output, so the test log says what broke. */
async function run(
  step: string,
  file: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = SETUP_TIMEOUT_MS,
) {
  try {
    return await exec(file, args, {
      cwd,
      env: { ...childEnv(), ...env },
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 32 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout = '', stderr = '', message } = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`package smoke test: ${step} failed: ${message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
  }
}

/**
 * The environment without what `npm test` tells its children about the monorepo (`npm_config_local_prefix`,
 * `npm_package_*`, `npm_lifecycle_*`), which could point the inner npm at it; the rest of the npm
 * configuration (cache, registry, proxy, CA file) passes through.
 */
function childEnv(): NodeJS.ProcessEnv {
  const monorepo = /^npm_(package_|lifecycle_|command$|config_local_prefix$|config_prefix$)/i;
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !monorepo.test(name)));
}

function lockedVersion(name: string): string {
  const lock = JSON.parse(readFileSync(resolve(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  const version = lock.packages[`node_modules/${name}`]?.version;
  if (!version) throw new Error(`${name} is not in the root package-lock.json`);
  return version;
}

/** The one JSON line a fixture program prints that starts with `prefix`. */
function resultLine(stdout: string, prefix: string): any {
  const line = stdout.split('\n').find((candidate) => candidate.startsWith(prefix));
  if (!line) throw new Error(`no result line starting with ${prefix} in:\n${stdout}`);
  return JSON.parse(line);
}

describe('the published package: npm pack, installed outside the monorepo', () => {
  let database: TestDatabase;
  let workDir: string;
  let appDir: string;
  let packed: PackResult;

  beforeAll(async () => {
    database = await testDatabase();
    workDir = await mkdtemp(join(tmpdir(), 'nas-package-'));
    appDir = join(workDir, 'app');

    // Incremental: quick when the library's dist/ is current (other suites build it too).
    await run(
      'building the library',
      process.execPath,
      [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.lib.json'],
      LIBRARY,
    );
    const pack = await run('npm pack', 'npm', ['pack', '--json', '--pack-destination', workDir], LIBRARY);
    [packed] = JSON.parse(pack.stdout) as PackResult[];

    const dependencies: Record<string, string> = { 'nest-api-security': `file:${join(workDir, packed.filename)}` };
    for (const name of APP_PACKAGES) dependencies[name] = lockedVersion(name);
    await mkdir(appDir);
    await writeFile(
      join(appDir, 'package.json'),
      JSON.stringify({ name: 'package-smoke-app', private: true, type: 'module', dependencies }, null, 2),
    );
    for (const file of ['smoke.mjs', 'require.cjs', 'consumer.mts'])
      await copyFile(join(FIXTURES, file), join(appDir, file));
    await copyFile(join(FIXTURES, 'tsconfig.consumer.json'), join(appDir, 'tsconfig.json'));
    await run(
      'npm install in the example app',
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund'],
      appDir,
    );
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await database?.drop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('holds the built library only: no specs, test helpers, demo code or build info', () => {
    const paths = packed.files.map((file) => file.path);
    expect(paths).toContain('package.json');
    expect(paths).toContain('dist/index.js');
    expect(paths).toContain('dist/index.d.ts');
    expect(paths.filter((path) => path !== 'package.json' && !/^(dist\/|README|LICENSE|CHANGELOG)/.test(path))).toEqual(
      [],
    );
    expect(
      paths.filter((path) =>
        /\.(spec|int-spec|e2e-spec|test-helpers)\.|(^|\/)(test|tests|demo)\/|tsbuildinfo/.test(path),
      ),
    ).toEqual([]);
    // Every target of the exports map is in the tarball.
    const targets = Object.values(manifest.exports).flatMap((target) =>
      typeof target === 'string' ? [target] : Object.values(target),
    );
    expect(targets.map((target) => target.replace(/^\.\//, '')).filter((target) => !paths.includes(target))).toEqual(
      [],
    );
    // A file left in dist/ by a source that was since removed would be published: every module has its source.
    const stale = paths
      .filter((path) => path.startsWith('dist/') && path.endsWith('.js'))
      .filter((path) => !existsSync(join(LIBRARY, 'src', path.slice('dist/'.length).replace(/\.js$/, '.ts'))));
    expect(stale, 'stale files in libs/security/dist: delete the folder and build again').toEqual([]);
  });

  it('installs with its peers shared with the application, not nested copies', () => {
    const installed = join(appDir, 'node_modules/nest-api-security');
    expect(existsSync(join(installed, 'dist/index.js'))).toBe(true);
    // One copy of everything whose classes or registries the application and the library share.
    for (const name of APP_PACKAGES) expect(existsSync(join(installed, 'node_modules', name)), name).toBe(false);
  });

  it(
    'resolves every entry of its exports map for import() and require(), to one module instance',
    async () => {
      const { stdout } = await run(
        'node require.cjs',
        process.execPath,
        ['require.cjs'],
        appDir,
        {},
        PROGRAM_TIMEOUT_MS,
      );
      const subpaths = Object.keys(manifest.exports).filter((entry) => entry !== './package.json');
      expect(resultLine(stdout, '{"entries"')).toEqual({
        entries: Object.fromEntries(subpaths.map((subpath) => [subpath, { exports: true, sameInstance: true }])),
        securityModule: 'function',
      });
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'type-checks a TypeScript consumer against the published declarations',
    async () => {
      // The monorepo's compiler, but every import resolves from the example app's node_modules.
      await run(
        'tsc in the example app',
        process.execPath,
        [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'],
        appDir,
        {},
        PROGRAM_TIMEOUT_MS,
      );
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'migrates its own DataSource and guards a Nest app: public 200, anonymous 401 problem, key 200',
    async () => {
      const { stdout } = await run(
        'node smoke.mjs',
        process.execPath,
        ['smoke.mjs'],
        appDir,
        {
          DATABASE_URL: database.url,
          DB_POOL_SIZE: String(database.embedded ? EMBEDDED_POOL_SIZE : 2),
        },
        PROGRAM_TIMEOUT_MS,
      );
      const result = resultLine(stdout, '{"smoke"');
      expect(result.migrations.applied).toBe(result.migrations.available);
      expect(result.migrations.available).toBeGreaterThan(0);
      expect(result.public).toEqual({ status: 200, body: { ok: true } });
      expect(result.anonymous).toEqual({
        status: 401,
        contentType: expect.stringMatching(/^application\/problem\+json/),
        wwwAuthenticate: expect.stringContaining('ApiKey realm="api"'),
        problemStatus: 401,
      });
      expect(result.withKey).toEqual({ status: 200, principalMatches: true });
    },
    RUN_TIMEOUT_MS,
  );
});
