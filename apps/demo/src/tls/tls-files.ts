import type { LoggerService } from '@nestjs/common';
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { secureTlsOptions, type SecureTlsOptions } from '@app/security';
import { DemoConfigError, type DemoConfig } from '../config/demo-config.js';

const EXPIRY_WARNING_MS = 14 * 86_400_000;

/**
 * Reads `TLS_CERT` and `TLS_KEY` and returns the server's TLS options (`secureTlsOptions`: TLS 1.2+, AEAD
 * suites with forward secrecy), the handshake limited to `HTTP_HEADERS_TIMEOUT`. Fails with the variable's
 * name when a file is unreadable or the key does not belong to the certificate; warns when the key file is
 * readable by others or the certificate expires within 14 days.
 */
export async function readTlsOptions(
  config: DemoConfig,
  logger: Pick<LoggerService, 'warn'>,
  now: Date = new Date(),
): Promise<SecureTlsOptions> {
  const { certFile, keyFile } = config.tls!;
  const cert = await readPem('TLS_CERT', certFile);
  const key = await readPem('TLS_KEY', keyFile);
  const mode = (await stat(keyFile)).mode & 0o777;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    logger.warn(`TLS_KEY ${keyFile} is readable by other users (mode ${mode.toString(8)}); chmod 600 it`);
  }
  let options: SecureTlsOptions;
  try {
    options = secureTlsOptions({ cert, key, handshakeTimeoutMs: config.serverTimeouts.headersTimeoutMs });
    // Fails here, with the variables named, instead of inside the adapter with OpenSSL's words only.
    createSecureContext(options);
  } catch (error) {
    throw new DemoConfigError(
      `TLS_CERT ${certFile} and TLS_KEY ${keyFile} cannot be used: ${(error as Error).message} ` +
        '(PEM files, the key belonging to the certificate; `npm run dev-cert` writes a pair for development)',
    );
  }
  const validTo = new X509Certificate(cert).validTo;
  const remainingMs = Date.parse(validTo) - now.getTime();
  if (remainingMs < EXPIRY_WARNING_MS) {
    logger.warn(
      remainingMs <= 0
        ? `TLS_CERT ${certFile} expired on ${validTo}; clients will refuse it`
        : `TLS_CERT ${certFile} expires on ${validTo}; renew it`,
    );
  }
  return options;
}

async function readPem(name: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new DemoConfigError(
      `${name} ${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}
