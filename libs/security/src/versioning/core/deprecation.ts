import { SecurityConfigError } from '../../core/errors.js';

/**
 * The lifecycle of a deprecated route or API version, as written in `@Deprecated()` or
 * `deprecations.versions`. Instants are ISO 8601 with a zone (`2027-01-31T00:00:00Z`) or `Date`s.
 */
export interface DeprecationSpec {
  /** From this instant the route is deprecated (RFC 9745). Before it, the headers announce the date ahead. */
  readonly deprecatedAt: string | Date;
  /** From this instant the route answers `410 Gone` (RFC 8594). Not before `deprecatedAt`. */
  readonly sunsetAt: string | Date;
  /** Migration guide (`https://…` or a path): the target of `rel="deprecation"` and `rel="sunset"`. */
  readonly link: string;
  /** The replacement (`/v2/items` or an absolute URL): `rel="successor-version"` and the problems' `successor`. */
  readonly successor?: string;
  /** From this instant every response carries `Warning: 299 - "…"`. */
  readonly warningFrom?: string | Date;
  /** From this instant principals created at or after it get a 403; older principals keep working. */
  readonly closedToNewClientsAt?: string | Date;
  /** Windows `start/end` (or `{start, end}`) before the sunset during which the route already answers 410. */
  readonly brownouts?: readonly (string | { readonly start: string | Date; readonly end: string | Date })[];
}

/** A lifecycle after validation: every instant in epoch milliseconds, brownouts sorted. */
export interface DeprecationLifecycle {
  readonly deprecatedAt: number;
  readonly sunsetAt: number;
  readonly link: string;
  readonly successor?: string;
  readonly warningFrom?: number;
  readonly closedToNewClientsAt?: number;
  readonly brownouts: readonly { readonly start: number; readonly end: number }[];
}

/**
 * Where a lifecycle stands at an instant, in order: `announced` (before `deprecatedAt`), `deprecated`,
 * `warning` (from `warningFrom`), `closed` (from `closedToNewClientsAt`), `brownout` (inside a window before
 * the sunset, whatever the phase) and `gone` (from `sunsetAt`).
 */
export type DeprecationPhase = 'announced' | 'deprecated' | 'warning' | 'closed' | 'brownout' | 'gone';

/** The phase, and for a brownout when its window ends. */
export interface PhaseAt {
  readonly phase: DeprecationPhase;
  readonly brownoutEndsAt?: number;
}

