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

// Scanner states: what the next non-blank character must start.
const VALUE = 0;
const AFTER_VALUE = 1;
const MEMBER = 2;
const ELEMENT = 3;

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
 * @example checkJsonShape('{"a":[[1]]}', { maxDepth: 2, maxArrayLength: 10, maxKeys: 10 })
 * // → { rule: 'depth', path: 'body.a[0]', reason: 'nested deeper than 2 levels' }
 */
export function checkJsonShape(text: string, limits: JsonShapeLimits, root = 'body'): ShapeViolation | undefined {
  if (typeof text !== 'string') return { rule: 'syntax', path: root, reason: 'not JSON text' };
  const kinds: number[] = [];
  // Entries so far (elements or keys) of each open container.
  const counts: number[] = [];
  // How each open container is reached from its parent (`.a`, `[3]`); joined only to report.
  const segments: string[] = [];
  const path = (last = '') => root + segments.join('') + last;
  const syntax = (reason: string, at: number): ShapeViolation => ({
    rule: 'syntax',
    path: path(),
    reason: `${reason} at offset ${at}`,
  });
  const n = text.length;
  let pending = '';
  let state = VALUE;
  let i = 0;

  for (;;) {
    i = skipWhitespace(text, i);
    const c = i < n ? text.charCodeAt(i) : -1;
    const top = kinds.length - 1;

    if (state === VALUE) {
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (kinds.length >= limits.maxDepth) return depthViolation(path(pending), limits.maxDepth);
        kinds.push(c === OPEN_BRACE ? OBJECT : ARRAY);
        counts.push(0);
        segments.push(pending);
        i = skipWhitespace(text, i + 1);
        if (text.charCodeAt(i) === (c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET)) {
          i++;
          kinds.pop();
          counts.pop();
          segments.pop();
          state = AFTER_VALUE;
        } else {
          state = c === OPEN_BRACE ? MEMBER : ELEMENT;
        }
      } else if (c === QUOTE) {
        const end = stringEnd(text, i + 1);
        if (end < 0) return syntax('unterminated string', i);
        i = end + 1;
        state = AFTER_VALUE;
      } else {
        // Numbers, true, false, null: their spelling is JSON.parse's business.
        const start = i;
        while (i < n && isLiteralChar(text.charCodeAt(i))) i++;
        if (i === start) return syntax(c < 0 ? 'unexpected end' : 'unexpected character', i);
        state = AFTER_VALUE;
      }
    } else if (state === ELEMENT) {
      if (counts[top] >= limits.maxArrayLength) {
        return { rule: 'array_length', path: path(), reason: `more than ${limits.maxArrayLength} elements` };
      }
      pending = `[${counts[top]}]`;
      counts[top]++;
      state = VALUE;
    } else if (state === MEMBER) {
      if (c !== QUOTE) return syntax('expected a key', i);
      if (counts[top] >= limits.maxKeys) return keysViolation(path(), limits.maxKeys);
      counts[top]++;
      const end = stringEnd(text, i + 1);
      if (end < 0) return syntax('unterminated key', i);
      const key = decodeKey(text.slice(i + 1, end));
      if (key === undefined) return syntax('invalid key', i);
      pending = keySegment(key);
      if (FORBIDDEN_KEYS.has(key)) return forbiddenKeyViolation(path(pending));
      i = skipWhitespace(text, end + 1);
      if (text.charCodeAt(i) !== COLON) return syntax('expected a colon', i);
      i++;
      state = VALUE;
    } else if (top < 0) {
      return c < 0 ? undefined : syntax('unexpected text after the value', i);
    } else if (c === COMMA) {
      i++;
      state = kinds[top] === OBJECT ? MEMBER : ELEMENT;
    } else if (c === (kinds[top] === OBJECT ? CLOSE_BRACE : CLOSE_BRACKET)) {
      i++;
      kinds.pop();
      counts.pop();
      segments.pop();
    } else {
      return syntax(c < 0 ? 'unexpected end' : 'expected a comma or a closing bracket', i);
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
      if (index >= limits.maxArrayLength) {
        return { rule: 'array_length', path: path(), reason: `more than ${limits.maxArrayLength} elements` };
      }
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

/** Index of the quote closing a string whose content starts at `from`, or -1. */
function stringEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i;
  }
  return -1;
}

function skipWhitespace(text: string, from: number): number {
  let i = from;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
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
