import { Logger, type INestApplication, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { startEmbeddedPostgres, EMBEDDED_POOL_SIZE, type EmbeddedPostgres } from '@app/security';
import { AppModule, type DemoDatabase } from './app.module.js';
import type { DemoConfig } from './config/demo-config.js';

/** A created (not yet listening) demo app and what must be closed with it. */
export interface DemoApp {
  readonly app: INestApplication;
  readonly embedded?: EmbeddedPostgres;
  close(): Promise<void>;
}

/**
 * Opens the database (embedded when no `DATABASE_URL`), builds the Nest app on the configured adapter,
 * and mounts the OpenAPI document. Used by `main.ts` and by the e2e suites.
 */
export async function createDemoApp(
  config: DemoConfig,
  options: { logger?: LoggerService | false } = {},
): Promise<DemoApp> {
  const logger = new Logger('Demo');
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
  const adapter = config.adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter({ trustProxy: false });
  try {
    const app = await NestFactory.create(AppModule.forRoot(config, database), adapter, {
      logger: options.logger,
      bufferLogs: false,
      // SecurityModule reads every body itself, under its size and shape limits, and keeps the exact bytes
      // that signatures cover; Nest's own parsers would read first.
      bodyParser: false,
    });
    mountOpenApi(app);
    return {
      app,
      embedded,
      close: async () => {
        await app.close();
        await embedded?.close();
      },
    };
  } catch (error) {
    await embedded?.close();
    throw error;
  }
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
