/** Byte-level URI encoding, header access and comparisons shared by the signature schemes. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HeaderValue } from './signed-request.types.js';

const HEX = '0123456789ABCDEF';

function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || // -
    byte === 0x2e || // .
    byte === 0x5f || // _
    byte === 0x7e // ~
  );
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/**
 * RFC 3986 percent-encoding of the UTF-8 bytes of `value` (or of the bytes themselves): everything but the
 * unreserved characters `A-Z a-z 0-9 - . _ ~` becomes `%XX` in upper-case hex. `keep` lists more characters
 * left as they are (SigV4 keeps `/` in paths).
 * @example rfc3986Encode('a b/c') // 'a%20b%2Fc'
 */
export function rfc3986Encode(value: string | Uint8Array, keep = ''): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '';
  for (const byte of bytes) {
    if (isUnreserved(byte) || (byte < 0x80 && keep.includes(String.fromCharCode(byte)))) {
      out += String.fromCharCode(byte);
    } else {
      out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
    }
  }
  return out;
}

/**
 * Percent-decoding into bytes: each valid `%XX` becomes its byte, every other character its UTF-8 bytes (a
 * `%` not followed by two hex digits stays a `%`). With `plusAsSpace`, `+` is a space, as form decoding reads it.
 */
export function percentDecode(raw: string, plusAsSpace = false): Buffer {
  const value = plusAsSpace ? raw.replace(/\+/g, ' ') : raw;
  if (!value.includes('%')) return Buffer.from(value, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) !== 0x25 || i + 2 >= value.length) continue;
    const high = hexValue(value.charCodeAt(i + 1));
    const low = hexValue(value.charCodeAt(i + 2));
    if (high < 0 || low < 0) continue;
    parts.push(Buffer.from(value.slice(start, i), 'utf8'), Buffer.of(high * 16 + low));
    start = i + 3;
    i += 2;
  }
  parts.push(Buffer.from(value.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/**
 * The canonical query of the seed scheme and of SigV4: each name and value percent-decoded then RFC 3986
 * encoded, pairs sorted by encoded name then encoded value (repeated names kept), `name=value` joined by `&`
 * (a name without `=` gets an empty value). A raw `+` is decoded as a space, as Express and Fastify decode
 * it for the application: `a+b` and `a%2Bb` are different values to the app, so they must sign differently
 * (and `aws4` signs a `+` as `%20` too).
 * @example canonicalQuery('b=2&a=y&a=x&c') // 'a=x&a=y&b=2&c='
 */
export function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs: [string, string][] = [];
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq === -1 ? piece : piece.slice(0, eq);
    const value = eq === -1 ? '' : piece.slice(eq + 1);
    pairs.push([rfc3986Encode(percentDecode(name, true)), rfc3986Encode(percentDecode(value, true))]);
  }
  pairs.sort(([an, av], [bn, bv]) => compareAscii(an, bn) || compareAscii(av, bv));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

/** Code-unit order (the canonical strings are ASCII), independent of the locale. */
export function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The field lines of a header (`host` falls back to HTTP/2's `:authority`); undefined when absent. Node joins
 * most repeated headers into one string with ', '; an array keeps the lines apart.
 */
export function headerLines(headers: Readonly<Record<string, HeaderValue>>, name: string): string[] | undefined {
  // Own properties only: Node's header objects inherit from Object.prototype, and a client picks `name`
  // (`X-Signed-Headers: host;constructor`), which must read as an absent header, not as a function.
  let value = Object.hasOwn(headers, name) ? headers[name] : undefined;
  if (value === undefined && name === 'host' && Object.hasOwn(headers, ':authority')) value = headers[':authority'];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? [value] : [...value];
}

/** The one value of a header, or undefined; a repeated header is returned joined with ', ', as Node does. */
export function headerValue(headers: Readonly<Record<string, HeaderValue>>, name: string): string | undefined {
  return headerLines(headers, name)?.join(', ');
}

/** Trims a header value and folds each run of inner whitespace into one space (the AWS and seed rule). */
export function foldWhitespace(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

/** Lower-case hex SHA-256 of the bytes. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Constant-time equality of two byte strings; false without comparing when the lengths differ (lengths are public). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** An HTTP field name (RFC 9110 token), as Node gives it: lower-case. */
export const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
