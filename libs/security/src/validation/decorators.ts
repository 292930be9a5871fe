import { isIPv4, isIPv6 } from 'node:net';
import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt, IsString, Max, Min, ValidateBy } from 'class-validator';
import sanitizeHtml from 'sanitize-html';
import { checkPassword } from '../principals/password-policy.js';

/*
 * Reusable DTO decorators. Messages start with `$property` (class-validator's style, which the validation
 * pipe strips) and never contain the value. Bad decorator arguments throw when the class is defined.
 */

const USERNAME = /^[A-Za-z0-9_]+$/;
const HOSTNAME_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const ALL_DIGITS = /^[0-9]+$/;
const NUMERIC_LABEL = /^(?:0x[0-9a-f]*|[0-9]+)$/i;
const STRICT_INT = /^-?\d{1,15}$/;
const MAX_HOSTNAME = 253;

/** A string of 3 to 50 (or `min` to `max`) ASCII letters, digits and underscores. */
export function SafeUsername({ min = 3, max = 50 }: { min?: number; max?: number } = {}): PropertyDecorator {
  assertLengthRange('SafeUsername', min, max);
  return ValidateBy({
    name: 'safeUsername',
    constraints: [min, max],
    validator: {
      validate: (value: unknown) =>
        typeof value === 'string' && value.length >= min && value.length <= max && USERNAME.test(value),
      defaultMessage: () => `$property must be ${min} to ${max} letters, digits or underscores`,
    },
  });
}

/**
 * An IPv4 address, an IPv6 address without zone id, or an RFC 1123 hostname without trailing dot. Names
 * that resolvers read as numeric addresses (`127.1`, `0x7f.1`, `2130706433`) are refused: an allow-list of
 * names would not see them coming.
 */
export function isHostnameOrIp(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_HOSTNAME) return false;
  if (value.includes(':')) return !value.includes('%') && isIPv6(value);
  if (isIPv4(value)) return true;
  const labels = value.split('.');
  if (!labels.every((label) => HOSTNAME_LABEL.test(label))) return false;
  // RFC 3696 §2: a top-level domain is never all digits.
  if (ALL_DIGITS.test(labels[labels.length - 1])) return false;
  return !labels.every((label) => NUMERIC_LABEL.test(label));
}

/** A host for a network tool: see `isHostnameOrIp`. No spaces, shell characters or leading `-` can pass. */
export function HostnameOrIp(): PropertyDecorator {
  return ValidateBy({
    name: 'hostnameOrIp',
    validator: {
      validate: (value: unknown) => isHostnameOrIp(value),
      defaultMessage: () => '$property must be a hostname or an IP address',
    },
  });
}

// C0 controls other than tab, line feed and carriage return, and DEL: NUL cannot even be stored in a
// PostgreSQL text column, and the others only ever serve to forge log lines or confuse terminals.
// oxlint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
const CONTROL_CHARACTERS = new RegExp(CONTROL_CHARACTER.source, 'g');

/**
 * A string of `min` to `max` characters, counted in code points (an emoji is one), with no control
 * characters other than tab, line feed and carriage return.
 */
export function BoundedString(min: number, max: number): PropertyDecorator {
  assertLengthRange('BoundedString', min, max);
  return applyDecorators(
    IsString(),
    ValidateBy({
      name: 'boundedString',
      constraints: [min, max],
      validator: {
        // Non-strings are IsString's to report, once.
        validate: (value: unknown) =>
          typeof value !== 'string' || (isLengthBetween(value, min, max) && !CONTROL_CHARACTER.test(value)),
        defaultMessage: () => `$property must be ${min} to ${max} characters long, without control characters`,
      },
    }),
  );
}

/** Lower-cases a string (locale-independent); other values pass untouched for the type validators to refuse. */
export function LowerCased(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value), {
    toClassOnly: true,
  });
}

/**
 * An integer, for query strings: a string of at most 15 digits with an optional `-` becomes a number; any
 * other string (`'0x10'`, `'1e3'`, `' 1'`, `''`) or an array stays as it is and fails `IsInt`.
 */
export function StrictInt({ min, max }: { min?: number; max?: number } = {}): PropertyDecorator {
  const decorators: PropertyDecorator[] = [
    Transform(
      ({ value }: { value: unknown }) => (typeof value === 'string' && STRICT_INT.test(value) ? Number(value) : value),
      { toClassOnly: true },
    ),
    IsInt(),
  ];
  if (min !== undefined) decorators.push(Min(min));
  if (max !== undefined) decorators.push(Max(max));
  return applyDecorators(...decorators);
}

/** Options of `sanitizeRichText`; given keys replace the defaults' keys. */
export type RichTextOptions = sanitizeHtml.IOptions;

const RICH_TEXT_DEFAULTS: RichTextOptions = {
  allowedTags: ['b', 'i', 'em', 'strong', 'a', 'p', 'br', 'ul', 'ol', 'li', 'code', 'pre', 'blockquote'],
  allowedAttributes: { a: ['href', 'rel'] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: {},
  allowProtocolRelative: false,
  // Overwrites any rel sent, so a link can never reach back through window.opener.
  transformTags: { a: sanitizeHtml.simpleTransform('a', { rel: 'noopener noreferrer' }) },
};

/**
 * HTML reduced to a small rich-text allow-list: b, i, em, strong, p, br, ul, ol, li, code, pre, blockquote
 * and `a` with an http, https or mailto `href` and `rel="noopener noreferrer"`. Scripts and styles are
 * dropped with their content; other tags are dropped, their text kept.
 * @example sanitizeRichText('<a href="javascript:x()" onclick="y()">hi</a>') // → '<a rel="noopener noreferrer">hi</a>'
 */
export function sanitizeRichText(html: string, options?: RichTextOptions): string {
  const text = html.replace(CONTROL_CHARACTERS, '');
  return sanitizeHtml(text, options ? { ...RICH_TEXT_DEFAULTS, ...options } : RICH_TEXT_DEFAULTS);
}

/** Runs `sanitizeRichText` on a string field; other values pass untouched for the type validators to refuse. */
export function SanitizedHtml(options?: RichTextOptions): PropertyDecorator {
  return Transform(
    ({ value }: { value: unknown }) => (typeof value === 'string' ? sanitizeRichText(value, options) : value),
    { toClassOnly: true },
  );
}

/** A password the library's policy accepts (`checkPassword`: 12 to 256 code points, not a common password). */
export function StrongPassword(): PropertyDecorator {
  return ValidateBy({
    name: 'strongPassword',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && checkPassword(value) === undefined,
      defaultMessage: (args) =>
        typeof args?.value === 'string' && checkPassword(args.value) === 'too_long'
          ? '$property must be at most 256 characters'
          : '$property must be at least 12 characters and not a common password',
    },
  });
}

function isLengthBetween(value: string, min: number, max: number): boolean {
  // Code points are at least half the code units: decide without counting when the bounds allow.
  if (value.length < min || Math.ceil(value.length / 2) > max) return false;
  let length = value.length;
  for (let i = 0; i < value.length - 1; i++) {
    const high = value.charCodeAt(i);
    const low = value.charCodeAt(i + 1);
    // A surrogate pair is one code point; a lone surrogate counts as one, as string iteration does.
    if (high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
      length--;
      i++;
    }
  }
  return length >= min && length <= max;
}

function assertLengthRange(decorator: string, min: number, max: number): void {
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || max < min) {
    throw new RangeError(`${decorator}: min and max must be integers with 0 <= min <= max (got ${min}, ${max})`);
  }
}
