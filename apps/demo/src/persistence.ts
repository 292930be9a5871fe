import { DocumentEntity } from './documents/document.entity.js';
import { DemoDocuments1764600000000 } from './documents/migrations/1764600000000-demo-documents.js';

/** The demo's own tables, next to the library's. */
export const DEMO_ENTITIES = [DocumentEntity] as const;
/** The demo's migrations; they run after the library's. */
export const DEMO_MIGRATIONS = [DemoDocuments1764600000000] as const;
