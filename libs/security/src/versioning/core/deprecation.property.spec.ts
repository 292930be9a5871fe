import fc from 'fast-check';
import { SecurityConfigError } from '../../core/errors.js';
import { deprecationHeaders, parseDeprecation, phaseAt, type DeprecationSpec } from './deprecation.js';

const MIN = Date.UTC(2000, 0, 1);
const MAX = Date.UTC(2100, 0, 1);
const instantMs = fc.integer({ min: MIN, max: MAX }).map((ms) => Math.floor(ms / 1000) * 1000);
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
// Instants as people write them: valid, impossible dates, no zone, other formats, garbage.
const instantish = fc.oneof(
  instantMs.map(iso),
  instantMs.map((ms) => new Date(ms)),
  fc.constantFrom(
    '2027-02-30T00:00:00Z',
    '2027-01-01T24:00:00Z',
    '2027-01-01T00:00:60Z',
    '2027-01-01T00:00:00',
    '2027-01-01',
  ),
  fc.constantFrom(
    '2027-01-01T00:00+99:99',
    '0000-01-01T00:00Z',
    '2027-13-01T00:00Z',
    'Fri, 01 Jan 2027 00:00:00 GMT',
    '',
  ),
  fc.constant(new Date(Number.NaN)),
  fc.string({ maxLength: 25 }),
  fc.anything({ maxDepth: 1 }),
);
const mostly = <T, U>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 8, arbitrary: valid }, { weight: 1, arbitrary: other });
const link = mostly(
  fc.constantFrom('https://example.com/migrate', '/docs/v2', 'http://a.b/c?d=e'),
  fc.oneof(
    fc.constantFrom(
      '//evil.example',
      'javascript:alert(1)',
      'https://exa mple.com',
      'https://a.com/<x>',
      'https://',
      '',
    ),
    fc.webUrl(),
    fc.string({ maxLength: 15 }),
  ),
);
// Mostly valid instants in one order, so that every check is reached; sometimes anything.
const ordered = fc.uniqueArray(instantMs, { minLength: 8, maxLength: 8 }).map((times) => times.sort((a, b) => a - b));
const spec = ordered.chain(([deprecatedAt, warning, b1, b2, b3, b4, closed, sunset]) => {
  const at = (ms: number) => mostly(fc.constantFrom(iso(ms), new Date(ms)), instantish);
  const optional = <T>(value: fc.Arbitrary<T>) => fc.option(value, { nil: undefined, freq: 3 });
  return fc
    .record({
      deprecatedAt: at(deprecatedAt!),
      sunsetAt: at(sunset!),
      link,
      successor: optional(link),
      warningFrom: optional(at(warning!)),
      closedToNewClientsAt: optional(at(closed!)),
      brownouts: optional(
        mostly(
          fc.shuffledSubarray([
            `${iso(b1!)}/${iso(b2!)}`,
            { start: new Date(b3!), end: iso(b4!) },
            `${iso(b2!)} / ${iso(b3!)}`,
            `${iso(b1!)}/${iso(b4!)}`,
          ] as const),
          fc.array(
            fc.oneof(
              fc.tuple(instantish, instantish).map(([a, b]) => `${String(a)}/${String(b)}`),
              fc.record({ start: instantish, end: instantish }),
              fc.anything({ maxDepth: 1 }),
            ),
            { maxLength: 3 },
          ),
        ),
      ),
      extra: fc.option(fc.anything({ maxDepth: 0 }), { nil: undefined, freq: 10 }),
    })
    .map(({ extra, ...value }) => (extra === undefined ? value : { ...value, extra }));
});

describe('parseDeprecation (fast-check, fixed seeds)', () => {
  it('answers any lifecycle with an ordered, frozen lifecycle or SecurityConfigError', () => {
    fc.assert(
      fc.property(spec, (value) => {
        let lifecycle;
        try {
          lifecycle = parseDeprecation(value as unknown as DeprecationSpec, '@Deprecated');
        } catch (error) {
          expect(error).toBeInstanceOf(SecurityConfigError);
          return;
        }
        expect(Object.isFrozen(lifecycle)).toBe(true);
        expect(lifecycle.deprecatedAt).toBeLessThanOrEqual(lifecycle.sunsetAt);
        for (const at of [lifecycle.warningFrom, lifecycle.closedToNewClientsAt]) {
          if (at !== undefined) expect(at >= lifecycle.deprecatedAt && at <= lifecycle.sunsetAt).toBe(true);
        }
        let previousEnd = -Infinity;
        for (const window of lifecycle.brownouts) {
          expect(window.start).toBeLessThan(window.end);
          expect(window.start).toBeGreaterThanOrEqual(Math.max(previousEnd, lifecycle.deprecatedAt));
          expect(window.end).toBeLessThanOrEqual(lifecycle.sunsetAt);
          previousEnd = window.end;
        }
        // The headers it leads to are printable ASCII, so they can be sent.
        for (const now of [lifecycle.deprecatedAt - 1, lifecycle.sunsetAt]) {
          for (const header of Object.values(deprecationHeaders(lifecycle, now)))
            expect(header).toMatch(/^[\x20-\x7e]*$/);
          expect(phaseAt(lifecycle, now).phase).toMatch(/^(announced|gone|deprecated|warning|closed|brownout)$/);
        }
      }),
      { seed: 8594, numRuns: 200 },
    );
  });

  it('reads back the instants of a valid lifecycle, as text or Date', () => {
    fc.assert(
      fc.property(fc.uniqueArray(instantMs, { minLength: 4, maxLength: 4 }), fc.boolean(), (times, asDates) => {
        const [deprecatedAt, warningFrom, closedToNewClientsAt, sunsetAt] = [...times].sort((a, b) => a - b) as [
          number,
          number,
          number,
          number,
        ];
        const write = (ms: number) => (asDates ? new Date(ms) : iso(ms));
        const lifecycle = parseDeprecation(
          {
            deprecatedAt: write(deprecatedAt),
            sunsetAt: write(sunsetAt),
            warningFrom: write(warningFrom),
            closedToNewClientsAt: write(closedToNewClientsAt),
            link: '/docs/migrate',
            brownouts: [`${iso(warningFrom)}/${iso(closedToNewClientsAt)}`],
          },
          '@Deprecated',
        );
        expect(lifecycle).toEqual({
          deprecatedAt,
          sunsetAt,
          warningFrom,
          closedToNewClientsAt,
          link: '/docs/migrate',
          brownouts: [{ start: warningFrom, end: closedToNewClientsAt }],
        });
      }),
      { seed: 8595, numRuns: 200 },
    );
  });
});
