import { Logger, VERSION_NEUTRAL, VersioningType, type INestApplication, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Server } from 'node:http';
import {
  applyServerTimeouts,
  startEmbeddedPostgres,
  EMBEDDED_POOL_SIZE,
  type EmbeddedPostgres,
  type SecureTlsOptions,
} from '@app/security';
import { AppModule, type DemoDatabase } from './app.module.js';
import type { DemoConfig } from './config/demo-config.js';
import { createRedirectServer } from './tls/redirect-server.js';
import { readTlsOptions } from './tls/tls-files.js';

/** A created (not yet listening) demo app and what must be closed with it. */
export interface DemoApp {
  readonly app: INestApplication;
  readonly embedded?: EmbeddedPostgres;
  /** The plain-HTTP listener that only redirects to `PUBLIC_ORIGIN` (`HTTP_REDIRECT_PORT`), when configured. */
  readonly redirect?: Server;
  /**
   * Starts listening: the app on `port`/`host` (default `PORT`/`HOST`), then the redirect listener on
   * `HTTP_REDIRECT_PORT` and the same host.
   */
  listen(port?: number, host?: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the database (embedded when no `DATABASE_URL`), builds the Nest app on the configured adapter
 * (HTTPS when `TLS_CERT`/`TLS_KEY` are set), applies the server timeouts, and mounts the OpenAPI document.
 * Used by `main.ts` and by the e2e suites.
 */
export async function createDemoApp(
  config: DemoConfig,
  options: { logger?: LoggerService | false } = {},
): Promise<DemoApp> {
  const logger = new Logger('Demo');
  // Read before anything starts: a missing or unreadable certificate fails the boot at once.
  const tls = config.tls ? await readTlsOptions(config, logger) : undefined;
  let embedded: EmbeddedPostgres | undefined;
  let database: DemoDatabase;
  if (config.databaseUrl) {
    database = { url: config.databaseUrl, poolSize: 10, embedded: false };
  } else {
    // borrow: false — the demo waits for a CLI that has the database open instead of depending on it.
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, logger, borrow: false });
    database = { url: embedded.url, poolSize: EMBEDDED_POOL_SIZE, embedded: true };
    logger.warn(
      `DATABASE_URL is not set: using the embedded PostgreSQL (PGlite) in ${config.dataDir}. ` +
        'Embedded mode is for local development only; set DATABASE_URL in production.',
    );
  }
  if (!config.redisUrl) {
    logger.warn('REDIS_URL is not set: rate limits, nonces and caches are in memory, per instance.');
  }
  let app: INestApplication | undefined;
  try {
    const created = await NestFactory.create(AppModule.forRoot(config, database), httpAdapter(config, tls), {
      logger: options.logger,
      bufferLogs: false,
      // SecurityModule reads every body itself, under its size and shape limits, and keeps the exact bytes
      // that signatures cover; Nest's own parsers would read first.
      bodyParser: false,
      // Express builds its server from these; Fastify was given them in its adapter.
      ...(tls && config.adapter === 'express' ? { httpsOptions: tls } : {}),
    });
    app = created;
    // `/v1/items`, `/v2/items`: URI versions; every route without a version stays where it is.
    created.enableVersioning({ type: VersioningType.URI, defaultVersion: VERSION_NEUTRAL });
    // Before listening: Node reads the timeout checking interval when the server starts listening.
    applyServerTimeouts(created.getHttpServer() as Server, config.serverTimeouts);
    const redirect = config.httpRedirect ? createRedirectServer(config.httpRedirect.publicOrigin) : undefined;
    if (redirect) applyServerTimeouts(redirect, config.serverTimeouts);
    mountOpenApi(created);
    return {
      app: created,
      embedded,
      redirect,
      listen: async (port = config.port, host = config.host) => {
        await created.listen(port, host);
        if (redirect && config.httpRedirect) {
          await new Promise<void>((resolve, reject) => {
            redirect.once('error', reject);
            redirect.listen(config.httpRedirect!.port, host, () => {
              redirect.off('error', reject);
              resolve();
            });
          });
        }
      },
      close: async () => {
        if (redirect?.listening) {
          // Its answers are immediate and close their connection: nothing in flight is worth waiting for.
          const closed = new Promise<void>((resolve) => redirect.close(() => resolve()));
          redirect.closeAllConnections();
          await closed;
        }
        await created.close();
        await embedded?.close();
      },
    };
  } catch (error) {
    await app?.close();
    await embedded?.close();
    throw error;
  }
}

// Fastify builds its server when the adapter is created, so TLS options go to the adapter; Express gets
// them through Nest's `httpsOptions`.
function httpAdapter(config: DemoConfig, tls: SecureTlsOptions | undefined): ExpressAdapter | FastifyAdapter {
  if (config.adapter === 'express') return new ExpressAdapter();
  return tls ? new FastifyAdapter({ trustProxy: false, https: { ...tls } }) : new FastifyAdapter({ trustProxy: false });
}

function mountOpenApi(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('nest-api-security demo')
      .setDescription(
        'A sample API protected by nest-api-security. Every route needs credentials unless marked public.',
      )
      .setVersion('0.1.0')
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'sk_live_… API key' }, 'ApiKey')
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'OAuth 2.0 access token' },
        'OAuth',
      )
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'Session token from POST /login (sess_…)' },
        'Session',
      )
      .addSecurity('Signature', {
        type: 'apiKey',
        in: 'header',
        name: 'Authorization',
        description:
          'A signed request: AWS Signature Version 4 (`Authorization: AWS4-HMAC-SHA256 …`), the seed HMAC ' +
          'scheme (`X-Key-Id`, `X-Signature`, …) or RFC 9421 (`Signature-Input`, `Signature`)',
      })
      .addSecurityRequirements('ApiKey')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
