import type { AuditChainHead, StoredAuditEvent } from '../audit-event.store.js';
import { auditRowHash, GENESIS_HASH } from './audit-chain.js';

/** Why a row does not verify. */
export type AuditChainBreak = 'altered' | 'inserted' | 'missing' | 'truncated';

/** The answer of `verifyAuditChain` (and of `audit verify --json`). */
export interface AuditChainVerification {
  readonly ok: boolean;
  /** Rows that verified before the first bad one (all rows when `ok`). */
  readonly checked: number;
  readonly firstBad: { readonly seq: string; readonly reason: AuditChainBreak } | null;
}

/**
 * Walks the trail from seq 1, ascending, recomputing every hash. The first problem found wins:
 * - `missing`: a seq is skipped (a deleted row; for seq 1, the start of the trail is gone);
 * - `inserted`: a row does not point at the previous row's hash, or repeats or goes back in seq
 *   (a row put in, reordered, or a neighbour rewritten together with its own hash);
 * - `altered`: a row's own hash does not match its columns;
 * - `truncated`: `head` was seen earlier (logged) and the trail now ends before `head.seq`, or holds
 *   another row at `head.seq` (newest rows removed, then perhaps re-grown).
 * Pure: the caller streams the rows, e.g. `range()` page by page.
 * @example await verifyAuditChain(rows, { head: { seq: '120', hash: 'ab12…' } })
 */
export async function verifyAuditChain(
  rows: AsyncIterable<StoredAuditEvent> | Iterable<StoredAuditEvent>,
  options: { readonly head?: AuditChainHead } = {},
): Promise<AuditChainVerification> {
  const head = options.head ? { seq: BigInt(options.head.seq), hash: options.head.hash } : undefined;
  let checked = 0;
  let expectedSeq = 1n;
  let prevHash = GENESIS_HASH;
  const broken = (seq: bigint | string, reason: AuditChainBreak): AuditChainVerification => ({
    ok: false,
    checked,
    firstBad: { seq: seq.toString(), reason },
  });

  for await (const row of rows) {
    const seq = BigInt(row.seq);
    if (seq > expectedSeq) return broken(expectedSeq, 'missing');
    if (seq < expectedSeq || row.prevHash !== prevHash) return broken(row.seq, 'inserted');
    const { seq: _seq, prevHash: _prev, hash: _hash, ...record } = row;
    if (auditRowHash(row.prevHash, row.seq, record) !== row.hash) return broken(row.seq, 'altered');
    if (head && seq === head.seq && row.hash !== head.hash) return broken(row.seq, 'truncated');
    checked += 1;
    expectedSeq = seq + 1n;
    prevHash = row.hash;
  }
  if (head && expectedSeq <= head.seq) return broken(head.seq, 'truncated');
  return { ok: true, checked, firstBad: null };
}