// ISO 8601 date and time with seconds optional, fractions to milliseconds, and a zone that must be given.
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;
// A URI reference safe inside `<…>` of a Link header: no spaces, controls, quotes or angle brackets.
const LINK_TARGET = /^[\x21-\x7e]+$/;
const FORBIDDEN_IN_LINK = /[<>"\\^`{|}]/;
const SPEC_KEYS = new Set([
  'deprecatedAt',
  'sunsetAt',
  'link',
  'successor',
  'warningFrom',
  'closedToNewClientsAt',
  'brownouts',
]);

/**
 * Checks a lifecycle and turns it into epoch milliseconds. Throws `SecurityConfigError` naming `option`
 * and the fix for a missing or malformed instant, a link that is not a URI, or instants out of order
 * (deprecation ≤ warning ≤ closing ≤ sunset; brownouts inside deprecation..sunset, start before end).
 * @example parseDeprecation({ deprecatedAt: '2027-01-01T00:00:00Z', sunsetAt: '2027-07-01T00:00:00Z', link: 'https://example.com/v2' }, '@Deprecated')
 */
export function parseDeprecation(spec: DeprecationSpec, option: string): DeprecationLifecycle {
  const fail = (message: string): never => {
    throw new SecurityConfigError('ERR_SECURITY_CONFIG_INVALID_DEPRECATION', option, message);
  };
  if (typeof spec !== 'object' || spec === null) fail('use { deprecatedAt, sunsetAt, link, … }');
  for (const key of Object.keys(spec)) {
    if (!SPEC_KEYS.has(key)) fail(`unknown key "${key}"; expected one of ${[...SPEC_KEYS].join(', ')}`);
  }
  const instant = (value: unknown, name: string): number => {
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) fail(`${name} is an invalid Date`);
      return value.getTime();
    }
    const ms = typeof value === 'string' && INSTANT.test(value) && isCalendarDate(value) ? Date.parse(value) : NaN;
    if (Number.isNaN(ms)) {
      fail(`${name} must be an ISO 8601 instant with a zone, e.g. 2027-01-31T00:00:00Z, not ${describeValue(value)}`);
    }
    return ms;
  };
  const optionalInstant = (value: unknown, name: string): number | undefined =>
    value === undefined ? undefined : instant(value, name);

  const deprecatedAt = instant(spec.deprecatedAt, 'deprecatedAt');
  const sunsetAt = instant(spec.sunsetAt, 'sunsetAt');
  const warningFrom = optionalInstant(spec.warningFrom, 'warningFrom');
  const closedToNewClientsAt = optionalInstant(spec.closedToNewClientsAt, 'closedToNewClientsAt');
  if (sunsetAt < deprecatedAt) fail('sunsetAt is before deprecatedAt; a route is deprecated before it is removed');
  for (const [name, at] of [
    ['warningFrom', warningFrom],
    ['closedToNewClientsAt', closedToNewClientsAt],
  ] as const) {
    if (at !== undefined && (at < deprecatedAt || at > sunsetAt)) {
      fail(`${name} must lie between deprecatedAt and sunsetAt`);
    }
  }
  const link = uriReference(spec.link, 'link', fail);
  const successor = spec.successor === undefined ? undefined : uriReference(spec.successor, 'successor', fail);
  if (spec.brownouts !== undefined && !Array.isArray(spec.brownouts)) fail('brownouts must be an array');
  const brownouts = (spec.brownouts ?? []).map((entry, index) => {
    const name = `brownouts[${index}]`;
    let start: unknown;
    let end: unknown;
    if (typeof entry === 'string') {
      const parts = entry.split('/');
      if (parts.length !== 2) fail(`${name} must be "start/end", e.g. 2027-03-01T10:00:00Z/2027-03-01T11:00:00Z`);
      [start, end] = parts.map((part) => part.trim());
    } else if (typeof entry === 'object' && entry !== null) {
      const extra = Object.keys(entry).find((key) => key !== 'start' && key !== 'end');
      if (extra !== undefined) fail(`${name} has an unknown key "${extra}"; use { start, end }`);
      ({ start, end } = entry);
    } else {
      fail(`${name} must be "start/end" or { start, end }`);
    }
    const window = { start: instant(start, `${name}.start`), end: instant(end, `${name}.end`) };
    if (window.end <= window.start) fail(`${name} ends before it starts`);
    if (window.start < deprecatedAt || window.end > sunsetAt) {
      fail(`${name} must lie between deprecatedAt and sunsetAt`);
    }
    return window;
  });
  brownouts.sort((a, b) => a.start - b.start);
  // Overlapping windows would make Retry-After point at the end of the first one, inside the second.
  for (let i = 1; i < brownouts.length; i++) {
    if (brownouts[i]!.start < brownouts[i - 1]!.end) fail('brownouts overlap; merge them into one window');
  }
  return Object.freeze({
    deprecatedAt,
    sunsetAt,
    link,
    ...(successor === undefined ? {} : { successor }),
    ...(warningFrom === undefined ? {} : { warningFrom }),
    ...(closedToNewClientsAt === undefined ? {} : { closedToNewClientsAt }),
    brownouts: Object.freeze(brownouts.map((window) => Object.freeze(window))),
  });
}

// Date.parse moves 2027-02-30 to 2 March; a lifecycle date must name a day that exists, and a real time of day.
function isCalendarDate(text: string): boolean {
  const [year, month, day, hour, minute, second] = [0, 5, 8, 11, 14, 17].map((at) =>
    Number(text.slice(at, at === 0 ? 4 : at + 2)),
  );
  const date = new Date(Date.UTC(year!, month! - 1, day!));
  const seconds = text[16] === ':' ? second! : 0;
  return (
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month! - 1 &&
    date.getUTCDate() === day &&
    hour! <= 23 &&
    minute! <= 59 &&
    seconds <= 59
  );
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  return value === null || value === undefined ? String(value) : typeof value;
}

