import { describe, expect, it } from 'vitest';
import { SecurityConfigError } from '../../core/errors.js';
import {
  deprecationHeaders,
  imfFixdate,
  parseDeprecation,
  phaseAt,
  structuredDate,
  type DeprecationLifecycle,
  type DeprecationSpec,
} from './deprecation.js';

const at = (iso: string): number => Date.parse(iso);

const MINIMAL: DeprecationSpec = {
  deprecatedAt: '2027-01-01T00:00:00Z',
  sunsetAt: '2027-07-01T00:00:00Z',
  link: 'https://example.com/migrate',
};

// deprecated → warning (with a brownout) → closed (with a brownout) → a brownout ending at the sunset → gone.
const FULL: DeprecationSpec = {
  ...MINIMAL,
  successor: '/v2/items',
  warningFrom: '2027-02-01T00:00:00Z',
  closedToNewClientsAt: '2027-04-01T00:00:00Z',
  brownouts: [
    '2027-05-01T10:00:00Z/2027-05-01T11:00:00Z',
    { start: '2027-03-01T10:00:00Z', end: '2027-03-01T11:00:00Z' },
    '2027-06-30T23:00:00Z/2027-07-01T00:00:00Z',
  ],
};

function invalid(spec: unknown, option = '@Deprecated'): SecurityConfigError {
  let error: unknown;
  try {
    parseDeprecation(spec as DeprecationSpec, option);
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(SecurityConfigError);
  expect(error).toMatchObject({ code: 'ERR_SECURITY_CONFIG_INVALID_DEPRECATION', option });
  return error as SecurityConfigError;
}

function expectInvalid(spec: unknown, message: RegExp): void {
  const error = invalid(spec);
  expect(error.message.startsWith('@Deprecated: ')).toBe(true);
  expect(error.message).toMatch(message);
}

describe('parseDeprecation', () => {
  it('turns the instants into epoch milliseconds and leaves out the optional fields not given', () => {
    const lifecycle = parseDeprecation(MINIMAL, '@Deprecated');
    expect(lifecycle).toStrictEqual({
      deprecatedAt: Date.UTC(2027, 0, 1),
      sunsetAt: Date.UTC(2027, 6, 1),
      link: 'https://example.com/migrate',
      brownouts: [],
    });
  });

  it('keeps every field of a full lifecycle, with the brownouts of both forms sorted by start', () => {
    expect(parseDeprecation(FULL, '@Deprecated')).toStrictEqual({
      deprecatedAt: Date.UTC(2027, 0, 1),
      sunsetAt: Date.UTC(2027, 6, 1),
      link: 'https://example.com/migrate',
      successor: '/v2/items',
      warningFrom: Date.UTC(2027, 1, 1),
      closedToNewClientsAt: Date.UTC(2027, 3, 1),
      brownouts: [
        { start: Date.UTC(2027, 2, 1, 10), end: Date.UTC(2027, 2, 1, 11) },
        { start: Date.UTC(2027, 4, 1, 10), end: Date.UTC(2027, 4, 1, 11) },
        { start: Date.UTC(2027, 5, 30, 23), end: Date.UTC(2027, 6, 1) },
      ],
    });
  });

  it('returns a frozen lifecycle and does not touch the spec', () => {
    const spec = { ...FULL, brownouts: [...FULL.brownouts!] };
    const lifecycle = parseDeprecation(spec, '@Deprecated');
    expect(Object.isFrozen(lifecycle)).toBe(true);
    expect(Object.isFrozen(lifecycle.brownouts)).toBe(true);
    expect(Object.isFrozen(lifecycle.brownouts[0])).toBe(true);
    expect(spec.brownouts[0]).toBe('2027-05-01T10:00:00Z/2027-05-01T11:00:00Z');
  });

  it.each([
    ['Z', '2027-01-01T00:00:00Z'],
    ['a positive offset', '2027-01-01T02:00:00+02:00'],
    ['a negative offset', '2026-12-31T19:00:00-05:00'],
    ['no seconds', '2027-01-01T00:00Z'],
    ['milliseconds', '2027-01-01T00:00:00.000Z'],
  ])('accepts an ISO 8601 instant with %s', (_label, deprecatedAt) => {
    expect(parseDeprecation({ ...MINIMAL, deprecatedAt }, '@Deprecated').deprecatedAt).toBe(Date.UTC(2027, 0, 1));
  });

  it('keeps the milliseconds of an instant', () => {
    expect(parseDeprecation({ ...MINIMAL, deprecatedAt: '2027-01-01T00:00:00.25Z' }, 'x').deprecatedAt).toBe(
      Date.UTC(2027, 0, 1) + 250,
    );
  });

  it('accepts Date objects for every instant', () => {
    const lifecycle = parseDeprecation(
      {
        deprecatedAt: new Date(Date.UTC(2027, 0, 1)),
        sunsetAt: new Date(Date.UTC(2027, 6, 1)),
        warningFrom: new Date(Date.UTC(2027, 1, 1)),
        closedToNewClientsAt: new Date(Date.UTC(2027, 3, 1)),
        brownouts: [{ start: new Date(Date.UTC(2027, 2, 1)), end: new Date(Date.UTC(2027, 2, 2)) }],
        link: '/docs',
      },
      '@Deprecated',
    );
    expect(lifecycle).toMatchObject({
      deprecatedAt: Date.UTC(2027, 0, 1),
      sunsetAt: Date.UTC(2027, 6, 1),
      warningFrom: Date.UTC(2027, 1, 1),
      closedToNewClientsAt: Date.UTC(2027, 3, 1),
      brownouts: [{ start: Date.UTC(2027, 2, 1), end: Date.UTC(2027, 2, 2) }],
    });
  });

  it('accepts a sunset at the deprecation instant, and optional instants and brownouts on the bounds', () => {
    expect(() => parseDeprecation({ ...MINIMAL, sunsetAt: MINIMAL.deprecatedAt }, 'x')).not.toThrow();
    expect(() =>
      parseDeprecation(
        {
          ...MINIMAL,
          warningFrom: MINIMAL.deprecatedAt,
          closedToNewClientsAt: MINIMAL.sunsetAt,
          brownouts: [`${String(MINIMAL.deprecatedAt)}/${String(MINIMAL.sunsetAt)}`],
        },
        'x',
      ),
    ).not.toThrow();
    expect(() => parseDeprecation({ ...MINIMAL, warningFrom: MINIMAL.sunsetAt }, 'x')).not.toThrow();
    expect(() => parseDeprecation({ ...MINIMAL, closedToNewClientsAt: MINIMAL.deprecatedAt }, 'x')).not.toThrow();
  });

  it('trims the spaces around the two halves of a "start/end" brownout', () => {
    const lifecycle = parseDeprecation(
      { ...MINIMAL, brownouts: [' 2027-03-01T10:00:00Z / 2027-03-01T11:00:00Z '] },
      '@Deprecated',
    );
    expect(lifecycle.brownouts).toEqual([{ start: Date.UTC(2027, 2, 1, 10), end: Date.UTC(2027, 2, 1, 11) }]);
  });

  it('names the option path given, then the fix, in the error', () => {
    const error = invalid({ ...MINIMAL, sunsetAt: '2027-07-01' }, 'deprecations.versions.1');
    expect(error.message).toBe(
      'deprecations.versions.1: sunsetAt must be an ISO 8601 instant with a zone, e.g. 2027-01-31T00:00:00Z, not "2027-07-01"',
    );
  });

  it.each<[string, unknown]>([
    ['a date without a time', '2027-01-01'],
    ['a time without a zone', '2027-01-01T00:00:00'],
    ['a space instead of T', '2027-01-01 00:00:00Z'],
    ['an offset without a colon', '2027-01-01T00:00:00+0200'],
    ['month 13', '2027-13-01T00:00:00Z'],
    ['hour 25', '2027-01-01T25:00:00Z'],
    ['an offset of 99:99', '2027-01-01T00:00:00+99:99'],
    ['a leap second', '2027-01-01T23:59:60Z'],
    ['a date in another format', 'Fri, 01 Jan 2027 00:00:00 GMT'],
    ['a word', 'tomorrow'],
    ['an empty string', ''],
    ['epoch milliseconds', Date.UTC(2027, 0, 1)],
    ['null', null],
    ['nothing', undefined],
  ])('refuses a deprecatedAt of %s', (_label, deprecatedAt) => {
    expectInvalid({ ...MINIMAL, deprecatedAt }, /: deprecatedAt must be an ISO 8601 instant with a zone, e\.g\./);
  });

  // Date.parse alone would roll a day past the end of the month over (2027-02-30 → 2 March).
  it.each([
    '2027-02-30T00:00:00Z',
    '2027-02-29T00:00:00Z',
    '2027-04-31T00:00:00Z',
    '2027-13-01T00:00:00Z',
    '2027-03-01T24:00:00Z',
    '2027-03-01T10:60:00Z',
  ])('refuses the impossible instant %s instead of reading it as another one', (warningFrom) => {
    expectInvalid({ ...MINIMAL, warningFrom }, /warningFrom must be an ISO 8601 instant/);
  });

  it('accepts a leap day', () => {
    const lifecycle = parseDeprecation(
      {
        deprecatedAt: '2028-01-01T00:00:00Z',
        sunsetAt: '2028-07-01T00:00:00Z',
        link: '/d',
        warningFrom: '2028-02-29T12:30:15Z',
      },
      'x',
    );
    expect(lifecycle.warningFrom).toBe(Date.UTC(2028, 1, 29, 12, 30, 15));
  });

  it('refuses overlapping brownouts, in whatever order they are given', () => {
    expectInvalid(
      {
        ...MINIMAL,
        brownouts: ['2027-03-01T10:30:00Z/2027-03-01T12:00:00Z', '2027-03-01T10:00:00Z/2027-03-01T11:00:00Z'],
      },
      /brownouts overlap/,
    );
    const touching = parseDeprecation(
      {
        ...MINIMAL,
        brownouts: ['2027-03-01T10:00:00Z/2027-03-01T11:00:00Z', '2027-03-01T11:00:00Z/2027-03-01T12:00:00Z'],
      },
      'x',
    );
    expect(touching.brownouts).toHaveLength(2);
  });

  it('refuses unknown keys in a brownout object', () => {
    expectInvalid(
      { ...MINIMAL, brownouts: [{ start: MINIMAL.deprecatedAt, end: MINIMAL.sunsetAt, reason: 'x' }] as never },
      /brownouts\[0\] has an unknown key "reason"/,
    );
  });

  it('refuses an invalid Date', () => {
    expectInvalid({ ...MINIMAL, sunsetAt: new Date('nope') }, /^@Deprecated: sunsetAt is an invalid Date$/);
  });

  it.each(['sunsetAt', 'warningFrom', 'closedToNewClientsAt'] as const)('refuses a malformed %s', (name) => {
    expectInvalid({ ...MINIMAL, [name]: '2027-03-01' }, new RegExp(`^@Deprecated: ${name} must be an ISO 8601`));
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['a string', '2027-01-01T00:00:00Z'],
  ])('refuses a spec that is %s', (_label, spec) => {
    expectInvalid(spec, /use \{ deprecatedAt, sunsetAt, link, … \}/);
  });

  it('refuses an unknown key, listing the known ones', () => {
    expectInvalid(
      { ...MINIMAL, sunset: '2027-07-01T00:00:00Z' },
      /unknown key "sunset"; expected one of deprecatedAt, sunsetAt, link, successor, warningFrom, closedToNewClientsAt, brownouts/,
    );
  });

  it('refuses a sunset before the deprecation', () => {
    expectInvalid(
      { ...MINIMAL, sunsetAt: '2026-12-31T23:59:59.999Z' },
      /^@Deprecated: sunsetAt is before deprecatedAt/,
    );
  });

  it.each([
    ['warningFrom', '2026-12-31T23:59:59Z'],
    ['warningFrom', '2027-07-01T00:00:01Z'],
    ['closedToNewClientsAt', '2026-12-31T23:59:59Z'],
    ['closedToNewClientsAt', '2027-07-01T00:00:01Z'],
  ])('refuses a %s of %s, outside deprecatedAt..sunsetAt', (name, value) => {
    expectInvalid({ ...MINIMAL, [name]: value }, new RegExp(`^@Deprecated: ${name} must lie between deprecatedAt`));
  });

  it.each([
    ['that ends when it starts', '2027-03-01T10:00:00Z/2027-03-01T10:00:00Z'],
    ['that ends before it starts', '2027-03-01T11:00:00Z/2027-03-01T10:00:00Z'],
  ])('refuses a brownout %s', (_label, window) => {
    expectInvalid({ ...MINIMAL, brownouts: [window] }, /^@Deprecated: brownouts\[0\] ends before it starts$/);
  });

  it.each([
    ['starting before the deprecation', '2026-12-31T23:00:00Z/2027-01-01T01:00:00Z'],
    ['ending after the sunset', '2027-06-30T23:00:00Z/2027-07-01T00:00:01Z'],
    ['after the sunset', '2027-08-01T00:00:00Z/2027-08-01T01:00:00Z'],
  ])('refuses a brownout %s', (_label, window) => {
    expectInvalid({ ...MINIMAL, brownouts: [window] }, /^@Deprecated: brownouts\[0\] must lie between deprecatedAt/);
  });

  it.each([
    ['no slash', '2027-03-01T10:00:00Z'],
    ['two slashes', '2027-03-01T10:00:00Z/2027-03-01T11:00:00Z/2027-03-01T12:00:00Z'],
    ['a dash instead of a slash', '2027-03-01T10:00:00Z--2027-03-01T11:00:00Z'],
  ])('refuses a "start/end" brownout with %s', (_label, window) => {
    expectInvalid({ ...MINIMAL, brownouts: [window] }, /^@Deprecated: brownouts\[0\] must be "start\/end", e\.g\./);
  });

  it('names the half and the index of a malformed brownout', () => {
    expectInvalid(
      { ...MINIMAL, brownouts: ['2027-03-01T10:00:00Z/2027-03-01T11:00:00Z', '2027-03-02T10:00:00Z/'] },
      /^@Deprecated: brownouts\[1\]\.end must be an ISO 8601 instant/,
    );
    expectInvalid(
      { ...MINIMAL, brownouts: [{ start: '2027-03-02', end: '2027-03-03T00:00:00Z' }] },
      /^@Deprecated: brownouts\[0\]\.start must be an ISO 8601 instant/,
    );
  });

  it('refuses brownouts that are not an array of windows', () => {
    expectInvalid({ ...MINIMAL, brownouts: '2027-03-01T10:00:00Z/2027-03-01T11:00:00Z' }, /brownouts must be an array/);
    expectInvalid({ ...MINIMAL, brownouts: [42] }, /brownouts\[0\] must be "start\/end" or \{ start, end \}/);
    expectInvalid({ ...MINIMAL, brownouts: [null] }, /brownouts\[0\] must be "start\/end" or \{ start, end \}/);
  });

  it.each([
    '/v2/items',
    '/docs#/items',
    '/v2/items?limit=10&page=2',
    'https://example.com/migrate',
    'https://example.com:8443/guide/v1-to-v2#step-2',
    'http://localhost:3000/docs',
    "https://example.com/a'b(c)*!$&+,;=:@~%22",
  ])('accepts the link and successor %s', (target) => {
    const lifecycle = parseDeprecation({ ...MINIMAL, link: target, successor: target }, '@Deprecated');
    expect(lifecycle.link).toBe(target);
    expect(lifecycle.successor).toBe(target);
  });

  it.each<[string, unknown]>([
    ['with a space', 'https://example.com/migration guide'],
    ['with a double quote', 'https://example.com/"x"'],
    ['with a backslash', 'https://example.com/a\\b'],
    ['in angle brackets', '<https://example.com/migrate>'],
    ['ending with >', 'https://example.com/x>; rel="evil"'],
    ['with a line break', 'https://example.com/x\r\nSet-Cookie: a=b'],
    ['with a tab', 'https://example.com/a\tb'],
    ['with a non-ASCII character', 'https://example.com/migración'],
    ['with the javascript: scheme', 'javascript:alert(1)'],
    ['with the data: scheme', 'data:text/html,<b>x</b>'],
    ['with the ftp: scheme', 'ftp://example.com/guide'],
    ['that is protocol-relative', '//evil.example/migrate'],
    ['that is /\\ (read as protocol-relative by browsers)', '/\\evil.example'],
    ['with no host', 'https:///migrate'],
    ['that is not a URL', 'https://exa[mple.com'],
    ['that is relative without a slash', 'docs/migrate'],
    ['that is empty', ''],
    ['that is missing', undefined],
    ['that is not a string', 42],
    ['longer than 2048 characters', `/${'a'.repeat(2048)}`],
  ])('refuses a link %s', (_label, link) => {
    expectInvalid({ ...MINIMAL, link }, /^@Deprecated: link must be an http\(s\) URL or a path starting with \//);
    expectInvalid(
      { ...MINIMAL, successor: link ?? null },
      /^@Deprecated: successor must be an http\(s\) URL or a path starting with \//,
    );
  });
});

describe('phaseAt', () => {
  const lifecycle = parseDeprecation(FULL, '@Deprecated');

  it.each<[string, string, { phase: string; brownoutEndsAt?: number }]>([
    ['long before the deprecation', '2020-01-01T00:00:00Z', { phase: 'announced' }],
    ['just before the deprecation', '2026-12-31T23:59:59.999Z', { phase: 'announced' }],
    ['at the deprecation', '2027-01-01T00:00:00Z', { phase: 'deprecated' }],
    ['just before warningFrom', '2027-01-31T23:59:59.999Z', { phase: 'deprecated' }],
    ['at warningFrom', '2027-02-01T00:00:00Z', { phase: 'warning' }],
    ['just before the first brownout', '2027-03-01T09:59:59.999Z', { phase: 'warning' }],
    [
      'at the start of the first brownout (inclusive), which wins over warning',
      '2027-03-01T10:00:00Z',
      { phase: 'brownout', brownoutEndsAt: Date.UTC(2027, 2, 1, 11) },
    ],
    [
      'just before the end of the first brownout',
      '2027-03-01T10:59:59.999Z',
      { phase: 'brownout', brownoutEndsAt: Date.UTC(2027, 2, 1, 11) },
    ],
    ['at the end of the first brownout (exclusive)', '2027-03-01T11:00:00Z', { phase: 'warning' }],
    ['just before closedToNewClientsAt', '2027-03-31T23:59:59.999Z', { phase: 'warning' }],
    ['at closedToNewClientsAt', '2027-04-01T00:00:00Z', { phase: 'closed' }],
    ['just before the second brownout', '2027-05-01T09:59:59.999Z', { phase: 'closed' }],
    [
      'in the second brownout, which wins over closed',
      '2027-05-01T10:00:00Z',
      { phase: 'brownout', brownoutEndsAt: Date.UTC(2027, 4, 1, 11) },
    ],
    ['at the end of the second brownout', '2027-05-01T11:00:00Z', { phase: 'closed' }],
    [
      'just before the sunset, in a brownout that ends at the sunset',
      '2027-06-30T23:59:59.999Z',
      { phase: 'brownout', brownoutEndsAt: Date.UTC(2027, 6, 1) },
    ],
    ['at the sunset', '2027-07-01T00:00:00Z', { phase: 'gone' }],
    ['long after the sunset', '2030-01-01T00:00:00Z', { phase: 'gone' }],
  ])('is %s: %s', (_label, now, expected) => {
    expect(phaseAt(lifecycle, at(now))).toStrictEqual(expected);
  });

  it('goes from deprecated to closed, and to warning, when only one of them is set', () => {
    const closedOnly = parseDeprecation({ ...MINIMAL, closedToNewClientsAt: '2027-04-01T00:00:00Z' }, 'x');
    expect(phaseAt(closedOnly, at('2027-03-31T23:59:59.999Z'))).toStrictEqual({ phase: 'deprecated' });
    expect(phaseAt(closedOnly, at('2027-04-01T00:00:00Z'))).toStrictEqual({ phase: 'closed' });
    const warningOnly = parseDeprecation({ ...MINIMAL, warningFrom: '2027-04-01T00:00:00Z' }, 'x');
    expect(phaseAt(warningOnly, at('2027-06-30T23:59:59.999Z'))).toStrictEqual({ phase: 'warning' });
  });

  it('is closed rather than warning when the closing comes before warningFrom', () => {
    const early = parseDeprecation(
      { ...MINIMAL, closedToNewClientsAt: '2027-02-01T00:00:00Z', warningFrom: '2027-03-01T00:00:00Z' },
      'x',
    );
    expect(phaseAt(early, at('2027-02-15T00:00:00Z'))).toStrictEqual({ phase: 'closed' });
    expect(phaseAt(early, at('2027-03-15T00:00:00Z'))).toStrictEqual({ phase: 'closed' });
  });

  it('is gone after the sunset even inside a window that parseDeprecation would have refused', () => {
    const unchecked: DeprecationLifecycle = {
      deprecatedAt: Date.UTC(2027, 0, 1),
      sunsetAt: Date.UTC(2027, 6, 1),
      link: '/docs',
      brownouts: [{ start: Date.UTC(2027, 5, 30), end: Date.UTC(2027, 6, 2) }],
    };
    expect(phaseAt(unchecked, Date.UTC(2027, 5, 30, 12))).toStrictEqual({
      phase: 'brownout',
      brownoutEndsAt: Date.UTC(2027, 6, 2),
    });
    expect(phaseAt(unchecked, Date.UTC(2027, 6, 1))).toStrictEqual({ phase: 'gone' });
    expect(phaseAt(unchecked, Date.UTC(2027, 6, 1, 12))).toStrictEqual({ phase: 'gone' });
  });

  it('is gone from the instant of a sunset that equals the deprecation', () => {
    const abrupt = parseDeprecation({ ...MINIMAL, sunsetAt: MINIMAL.deprecatedAt }, 'x');
    expect(phaseAt(abrupt, Date.UTC(2027, 0, 1) - 1)).toStrictEqual({ phase: 'announced' });
    expect(phaseAt(abrupt, Date.UTC(2027, 0, 1))).toStrictEqual({ phase: 'gone' });
  });
});

describe('structuredDate', () => {
  it('writes @ and whole Unix seconds, the milliseconds floored', () => {
    expect(structuredDate(Date.UTC(2027, 0, 31))).toBe('@1801353600');
    expect(structuredDate(Date.UTC(2027, 0, 31) + 999)).toBe('@1801353600');
    expect(structuredDate(Date.UTC(2027, 0, 31) + 1000)).toBe('@1801353601');
    expect(structuredDate(0)).toBe('@0');
  });
});

describe('imfFixdate', () => {
  it.each([
    [Date.UTC(2027, 0, 31), 'Sun, 31 Jan 2027 00:00:00 GMT'],
    [Date.UTC(2027, 1, 1, 1, 2, 3), 'Mon, 01 Feb 2027 01:02:03 GMT'],
    [Date.UTC(2027, 1, 1, 1, 2, 3, 999), 'Mon, 01 Feb 2027 01:02:03 GMT'],
    [Date.UTC(2027, 11, 5, 23, 59, 59, 500), 'Sun, 05 Dec 2027 23:59:59 GMT'],
    [Date.UTC(2027, 6, 1), 'Thu, 01 Jul 2027 00:00:00 GMT'],
  ])('writes %d as %s (RFC 9110 IMF-fixdate)', (ms, expected) => {
    expect(imfFixdate(ms)).toBe(expected);
    expect(imfFixdate(ms)).toMatch(
      /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/,
    );
  });
});

describe('deprecationHeaders', () => {
  const LINK =
    '<https://example.com/migrate>; rel="deprecation"; type="text/html", ' +
    '<https://example.com/migrate>; rel="sunset"; type="text/html", ' +
    '</v2/items>; rel="successor-version"';
  const BEFORE_SUNSET =
    '299 - "This API is deprecated and will be removed on Thu, 01 Jul 2027 00:00:00 GMT; use /v2/items; see https://example.com/migrate"';
  const AFTER_SUNSET =
    '299 - "This API was removed on Thu, 01 Jul 2027 00:00:00 GMT; use /v2/items; see https://example.com/migrate"';
  const lifecycle = parseDeprecation(FULL, '@Deprecated');
  const base = { Deprecation: '@1798761600', Sunset: 'Thu, 01 Jul 2027 00:00:00 GMT', Link: LINK };

  it.each([
    ['announced', '2026-06-01T00:00:00Z'],
    ['deprecated', '2027-01-01T00:00:00Z'],
    ['deprecated, just before warningFrom', '2027-01-31T23:59:59.999Z'],
  ])('sends Deprecation, Sunset and Link but no Warning while %s', (_label, now) => {
    expect(deprecationHeaders(lifecycle, at(now))).toStrictEqual(base);
  });

  it.each([
    ['at warningFrom', '2027-02-01T00:00:00Z'],
    ['in a brownout', '2027-03-01T10:30:00Z'],
    ['while closed to new clients', '2027-04-01T00:00:00Z'],
    ['just before the sunset', '2027-06-30T23:59:59.999Z'],
  ])('adds Warning: 299 %s', (_label, now) => {
    expect(deprecationHeaders(lifecycle, at(now))).toStrictEqual({ ...base, Warning: BEFORE_SUNSET });
  });

  it.each(['2027-07-01T00:00:00Z', '2030-01-01T00:00:00Z'])(
    'says the API was removed at and after the sunset (%s)',
    (now) => {
      expect(deprecationHeaders(lifecycle, at(now))).toStrictEqual({ ...base, Warning: AFTER_SUNSET });
    },
  );

  it('has two Link entries and no "use" in the Warning without a successor', () => {
    const plain = parseDeprecation({ ...MINIMAL, warningFrom: '2027-02-01T00:00:00Z' }, 'x');
    expect(deprecationHeaders(plain, Date.UTC(2027, 0, 15))).toStrictEqual({
      Deprecation: '@1798761600',
      Sunset: 'Thu, 01 Jul 2027 00:00:00 GMT',
      Link:
        '<https://example.com/migrate>; rel="deprecation"; type="text/html", ' +
        '<https://example.com/migrate>; rel="sunset"; type="text/html"',
    });
    expect(deprecationHeaders(plain, Date.UTC(2027, 1, 1)).Warning).toBe(
      '299 - "This API is deprecated and will be removed on Thu, 01 Jul 2027 00:00:00 GMT; see https://example.com/migrate"',
    );
    expect(deprecationHeaders(plain, Date.UTC(2027, 6, 1)).Warning).toBe(
      '299 - "This API was removed on Thu, 01 Jul 2027 00:00:00 GMT; see https://example.com/migrate"',
    );
  });

  it('never sends a Warning when warningFrom is not set, not even after the sunset', () => {
    const quiet = parseDeprecation(MINIMAL, 'x');
    expect(deprecationHeaders(quiet, Date.UTC(2027, 3, 1))).not.toHaveProperty('Warning');
    expect(deprecationHeaders(quiet, Date.UTC(2028, 0, 1))).not.toHaveProperty('Warning');
  });

  it('floors the milliseconds of Deprecation and Sunset', () => {
    const odd = parseDeprecation(
      { ...MINIMAL, deprecatedAt: '2027-01-01T00:00:00.999Z', sunsetAt: '2027-07-01T00:00:00.999Z' },
      'x',
    );
    expect(deprecationHeaders(odd, 0)).toMatchObject({
      Deprecation: '@1798761600',
      Sunset: 'Thu, 01 Jul 2027 00:00:00 GMT',
    });
  });

  it.each(["https://example.com/a'b(c)*!$&+,;=:@~%22%5C?q=1#frag", '/docs#/items', "/v1/guide?from='1'&to=2"])(
    'keeps the Warning a valid quoted-string, without " or \\ inside, for the link %s',
    (target) => {
      const quirky = parseDeprecation(
        { ...MINIMAL, link: target, successor: target, warningFrom: MINIMAL.deprecatedAt },
        'x',
      );
      for (const now of [Date.UTC(2027, 2, 1), Date.UTC(2027, 6, 1)]) {
        const warning = deprecationHeaders(quirky, now).Warning;
        expect(warning).toMatch(/^299 - "[\x20\x21\x23-\x5b\x5d-\x7e]*"$/);
        expect(warning!.slice('299 - "'.length, -1)).not.toMatch(/["\\]/);
      }
    },
  );
});
