import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readDemoConfig } from './config/demo-config.js';
import { createDemoApp } from './create-app.js';

async function bootstrap(): Promise<void> {
  const config = readDemoConfig();
  const demo = await createDemoApp(config);
  await demo.listen();
  const scheme = config.tls ? 'HTTPS, TLS 1.2 and 1.3 only' : 'plain HTTP';
  Logger.log(`listening on ${await demo.app.getUrl()} (${config.adapter}, ${scheme}); OpenAPI at /docs`, 'Demo');
  if (config.httpRedirect && demo.redirect) {
    const { port } = demo.redirect.address() as AddressInfo;
    Logger.log(`redirecting plain HTTP on port ${port} to ${config.httpRedirect.publicOrigin}`, 'Demo');
  }
  if (!config.tls && config.nodeEnv === 'production') {
    Logger.warn(
      'TLS_CERT and TLS_KEY are not set: serving plain HTTP (fine only behind a TLS-terminating proxy)',
      'Demo',
    );
  }

  // Graceful shutdown: stop accepting, let in-flight requests finish (app.close waits for them), then
  // close the database. A second signal exits at once.
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1);
    closing = true;
    Logger.log(`${signal}: finishing in-flight requests, then closing`, 'Demo');
    drain(demo.app.getHttpServer() as Server, config.shutdownTimeoutMs)
      .then(() => demo.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          Logger.error(error, 'Demo');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

/**
 * Stops accepting connections, closes idle keep-alive ones, and resolves once every in-flight request
 * has been answered (or after `timeoutMs`, when the rest are cut).
 */
function drain(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), timeoutMs).unref();
    // A keep-alive connection becomes idle once its response is written; close those as they appear.
    const sweep = setInterval(() => server.closeIdleConnections(), 100).unref();
    server.close(() => {
      clearTimeout(force);
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}

await bootstrap();