function uriReference(value: unknown, name: string, fail: (message: string) => never): string {
  const ok =
    typeof value === 'string' &&
    value.length <= 2048 &&
    LINK_TARGET.test(value) &&
    !FORBIDDEN_IN_LINK.test(value) &&
    (value.startsWith('/') ? !value.startsWith('//') : /^https?:\/\/[^/]/.test(value) && canParse(value));
  if (!ok) fail(`${name} must be an http(s) URL or a path starting with /, without spaces, quotes or <>`);
  return value as string;
}

function canParse(url: string): boolean {
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

/** The phase of `lifecycle` at `now` (epoch ms). Brownouts only apply before the sunset. */
export function phaseAt(lifecycle: DeprecationLifecycle, now: number): PhaseAt {
  if (now >= lifecycle.sunsetAt) return { phase: 'gone' };
  if (now < lifecycle.deprecatedAt) return { phase: 'announced' };
  for (const window of lifecycle.brownouts) {
    if (now >= window.start && now < window.end) return { phase: 'brownout', brownoutEndsAt: window.end };
  }
  if (lifecycle.closedToNewClientsAt !== undefined && now >= lifecycle.closedToNewClientsAt) {
    return { phase: 'closed' };
  }
  if (lifecycle.warningFrom !== undefined && now >= lifecycle.warningFrom) return { phase: 'warning' };
  return { phase: 'deprecated' };
}

/** Whether responses in this phase carry `Warning: 299`: from `warningFrom` on, whatever came after. */
export function warns(lifecycle: DeprecationLifecycle, now: number): boolean {
  return lifecycle.warningFrom !== undefined && now >= lifecycle.warningFrom;
}

/** `@<unix seconds>`: an RFC 9651 Date, as RFC 9745 `Deprecation` takes it. */
export function structuredDate(ms: number): string {
  return `@${Math.floor(ms / 1000)}`;
}

/** An IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 31 Jan 2027 00:00:00 GMT`, as RFC 8594 `Sunset` takes it. */
export function imfFixdate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toUTCString();
}

/**
 * The headers of a response from a route with this lifecycle at `now`: `Deprecation` and `Sunset` (in the
 * future while announced), one `Link` with `rel="deprecation"`, `rel="sunset"` and, when there is one,
 * `rel="successor-version"`, and from `warningFrom` a `Warning: 299 - "…"`.
 */
export function deprecationHeaders(lifecycle: DeprecationLifecycle, now: number): Record<string, string> {
  const links = [
    `<${lifecycle.link}>; rel="deprecation"; type="text/html"`,
    `<${lifecycle.link}>; rel="sunset"; type="text/html"`,
  ];
  if (lifecycle.successor) links.push(`<${lifecycle.successor}>; rel="successor-version"`);
  const headers: Record<string, string> = {
    Deprecation: structuredDate(lifecycle.deprecatedAt),
    Sunset: imfFixdate(lifecycle.sunsetAt),
    Link: links.join(', '),
  };
  if (warns(lifecycle, now)) headers.Warning = `299 - "${warningText(lifecycle, now)}"`;
  return headers;
}

// Plain ASCII without quotes or backslashes (the link and successor cannot hold them): a valid quoted-string.
function warningText(lifecycle: DeprecationLifecycle, now: number): string {
  const when = imfFixdate(lifecycle.sunsetAt);
  const instead = lifecycle.successor ? `; use ${lifecycle.successor}` : '';
  return now >= lifecycle.sunsetAt
    ? `This API was removed on ${when}${instead}; see ${lifecycle.link}`
    : `This API is deprecated and will be removed on ${when}${instead}; see ${lifecycle.link}`;
}
