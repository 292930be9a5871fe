import type { INestApplication, LoggerService } from '@nestjs/common';
import { NestFactory, type AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { SecurityConfigError } from '../../src/core/errors.js';
import { OWASP_API_2023 } from '../../src/options/security-lint.js';
import type { SecurityModuleOptions } from '../../src/options/security-options.js';
import { ForRootFixtureModule } from '../module/fixtures.js';

interface TlsPair {
  readonly key: string;
  readonly cert: string;
}

const ADAPTERS: ReadonlyArray<[string, (tls?: TlsPair) => AbstractHttpAdapter]> = [
  ['express', () => new ExpressAdapter()],
  ['fastify', (tls) => new FastifyAdapter(tls ? { https: tls } : undefined)],
];

/**
 * A production app with nothing the lint finds. The fixture has no Redis, so signing is off: with signing on,
 * nonces would live in each instance's memory and `signing-nonces-not-shared` would refuse the boot (that
 * rule has its unit tests). No API key pepper: a missing pepper is a warning of resolveSecurityOptions, not
 * a lint finding (131-bit random secrets hashed with SHA-256 cannot be guessed back).
 */
const PRODUCTION: SecurityModuleOptions = { environment: 'production', signing: false, audit: { log: false } };

/** Collects what the app logs at warn level (the lint's channel). */
class WarningLog implements LoggerService {
  readonly warnings: string[] = [];
  log(): void {}
  error(): void {}
  debug(): void {}
  verbose(): void {}
  fatal(): void {}
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
}

describe.each(ADAPTERS)('boot-time security lint on %s', (_, makeAdapter) => {
  let tls: TlsPair;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 });
    tls = { key: pems.private, cert: pems.cert };
  });
  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
  });

  async function create(options: SecurityModuleOptions, https = false) {
    const log = new WarningLog();
    const adapter = makeAdapter(https ? tls : undefined);
    const app = await NestFactory.create(ForRootFixtureModule.register(options), adapter, {
      logger: log,
      abortOnError: false,
      // Express takes its TLS settings here; Fastify took them in its adapter.
      ...(https && adapter instanceof ExpressAdapter ? { httpsOptions: tls } : {}),
    });
    apps.push(app);
    return { app, log };
  }

  const lintWarnings = (log: WarningLog) => log.warnings.filter((warning) => warning.includes('security lint'));

  it('boots in production when nothing is found, and serves', async () => {
    const { app, log } = await create(PRODUCTION);
    await app.listen(0, '127.0.0.1');
    const port = (app.getHttpServer().address() as AddressInfo).port;
    expect((await fetch(`http://127.0.0.1:${port}/public`)).status).toBe(200);
    expect(lintWarnings(log)).toEqual([]);
  });

  it('refuses to boot in production with rate limiting off, naming the fix and the OWASP item', async () => {
    const { app } = await create({ ...PRODUCTION, rateLimit: false });
    const boot = app.listen(0, '127.0.0.1');
    await expect(boot).rejects.toBeInstanceOf(SecurityConfigError);
    await expect(boot).rejects.toMatchObject({
      code: 'ERR_SECURITY_CONFIG_LINT_RATE_LIMIT_OFF',
      option: 'rateLimit',
      message: expect.stringContaining(OWASP_API_2023.resourceConsumption),
    });
    await expect(boot).rejects.toThrow("To accept the risk on purpose, add 'rate-limit-off' to lint.allow");
    expect(app.getHttpServer().listening).toBe(false);
  });

  it('boots in production with the finding waived in lint.allow, and logs the waiver', async () => {
    const { app, log } = await create({ ...PRODUCTION, rateLimit: false, lint: { allow: ['rate-limit-off'] } });
    await app.listen(0, '127.0.0.1');
    expect(lintWarnings(log)).toEqual([expect.stringContaining('rule rate-limit-off waived by lint.allow')]);
  });

  it('refuses an unknown waiver id', async () => {
    const { app } = await create({ ...PRODUCTION, lint: { allow: ['rate-limits-off'] } });
    await expect(app.init()).rejects.toMatchObject({ code: 'ERR_SECURITY_CONFIG_UNKNOWN_LINT_RULE' });
  });

  it('warns and boots in development with the same setting', async () => {
    const { app, log } = await create({ ...PRODUCTION, environment: 'development', rateLimit: false });
    await app.listen(0, '127.0.0.1');
    expect(lintWarnings(log)).toEqual([expect.stringContaining('security lint rule rate-limit-off')]);
  });

  it('refuses headers.hsts: false in production when the server itself speaks HTTPS', async () => {
    const { app } = await create({ ...PRODUCTION, headers: { hsts: false } }, true);
    await expect(app.init()).rejects.toMatchObject({
      code: 'ERR_SECURITY_CONFIG_LINT_HSTS_OFF_ON_HTTPS',
      option: 'headers.hsts',
      message: expect.stringContaining(OWASP_API_2023.misconfiguration),
    });
  });

  it('boots in production over HTTPS with HSTS on, and over plain HTTP with HSTS off', async () => {
    const secure = await create(PRODUCTION, true);
    await secure.app.init();
    const plain = await create({ ...PRODUCTION, headers: { hsts: false } });
    await plain.app.init();
    expect([...lintWarnings(secure.log), ...lintWarnings(plain.log)]).toEqual([]);
  });
});
