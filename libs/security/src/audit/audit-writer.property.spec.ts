import fc from 'fast-check';
import { parseSpilledRecord } from './audit-writer.js';
import type { SecurityEventRecord } from './security-event-types.js';

const text = fc.option(fc.string({ maxLength: 20 }), { nil: null });
const record: fc.Arbitrary<SecurityEventRecord> = fc.record({
  id: fc.uuid(),
  at: fc.date({ noInvalidDate: true }),
  type: fc.constantFrom('AUTH_FAILED', 'API_KEY_CREATED', 'SOMETHING_NEW') as fc.Arbitrary<SecurityEventRecord['type']>,
  outcome: fc.constantFrom('success', 'failure', 'denied') as fc.Arbitrary<SecurityEventRecord['outcome']>,
  principalId: text,
  keyId: text,
  ip: text,
  userAgent: text,
  method: text,
  path: text,
  status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: null }),
  requestId: text,
  details: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
});

describe('parseSpilledRecord (fast-check, fixed seeds)', () => {
  it('reads back every record exactly as it was spilled', () => {
    fc.assert(
      fc.property(record, (event) => {
        const parsed = parseSpilledRecord(JSON.stringify(event));
        // Details are compared as JSON holds them (no -0, no undefined members).
        expect(parsed).toEqual({ ...event, details: JSON.parse(JSON.stringify(event.details)) as unknown });
        expect(parsed!.at).toBeInstanceOf(Date);
        expect(parsed!.at.getTime()).toBe(event.at.getTime());
      }),
      { seed: 5001, numRuns: 200 },
    );
  });

  it('reads any line (truncated, garbage, other JSON) as a well-typed record or null', () => {
    const truncated = record.chain((event) => {
      const line = JSON.stringify(event);
      return fc.nat({ max: line.length }).map((end) => line.slice(0, end));
    });
    const edited = record.chain((event) =>
      fc
        .record({
          field: fc.constantFrom(...(Object.keys(event) as (keyof SecurityEventRecord)[])),
          value: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constant('not a date'), fc.constant(undefined)),
        })
        .map(({ field, value }) => JSON.stringify({ ...event, [field]: value })),
    );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), truncated, edited), (line) => {
        const parsed = parseSpilledRecord(line);
        if (parsed === null) return;
        expect(typeof parsed.id).toBe('string');
        expect(Number.isNaN(parsed.at.getTime())).toBe(false);
        expect(typeof parsed.type).toBe('string');
        expect(typeof parsed.outcome).toBe('string');
        for (const key of ['principalId', 'keyId', 'ip', 'userAgent', 'method', 'path', 'requestId'] as const) {
          expect(parsed[key] === null || typeof parsed[key] === 'string').toBe(true);
        }
        expect(parsed.status === null || typeof parsed.status === 'number').toBe(true);
        expect(typeof parsed.details === 'object' && parsed.details !== null).toBe(true);
      }),
      { seed: 5002, numRuns: 500 },
    );
  });
});
