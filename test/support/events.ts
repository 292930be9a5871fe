import { AuditEventStore, SecurityEvents, type SecurityEventType, type StoredAuditEvent } from '@app/security';
import type { RunningDemo } from './demo-app.js';

/** The security event of one type written for one request (by its request id), read in-process after a flush. */
export async function eventOf(
  server: RunningDemo,
  type: SecurityEventType,
  requestId: string,
): Promise<StoredAuditEvent | undefined> {
  const app = server.demo.app;
  for (let attempt = 0; attempt < 20; attempt++) {
    await app.get(SecurityEvents).flush();
    const events = await app.get(AuditEventStore).query({ type, limit: 1000 });
    const event = events.find((candidate) => candidate.requestId === requestId);
    if (event) return event;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return undefined;
}

/** Every row of the audit trail in `seq` order, a page at a time (for `verifyAuditChain`). */
export async function* auditRows(store: AuditEventStore): AsyncIterable<StoredAuditEvent> {
  let after = '0';
  for (;;) {
    const page = await store.range(after, 500);
    if (page.length === 0) return;
    yield* page;
    after = page[page.length - 1]!.seq;
  }
}
