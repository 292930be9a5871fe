import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * The JSON-lines logger of security events. Redaction by path is a second line of defence; details are
 * already redacted by key name (`redactSecrets`) before they reach it.
 */
export function createSecurityLogger(destination?: DestinationStream): Logger {
  return pino(
    {
      name: 'security',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          'headers.authorization',
          'headers.cookie',
          'headers["x-api-key"]',
          'headers["x-signature"]',
          '*.password',
          '*.secret',
          '*.token',
        ],
        censor: '[REDACTED]',
      },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
