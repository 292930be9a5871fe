/**
 * Shape limits for untrusted input, checked before (or instead of) building objects: nesting depth,
 * elements per array, keys per object, and key names that reach prototypes. Pure: no Nest, no I/O.
 * Every function here takes one linear pass with an explicit stack, never recurses and never throws,
 * so a 1,000,000-deep `[[[[…` costs microseconds and cannot blow the call stack.
 */

/** Limits for one JSON document or parsed value. */
export interface JsonShapeLimits {
  /** Deepest nesting of objects and arrays; `[]` is depth 1, a scalar depth 0. */
  readonly maxDepth: number;
  /** Most elements in any one array. */
  readonly maxArrayLength: number;
  /** Most keys in any one object (a key written twice counts twice). */
  readonly maxKeys: number;
}

/** Keys refused at any depth: assigning them on a plain object can replace or reach a prototype. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const FORBIDDEN_NAMES: readonly string[] = [...FORBIDDEN_KEYS];
const SHORTEST_FORBIDDEN = Math.min(...FORBIDDEN_NAMES.map((name) => name.length));
// An escape spells a character in at most 6 (`\u005f`): a longer key cannot decode to a forbidden one.
const LONGEST_FORBIDDEN_RAW = 6 * Math.max(...FORBIDDEN_NAMES.map((name) => name.length));

/** The first limit an input broke. `path` names where (`body.a[3].b`), never a value. */
export interface ShapeViolation {
  readonly rule: 'syntax' | 'depth' | 'array_length' | 'keys' | 'forbidden_key';
  readonly path: string;
  readonly reason: string;
}

const MAX_NAME_CODE_POINTS = 64;
// Control characters and line separators would let a key forge lines in logs.
const UNPRINTABLE = /[\p{Cc}\u2028\u2029]/gu;

const OBJECT = 0;
const ARRAY = 1;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * One linear pass over JSON text, building nothing: the first violation, or `undefined` when the text is
 * within `limits`. Keys are decoded before comparison, so `"__pro\u0074o__"` is refused. Syntax errors the
 * scanner can step over (a bad number, a control character in a string) are left to `JSON.parse`; where it
 * cannot continue (unbalanced brackets, unterminated string, bad escape in a key) the rule is `syntax`.
 * Nothing is allocated per key or element: each open container keeps its entry count and, for an object,
 * where its current key sits in the text, and a path is built from them only for the violation.
 * @example checkJsonShape('{"a":[[1]]}', { maxDepth: 2, maxArrayLength: 10, maxKeys: 10 })
 * // → { rule: 'depth', path: 'body.a[0]', reason: 'nested deeper than 2 levels' }
 */
