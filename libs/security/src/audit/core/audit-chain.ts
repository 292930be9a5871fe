import { createHash } from 'node:crypto';
import type { SecurityEventRecord } from '../security-event-types.js';

/** `prev_hash` of the first row of a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Hash of one audit row: SHA-256 over the previous row's hash and a canonical JSON of the row, so
 * editing, deleting or reordering any row breaks every hash after it.
 */
export function auditRowHash(prevHash: string, seq: string, record: SecurityEventRecord): string {
  return createHash('sha256')
    .update(prevHash)
    .update('\n')
    .update(canonicalJson({ seq, ...record }))
    .digest('hex');
}

/** JSON with object keys sorted at every depth and dates as ISO strings: one text per value. */
export function canonicalJson(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
