import { DocumentEntity } from './documents/document.entity.js';
import { DemoDocuments1764600000000 } from './documents/migrations/1764600000000-demo-documents.js';
import { PaymentEntity } from './payments/payment.entity.js';
import { DemoPayments1764600100000 } from './payments/migrations/1764600100000-demo-payments.js';

/** The demo's own tables, next to the library's. */
export const DEMO_ENTITIES = [DocumentEntity, PaymentEntity] as const;
/** The demo's migrations; they run after the library's. */
export const DEMO_MIGRATIONS = [DemoDocuments1764600000000, DemoPayments1764600100000] as const;
