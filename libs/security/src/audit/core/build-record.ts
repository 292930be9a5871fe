import { randomUUID } from 'node:crypto';
import type { SecurityEventInput, SecurityEventRecord } from '../security-event-types.js';
import { redactSecrets } from './redact.js';

/**
 * Turns what a feature reports into the record that is logged, chained and stored: identity, time,
 * request fields, and details redacted and passed through JSON once, so that the hashed record is exactly
 * what jsonb and the spill file give back (no undefined, NaN or Infinity that would read back differently).
 */
export function buildSecurityEventRecord(input: SecurityEventInput, nowMs: number): SecurityEventRecord {
  const details = JSON.parse(
    JSON.stringify(redactSecrets({ ...input.details, ...(input.actor ? { actor: input.actor } : {}) })),
  ) as Record<string, unknown>;
  return {
    id: randomUUID(),
    at: new Date(nowMs),
    type: input.type,
    outcome: input.outcome,
    principalId: input.principalId ?? null,
    keyId: input.keyId ?? null,
    ip: input.request?.ip ?? null,
    userAgent: input.request?.userAgent ?? null,
    method: input.request?.method ?? null,
    path: input.request?.path ?? null,
    status: input.status ?? null,
    requestId: input.request?.requestId ?? null,
    details,
  };
}