export function checkJsonShape(text: string, limits: JsonShapeLimits, root = 'body'): ShapeViolation | undefined {
  if (typeof text !== 'string') return { rule: 'syntax', path: root, reason: 'not JSON text' };
  const { maxDepth, maxArrayLength, maxKeys } = limits;
  // One entry per open container, the innermost at `top`; the arrays only grow, `top` moves.
  const stack: Stack = { kinds: [], counts: [], keyStarts: [], keyEnds: [] };
  const { kinds, counts, keyStarts, keyEnds } = stack;
  const n = text.length;
  let top = -1;
  // The first backslash at or after the start of some earlier key (`n` if none): whether a key holds an
  // escape costs one comparison, and the `indexOf` calls behind it cover the text at most once.
  let nextBackslash = -1;
  // Whether the next entry is an object member (its key comes first) rather than a value.
  let member = false;
  let i = 0;
  // Character codes are read as `i < n ? text.charCodeAt(i) : -1`, never NaN, which keeps them small
  // integers for V8. Blanks are skipped with a `c <= 0x20` test first: JSON's punctuation is above it.
  let c: number;

  for (;;) {
    // An entry starts here (the root value, or an element or member already counted), after blanks.
    c = i < n ? text.charCodeAt(i) : -1;
    while (c <= 0x20 && (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) c = ++i < n ? text.charCodeAt(i) : -1;

    if (member) {
      if (c !== QUOTE) return syntaxViolation(text, root, stack, top, 'expected a key', i);
      if (counts[top] >= maxKeys) return keysViolation(pathTo(text, root, stack, top - 1), maxKeys);
      counts[top]++;
      const start = i + 1;
      const end = stringEnd(text, start);
      if (end < 0) return syntaxViolation(text, root, stack, top, 'unterminated key', i);
      keyStarts[top] = start;
      keyEnds[top] = end;
      if (nextBackslash < start) {
        nextBackslash = text.indexOf('\\', start);
        if (nextBackslash < 0) nextBackslash = n;
      }
      const forbidden =
        nextBackslash < end ? escapedKeyIsForbidden(text, start, end) : plainKeyIsForbidden(text, start, end);
      if (forbidden === undefined) return syntaxViolation(text, root, stack, top, 'invalid key', i);
      if (forbidden) return forbiddenKeyViolation(pathTo(text, root, stack, top));
      i = end + 1;
      c = i < n ? text.charCodeAt(i) : -1;
      while (c <= 0x20 && (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) c = ++i < n ? text.charCodeAt(i) : -1;
      if (c !== COLON) return syntaxViolation(text, root, stack, top, 'expected a colon', i);
      c = ++i < n ? text.charCodeAt(i) : -1;
      while (c <= 0x20 && (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) c = ++i < n ? text.charCodeAt(i) : -1;
      member = false;
    }

    // A value starts at `i`.
    if (c === QUOTE) {
      const end = stringEnd(text, i + 1);
      if (end < 0) return syntaxViolation(text, root, stack, top, 'unterminated string', i);
      i = end + 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (top + 1 >= maxDepth) return depthViolation(pathTo(text, root, stack, top), maxDepth);
      const kind = c === OPEN_BRACE ? OBJECT : ARRAY;
      top++;
      kinds[top] = kind;
      counts[top] = 0;
      c = ++i < n ? text.charCodeAt(i) : -1;
      while (c <= 0x20 && (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) c = ++i < n ? text.charCodeAt(i) : -1;
      if (c === (kind === OBJECT ? CLOSE_BRACE : CLOSE_BRACKET)) {
        i++;
        top--;
      } else if (kind === OBJECT) {
        member = true;
        continue;
      } else {
        if (maxArrayLength <= 0) return arrayLengthViolation(pathTo(text, root, stack, top - 1), maxArrayLength);
        counts[top] = 1;
        continue;
      }
    } else {
      // Numbers, true, false, null: their spelling is JSON.parse's business.
      const start = i;
      while (i < n && isLiteralChar(text.charCodeAt(i))) i++;
      if (i === start) {
        return syntaxViolation(text, root, stack, top, c < 0 ? 'unexpected end' : 'unexpected character', i);
      }
    }

    // After a value: close containers until a comma, which starts the next entry, or the end.
    for (;;) {
      c = i < n ? text.charCodeAt(i) : -1;
      while (c <= 0x20 && (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) c = ++i < n ? text.charCodeAt(i) : -1;
      if (top < 0) {
        return c < 0 ? undefined : syntaxViolation(text, root, stack, top, 'unexpected text after the value', i);
      }
      const kind = kinds[top];
      if (c === COMMA) {
        i++;
        if (kind === OBJECT) {
          member = true;
        } else {
          if (counts[top] >= maxArrayLength) {
            return arrayLengthViolation(pathTo(text, root, stack, top - 1), maxArrayLength);
          }
          counts[top]++;
        }
        break;
      }
      if (c !== (kind === OBJECT ? CLOSE_BRACE : CLOSE_BRACKET)) {
        const reason = c < 0 ? 'unexpected end' : 'expected a comma or a closing bracket';
        return syntaxViolation(text, root, stack, top, reason, i);
      }
      i++;
      top--;
    }
  }
}

/**
 * `checkJsonShape`, then `JSON.parse`: the value, or the violation. A `JSON.parse` failure is rule `syntax`
 * with a fixed reason (its message quotes the text).
 */
export function parseJsonWithin(
  text: string,
  limits: JsonShapeLimits,
  root = 'body',
): { value: unknown } | { violation: ShapeViolation } {
  const violation = checkJsonShape(text, limits, root);
  if (violation) return { violation };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { violation: { rule: 'syntax', path: root, reason: 'not valid JSON' } };
  }
}

interface Frame {
  readonly node: object;
  /** Own enumerable keys of an object; `undefined` for an array. */
  readonly keys: readonly string[] | undefined;
  readonly length: number;
  index: number;
}

/**
 * The same rules as `checkJsonShape` for a value someone else built (a parsed query, a body parsed by
 * another parser), walked depth-first in key order so both report the same first violation and path.
 * Arrays are walked by index, other objects by own enumerable keys; buffers and typed arrays are leaves.
 * A getter or proxy that throws yields rule `syntax`.
 */
export function checkValueShape(value: unknown, limits: JsonShapeLimits, root: string): ShapeViolation | undefined {
  try {
    return walkValue(value, limits, root);
  } catch {
    return { rule: 'syntax', path: root, reason: 'the value could not be inspected' };
  }
}

function walkValue(value: unknown, limits: JsonShapeLimits, root: string): ShapeViolation | undefined {
  const frames: Frame[] = [];
  const segments: string[] = [];
  const path = (last = '') => root + segments.join('') + last;
  const enter = (node: unknown, segment: string): ShapeViolation | undefined => {
    if (typeof node !== 'object' || node === null || ArrayBuffer.isView(node)) return undefined;
    if (frames.length >= limits.maxDepth) return depthViolation(path(segment), limits.maxDepth);
    const keys = Array.isArray(node) ? undefined : Object.keys(node);
    frames.push({ node, keys, length: keys ? keys.length : (node as unknown[]).length, index: 0 });
    segments.push(segment);
    return undefined;
  };

  let violation = enter(value, '');
  while (!violation && frames.length > 0) {
    const frame = frames[frames.length - 1];
    if (frame.index >= frame.length) {
      frames.pop();
      segments.pop();
      continue;
    }
    const index = frame.index++;
    if (frame.keys) {
      if (index >= limits.maxKeys) return keysViolation(path(), limits.maxKeys);
      const key = frame.keys[index];
      const segment = keySegment(key);
      if (FORBIDDEN_KEYS.has(key)) return forbiddenKeyViolation(path(segment));
      violation = enter((frame.node as Record<string, unknown>)[key], segment);
    } else {
      if (index >= limits.maxArrayLength) return arrayLengthViolation(path(), limits.maxArrayLength);
      violation = enter((frame.node as unknown[])[index], `[${index}]`);
    }
  }
  return violation;
}

/**
 * A raw query string (without `?`; one leading `?` is skipped): more than `maxParams` parameters, a
 * parameter name that is, or has a `[…]`/`.` segment that is, a forbidden key once `+` and percent-escapes
 * are decoded (`a[__proto__][x]`, `a.constructor`, `%5F%5Fproto%5F%5F`), or bad percent-encoding in a name
 * or a value (rule `syntax`). Empty parameters (`a=1&&b=2`) do not count.
 */
export function checkQueryString(search: string, limits: { maxParams: number }): ShapeViolation | undefined {
  if (typeof search !== 'string') return { rule: 'syntax', path: 'query', reason: 'not a query string' };
  let start = search.startsWith('?') ? 1 : 0;
  let count = 0;
  while (start < search.length) {
    let end = search.indexOf('&', start);
    if (end < 0) end = search.length;
    if (end > start) {
      if (++count > limits.maxParams) {
        return { rule: 'keys', path: 'query', reason: `more than ${limits.maxParams} parameters` };
      }
      const violation = checkQueryParameter(search.slice(start, end));
      if (violation) return violation;
    }
    start = end + 1;
  }
  return undefined;
}

function checkQueryParameter(parameter: string): ShapeViolation | undefined {
  const equals = parameter.indexOf('=');
  const name = decodeQueryComponent(equals < 0 ? parameter : parameter.slice(0, equals));
  if (name === undefined) return { rule: 'syntax', path: 'query', reason: 'bad percent-encoding in a name' };
  const path = `query${keySegment(name)}`;
  // qs reads `a[b]` and (with allowDots) `a.b` as nested keys: each segment must be safe.
  for (const segment of name.split(/[[\].]/)) {
    if (FORBIDDEN_KEYS.has(segment)) return forbiddenKeyViolation(path);
  }
  if (equals >= 0 && decodeQueryComponent(parameter.slice(equals + 1)) === undefined) {
    return { rule: 'syntax', path, reason: 'bad percent-encoding in a value' };
  }
  return undefined;
}

/** `application/x-www-form-urlencoded` decoding; `undefined` for a bad escape or bytes that are not UTF-8. */
function decodeQueryComponent(raw: string): string | undefined {
  const text = raw.replaceAll('+', ' ');
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function depthViolation(path: string, maxDepth: number): ShapeViolation {
  return { rule: 'depth', path, reason: `nested deeper than ${maxDepth} levels` };
}

function arrayLengthViolation(path: string, maxArrayLength: number): ShapeViolation {
  return { rule: 'array_length', path, reason: `more than ${maxArrayLength} elements` };
}

function keysViolation(path: string, maxKeys: number): ShapeViolation {
  return { rule: 'keys', path, reason: `more than ${maxKeys} keys` };
}

function forbiddenKeyViolation(path: string): ShapeViolation {
  return { rule: 'forbidden_key', path, reason: 'is a forbidden key' };
}

/** `.name`, cut to 64 code points, with control characters shown as `?`. */
function keySegment(key: string): string {
  const name =
    key.length > MAX_NAME_CODE_POINTS
      ? Array.from(key.slice(0, 2 * MAX_NAME_CODE_POINTS))
          .slice(0, MAX_NAME_CODE_POINTS)
          .join('')
      : key;
  return `.${name.replace(UNPRINTABLE, '?')}`;
}

/** The decoded key, or `undefined` for a bad escape. JSON.parse of one flat string is linear and cannot recurse. */
function decodeKey(raw: string): string | undefined {
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return undefined;
  }
}

/** The open containers of a scan, innermost last; an object's current key is `text.slice(keyStart, keyEnd)`. */
interface Stack {
  readonly kinds: number[];
  /** Entries so far (elements or keys). */
  readonly counts: number[];
  readonly keyStarts: number[];
  readonly keyEnds: number[];
}

/**
 * `root`, then the current entry (`.key`, `[index]`) of each open container up to and including `last`: the
 * path of the value that entry holds. Built only to report a violation.
 */
function pathTo(text: string, root: string, stack: Stack, last: number): string {
  let path = root;
  for (let level = 0; level <= last; level++) {
    path +=
      stack.kinds[level] === OBJECT
        ? keySegment(decodeKey(text.slice(stack.keyStarts[level], stack.keyEnds[level])) ?? '')
        : `[${stack.counts[level] - 1}]`;
  }
  return path;
}

/** A syntax error at `offset`, found inside the container at `top`. */
function syntaxViolation(
  text: string,
  root: string,
  stack: Stack,
  top: number,
  reason: string,
  offset: number,
): ShapeViolation {
  return { rule: 'syntax', path: pathTo(text, root, stack, top - 1), reason: `${reason} at offset ${offset}` };
}

/** Whether the key `text.slice(start, end)`, which has no backslash, is a forbidden key; allocates nothing. */
function plainKeyIsForbidden(text: string, start: number, end: number): boolean {
  const length = end - start;
  if (length < SHORTEST_FORBIDDEN) return false;
  for (let k = 0; k < FORBIDDEN_NAMES.length; k++) {
    const name = FORBIDDEN_NAMES[k];
    if (name.length === length && text.startsWith(name, start)) return true;
  }
  return false;
}

/**
 * Whether the key `text.slice(start, end)`, which has a backslash, is a forbidden key once decoded, or
 * `undefined` when `JSON.parse` would refuse it (a bad escape, or a raw control character). Decoded only
 * when its length could spell a forbidden key.
 */
function escapedKeyIsForbidden(text: string, start: number, end: number): boolean | undefined {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20) return undefined;
    if (c !== BACKSLASH) continue;
    const escape = text.charCodeAt(++i);
    if (escape === 0x75) {
      // `\uXXXX`; `text[end]` is the closing quote, never a hex digit, so this cannot read past the key.
      if (!isHexDigit(text.charCodeAt(i + 1)) || !isHexDigit(text.charCodeAt(i + 2))) return undefined;
      if (!isHexDigit(text.charCodeAt(i + 3)) || !isHexDigit(text.charCodeAt(i + 4))) return undefined;
      i += 4;
    } else if (!isSimpleEscape(escape)) {
      return undefined;
    }
  }
  const length = end - start;
  if (length < SHORTEST_FORBIDDEN || length > LONGEST_FORBIDDEN_RAW) return false;
  const key = decodeKey(text.slice(start, end));
  return key === undefined ? undefined : FORBIDDEN_KEYS.has(key);
}

/** `"` `\\` `/` `b` `f` `n` `r` `t`: the characters that may follow a backslash, besides `u`. */
function isSimpleEscape(c: number): boolean {
  return (
    c === QUOTE ||
    c === BACKSLASH ||
    c === 0x2f || // /
    c === 0x62 || // b
    c === 0x66 || // f
    c === 0x6e || // n
    c === 0x72 || // r
    c === 0x74 // t
  );
}

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/**
 * Index of the quote closing a string whose content starts at `from` (just after its opening quote), or -1.
 * Jumps from quote to quote with `indexOf`; a quote is escaped when an odd run of backslashes precedes it.
 * Each character is looked at at most twice, so a scan stays linear.
 */
function stringEnd(text: string, from: number): number {
  let quote = text.indexOf('"', from);
  while (quote >= 0) {
    // `text[from - 1]` is the opening quote, so the run cannot reach before the string.
    let before = quote - 1;
    while (text.charCodeAt(before) === BACKSLASH) before--;
    if (((quote - before) & 1) === 1) return quote;
    quote = text.indexOf('"', quote + 1);
  }
  return -1;
}

/** Characters that can appear in a number or in `true`, `false`, `null`. */
function isLiteralChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) || // 0-9
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    c === 0x2b || // +
    c === 0x2d || // -
    c === 0x2e // .
  );
}
