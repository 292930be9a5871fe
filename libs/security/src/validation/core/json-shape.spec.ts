import fc from 'fast-check';
import {
  checkJsonShape,
  checkQueryString,
  checkValueShape,
  FORBIDDEN_KEYS,
  parseJsonWithin,
  type JsonShapeLimits,
} from './json-shape.js';

const limits: JsonShapeLimits = { maxDepth: 32, maxArrayLength: 1000, maxKeys: 1000 };
const tight: JsonShapeLimits = { maxDepth: 2, maxArrayLength: 2, maxKeys: 2 };
const generous: JsonShapeLimits = { maxDepth: 2_000_000, maxArrayLength: 1_000_000, maxKeys: 1_000_000 };

function nestedArray(depth: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

describe('FORBIDDEN_KEYS', () => {
  it('holds the three keys that reach prototypes', () => {
    expect([...FORBIDDEN_KEYS].sort()).toEqual(['__proto__', 'constructor', 'prototype']);
  });
});

describe('checkJsonShape', () => {
  it.each([
    '0',
    '"text"',
    'null',
    '[]',
    '{}',
    ' { "a" : [ 1 , -2.5e3 , true , false , null , { } , [ ] ] , "b" : { "c" : "d" } } ',
    '\n\t\r[\n1\n]\n',
    '{"name":"Ünïcødé 😀","list":[[["deep"]]]}',
  ])('accepts %j', (text) => {
    expect(checkJsonShape(text, limits)).toBeUndefined();
  });

  it('refuses nesting past maxDepth, naming the container that went too deep', () => {
    expect(checkJsonShape('[[[]]]', tight)).toEqual({
      rule: 'depth',
      path: 'body[0][0]',
      reason: 'nested deeper than 2 levels',
    });
    expect(checkJsonShape('{"a":{"b":{}}}', tight)?.path).toBe('body.a.b');
    expect(checkJsonShape('[[]]', tight)).toBeUndefined();
    expect(checkJsonShape('{"a":{"b":1}}', tight)).toBeUndefined();
  });

  it('refuses a 10,000-deep array at the limit, with the path to it', () => {
    const text = '['.repeat(10_000) + ']'.repeat(10_000);
    expect(checkJsonShape(text, limits)).toEqual({
      rule: 'depth',
      path: `body${'[0]'.repeat(32)}`,
      reason: 'nested deeper than 32 levels',
    });
  });

  it('refuses 1,000,000 open brackets without throwing', () => {
    const text = '['.repeat(1_000_000);
    expect(checkJsonShape(text, limits)?.rule).toBe('depth');
    expect(checkJsonShape('{"a":'.repeat(1_000_000), limits)?.rule).toBe('depth');
    // With no depth limit to stop early it must still walk them all without recursion.
    expect(checkJsonShape(text, generous)?.rule).toBe('syntax');
  });

  it('walks 1,000,000 balanced levels without recursion when the limits allow them', () => {
    expect(checkJsonShape('['.repeat(1_000_000) + ']'.repeat(1_000_000), generous)).toBeUndefined();
  });

  it('counts elements per array, not in total', () => {
    expect(checkJsonShape('[[1,2],[3,4]]', tight)).toBeUndefined();
    expect(checkJsonShape('{"a":[1,2],"b":[1,2,3]}', tight)).toEqual({
      rule: 'array_length',
      path: 'body.b',
      reason: 'more than 2 elements',
    });
    expect(checkJsonShape('[1,2,3]', tight)?.path).toBe('body');
    expect(checkJsonShape(`[${'0,'.repeat(1000)}0]`, limits)?.rule).toBe('array_length');
    expect(checkJsonShape(`[${'0,'.repeat(999)}0]`, limits)).toBeUndefined();
  });

  it('counts keys per object, not in total, and duplicates each time', () => {
    expect(checkJsonShape('{"a":{"x":1,"y":2},"b":{"x":1,"y":2}}', tight)).toBeUndefined();
    expect(checkJsonShape('{"a":{"x":1,"y":2},"b":{"x":1,"y":2,"z":3}}', tight)).toEqual({
      rule: 'keys',
      path: 'body.b',
      reason: 'more than 2 keys',
    });
    expect(checkJsonShape('{"a":1,"a":2,"a":3}', tight)?.rule).toBe('keys');
  });

  it('refuses forbidden keys at any depth', () => {
    expect(checkJsonShape('{"__proto__":{"isAdmin":true}}', limits)).toEqual({
      rule: 'forbidden_key',
      path: 'body.__proto__',
      reason: 'is a forbidden key',
    });
    expect(checkJsonShape('{"a":[1,{"constructor":{"prototype":{}}}]}', limits)?.path).toBe('body.a[1].constructor');
    expect(checkJsonShape('[[{"b":{"prototype":1}}]]', limits)?.path).toBe('body[0][0].b.prototype');
  });

  it.each([
    ['{"__pro\\u0074o__":{}}', 'body.__proto__'],
    ['{"\\u005F\\u005Fproto\\u005f\\u005f":{}}', 'body.__proto__'],
    ['{"constr\\u0075ctor":{}}', 'body.constructor'],
    ['{"a":{"\\u0070rototype":1}}', 'body.a.prototype'],
  ])('refuses the escaped forbidden key in %s', (text, path) => {
    expect(JSON.parse(text)).toBeTypeOf('object'); // valid JSON: only the key name is at fault
    expect(checkJsonShape(text, limits)).toMatchObject({ rule: 'forbidden_key', path });
  });

  it('accepts forbidden words as values and as parts of longer keys', () => {
    expect(checkJsonShape('{"a":"__proto__","b":["constructor"],"__proto__x":1,"my_prototype":2}', limits)).toBe(
      undefined,
    );
  });

  it('does not count brackets, braces or quotes inside strings', () => {
    const text = JSON.stringify({ a: '[[[[{{{{"]]]}}', b: '\\', c: '"', 'x":[[[[': '\\"}' });
    expect(checkJsonShape(text, { maxDepth: 1, maxArrayLength: 0, maxKeys: 4 })).toBeUndefined();
    // A string ending in an escaped backslash closes there: the array after it is seen.
    expect(checkJsonShape('["\\\\",[1]]', { maxDepth: 1, maxArrayLength: 5, maxKeys: 5 })).toMatchObject({
      rule: 'depth',
      path: 'body[1]',
    });
    expect(checkJsonShape('["\\"]",[1]]', { maxDepth: 1, maxArrayLength: 5, maxKeys: 5 })?.path).toBe('body[1]');
  });

  it.each([
    ['', 'unexpected end'],
    ['   ', 'unexpected end'],
    ['[1,2', 'unexpected end'],
    ['{"a":1', 'unexpected end'],
    ['{"a":"x', 'unterminated string'],
    ['{"a', 'unterminated key'],
    ['[1}', 'expected a comma or a closing bracket'],
    ['{"a":1]', 'expected a comma or a closing bracket'],
    ['{"a" 1}', 'expected a colon'],
    ['{a:1}', 'expected a key'],
    ['{"a":1,}', 'expected a key'],
    ['[1,]', 'unexpected character'],
    ['{} {}', 'unexpected text after the value'],
    ['[1]]', 'unexpected text after the value'],
    ['{"\\x":1}', 'invalid key'],
    ['{"\\u00zz":1}', 'invalid key'],
  ])('reports %j as a syntax error (%s)', (text, reason) => {
    expect(() => JSON.parse(text)).toThrow();
    const violation = checkJsonShape(text, limits);
    expect(violation?.rule).toBe('syntax');
    expect(violation?.reason).toContain(reason);
  });

  it('validates every escaped key, decoding only those that could spell a forbidden key', () => {
    const escaped = (name: string) =>
      name.replaceAll(/./g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
    // Fully escaped: the longest spelling of a forbidden key (66 characters) is still found.
    expect(checkJsonShape(`{"${escaped('constructor')}":1}`, limits)).toMatchObject({
      rule: 'forbidden_key',
      path: 'body.constructor',
    });
    expect(checkJsonShape('{"prototyp\\u0065":{}}', limits)?.path).toBe('body.prototype');
    expect(checkJsonShape('{"\\u005f_proto__x":1,"proto\\u0074ypes":2,"\\n__proto__":3}', limits)).toBeUndefined();
    // A bad escape is refused whatever the key's length; a raw control character only beside an escape.
    expect(checkJsonShape(`{"${'k'.repeat(100)}\\x":1}`, limits)?.reason).toContain('invalid key');
    expect(checkJsonShape('{"\\q":1}', limits)?.reason).toContain('invalid key');
    expect(checkJsonShape('{"a\\n\u0001":1}', limits)?.reason).toContain('invalid key');
    expect(checkJsonShape('{"a\u0001":1}', limits)).toBeUndefined();
    expect(parseJsonWithin('{"a\u0001":1}', limits)).toMatchObject({ violation: { reason: 'not valid JSON' } });
  });

  it('names escaped keys decoded in paths', () => {
    expect(checkJsonShape('{"\\u0061\\"b":{"c\\\\":[[1]]}}', { ...tight, maxDepth: 3 })?.path).toBe('body.a"b.c\\[0]');
    expect(checkJsonShape('{"x":1,"\\u0079":{"z":[1,2,3]}}', tight)?.path).toBe('body.y.z');
  });

  it('finds the end of strings after long runs of backslashes', () => {
    const run = (count: number) => '\\'.repeat(count);
    // An even run ends before the quote, an odd one escapes it.
    expect(checkJsonShape(`["${run(10_000)}",[1]]`, { maxDepth: 1, maxArrayLength: 5, maxKeys: 5 })?.path).toBe(
      'body[1]',
    );
    expect(checkJsonShape(`["${run(9_999)}",[1]]`, limits)?.reason).toContain('unterminated string');
    expect(checkJsonShape(`{"${run(4)}\\"":[[[1]]]}`, tight)?.path).toBe('body.\\\\"[0]');
  });

  it('stays linear on many escaped keys and escaped quotes', () => {
    const keys = Array.from({ length: 100_000 }, (_, k) => `"k\\u0065y${k}":"\\"${k}\\""`).join(',');
    expect(checkJsonShape(`{${keys}}`, generous)).toBeUndefined();
    // Plain keys and one backslash at the very end: looking for it once per key would be quadratic.
    const plain = Array.from({ length: 100_000 }, (_, k) => `"key${k}":${k}`).join(',');
    expect(checkJsonShape(`{${plain},"last":"\\n"}`, generous)).toBeUndefined();
    const quotes = `["${'\\"'.repeat(200_000)}"]`;
    expect(checkJsonShape(quotes, generous)).toBeUndefined();
  });

  it('refuses a key exactly as JSON.parse reads it (fast-check, fixed seed)', () => {
    // Each unit keeps its backslashes paired with what follows, so a quote in a key is always escaped.
    const unit = fc.constantFrom(
      '\\"',
      '\\\\',
      '\\/',
      '\\n',
      '\\t',
      '\\x',
      '\\u',
      '\\u005f',
      '\\u0070',
      '\\u0074',
      '\\uD83D',
      '_',
      'p',
      'r',
      'o',
      't',
      'e',
      'y',
      'c',
      'n',
      's',
      'u',
      '0',
      '5',
      'f',
      'F',
      'g',
      '\u0001',
      '\n',
      'ü',
      '😀',
      '__proto__',
      'prototype',
      'constructor',
      'constr',
      'uctor',
    );
    const deep = { maxDepth: 3, maxArrayLength: 5, maxKeys: 5 };
    fc.assert(
      fc.property(
        fc.array(unit, { maxLength: 8 }).map((units) => units.join('')),
        (raw) => {
          for (const text of [`{"${raw}":1}`, `{"a":[{"${raw}":[[1]]}]}`]) {
            const violation = checkJsonShape(text, deep);
            let value: unknown;
            try {
              value = JSON.parse(text);
            } catch {
              if (raw.includes('\\')) {
                expect(violation?.reason).toContain('invalid key');
              } else {
                // Beside no escape a raw control character is left to JSON.parse: the key reads as if escaped.
                const escaped = text.replaceAll('\u0001', '\\u0001').replaceAll('\n', '\\n');
                expect(violation).toEqual(checkValueShape(JSON.parse(escaped), deep, 'body'));
              }
              continue;
            }
            expect(violation).toEqual(checkValueShape(value, deep, 'body'));
          }
        },
      ),
      { seed: 11, numRuns: 3000 },
    );
  });

  it('leaves the spelling of literals to JSON.parse', () => {
    expect(checkJsonShape('[tru, 01, 1e]', limits)).toBeUndefined();
  });

  it('names keys in paths cut to 64 characters, control characters masked, never a value', () => {
    const long = 'k'.repeat(100);
    expect(checkJsonShape(JSON.stringify({ [long]: [[1]] }), tight)?.path).toBe(`body.${'k'.repeat(64)}[0]`);
    expect(checkJsonShape(JSON.stringify({ 'a\nb\u2028': [[1]] }), tight)?.path).toBe('body.a?b?[0]');
    const violation = checkJsonShape('{"password":"hunter2-secret","x":[[[1]]]}', tight);
    expect(JSON.stringify(violation)).not.toContain('hunter2');
  });

  it('uses the root it is given', () => {
    expect(checkJsonShape('[[[1]]]', tight, 'payload')?.path).toBe('payload[0][0]');
  });

  it('never throws and never flags valid JSON as a syntax error, on arbitrary text', () => {
    const jsonish = fc.string({
      unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', ':', ',', ' ', '1', 'a', 'u', '0', 'e', 'null'),
      maxLength: 40,
    });
    fc.assert(
      fc.property(fc.oneof(jsonish, fc.string(), fc.json()), (text) => {
        const violation = checkJsonShape(text, generous);
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        // Valid JSON can only break a rule the generous limits keep: a forbidden key.
        if (valid) expect(violation === undefined || violation.rule === 'forbidden_key').toBe(true);
        else if (violation) expect(violation.rule).toBe('syntax');
      }),
      { seed: 8, numRuns: 2000 },
    );
  });
});

describe('parseJsonWithin', () => {
  it('parses text within the limits', () => {
    expect(parseJsonWithin('{"a":[1,"x",null]}', limits)).toEqual({ value: { a: [1, 'x', null] } });
  });

  it('does not parse text that breaks a limit', () => {
    expect(parseJsonWithin('{"__proto__":{"polluted":true}}', limits)).toEqual({
      violation: { rule: 'forbidden_key', path: 'body.__proto__', reason: 'is a forbidden key' },
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(parseJsonWithin('['.repeat(10_000) + ']'.repeat(10_000), limits)).toMatchObject({
      violation: { rule: 'depth' },
    });
  });

  it('turns JSON.parse failures into a syntax violation that quotes nothing', () => {
    expect(parseJsonWithin('{"a":tru, "secret":"s3cr3t"}', limits)).toEqual({
      violation: { rule: 'syntax', path: 'body', reason: 'not valid JSON' },
    });
    expect(parseJsonWithin('{"a":"\u0001"}', limits, 'input')).toEqual({
      violation: { rule: 'syntax', path: 'input', reason: 'not valid JSON' },
    });
  });
});

describe('checkValueShape', () => {
  it('applies the same rules to a built value, under the given root', () => {
    expect(checkValueShape({ a: [1, { b: 'c' }] }, limits, 'query')).toBeUndefined();
    expect(checkValueShape({ a: { b: { c: 1 } } }, tight, 'query')).toEqual({
      rule: 'depth',
      path: 'query.a.b',
      reason: 'nested deeper than 2 levels',
    });
    expect(checkValueShape({ a: [1, 2, 3] }, tight, 'query')?.path).toBe('query.a');
    expect(checkValueShape({ a: { x: 1, y: 2, z: 3 } }, tight, 'query')).toMatchObject({
      rule: 'keys',
      path: 'query.a',
    });
  });

  it('refuses own forbidden keys, as JSON.parse and query parsers create them', () => {
    expect(checkValueShape(JSON.parse('{"a":{"__proto__":{"x":1}}}'), limits, 'body')).toMatchObject({
      rule: 'forbidden_key',
      path: 'body.a.__proto__',
    });
    const bare = Object.assign(Object.create(null) as object, { constructor: 'x' });
    expect(checkValueShape({ list: [bare] }, limits, 'query')?.path).toBe('query.list[0].constructor');
  });

  it('walks a 10,000-deep value without recursion', () => {
    const value = nestedArray(10_000);
    expect(checkValueShape(value, limits, 'body')).toEqual({
      rule: 'depth',
      path: `body${'[0]'.repeat(32)}`,
      reason: 'nested deeper than 32 levels',
    });
    expect(checkValueShape(value, generous, 'body')).toBeUndefined();
  });

  it('stops on a cycle at the depth limit', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(checkValueShape(cycle, limits, 'body')?.rule).toBe('depth');
  });

  it('checks array length without reading every slot of a huge sparse array', () => {
    const sparse: unknown[] = [];
    sparse.length = 1e9;
    expect(checkValueShape({ a: sparse }, limits, 'body')).toMatchObject({
      rule: 'array_length',
      path: 'body.a',
    });
  });

  it('treats buffers as leaves and a throwing getter as a violation, never throwing', () => {
    expect(checkValueShape({ raw: Buffer.alloc(5000) }, tight, 'body')).toBeUndefined();
    const trap = {
      get a(): unknown {
        throw new Error('boom');
      },
    };
    expect(checkValueShape(trap, limits, 'body')).toMatchObject({ rule: 'syntax', path: 'body' });
  });

  it('agrees with checkJsonShape on the JSON text of any value (fast-check, fixed seed)', () => {
    const key = fc.oneof(
      { weight: 8, arbitrary: fc.string({ maxLength: 5 }) },
      { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype') },
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc
          .array(fc.tuple(key, tie('value')), { maxLength: 4 })
          .map((entries) => Object.fromEntries(entries) as unknown),
      ),
    }));
    const shapes: JsonShapeLimits[] = [tight, { maxDepth: 4, maxArrayLength: 3, maxKeys: 3 }];
    fc.assert(
      fc.property(value, fc.constantFrom(...shapes), fc.boolean(), (v, shape, pretty) => {
        const text = pretty ? JSON.stringify(v, null, 2) : JSON.stringify(v);
        expect(checkJsonShape(text, shape)).toEqual(checkValueShape(v, shape, 'body'));
        expect(checkJsonShape(text, generous)).toEqual(checkValueShape(v, generous, 'body'));
        expect(checkValueShape(JSON.parse(text), shape, 'body')).toEqual(checkValueShape(v, shape, 'body'));
      }),
      { seed: 42, numRuns: 1000 },
    );
  });
});

describe('checkQueryString', () => {
  const query = { maxParams: 100 };

  it.each([
    '',
    'a=1&b=2',
    'a[b][c]=1&a.d=2',
    'list=1&list=2',
    'q=%E2%82%AC+%26+more',
    'x=__proto__&y=constructor',
    '__proto__x=1&my.prototypes=2',
    '__proto__+=1',
    'a%5Bb%5D=1',
    'flag',
  ])('accepts %j', (search) => {
    expect(checkQueryString(search, query)).toBeUndefined();
  });

  it.each([
    ['__proto__[x]=1', 'query.__proto__[x]'],
    ['__proto__=1', 'query.__proto__'],
    ['a=1&a[constructor][prototype]=1', 'query.a[constructor][prototype]'],
    ['a.__proto__=1', 'query.a.__proto__'],
    ['a.b.prototype=1', 'query.a.b.prototype'],
    ['%5F%5Fproto%5F%5F=1', 'query.__proto__'],
    ['a%5B__proto__%5D=1', 'query.a[__proto__]'],
    ['a%2Econstructor=1', 'query.a.constructor'],
    ['__pro%74o__', 'query.__proto__'],
    ['?__proto__[polluted]=1', 'query.__proto__[polluted]'],
    ['my+form[__proto__]=1', 'query.my form[__proto__]'],
  ])('refuses %j', (search, path) => {
    expect(checkQueryString(search, query)).toEqual({ rule: 'forbidden_key', path, reason: 'is a forbidden key' });
  });

  it.each([
    ['%=1', 'query'],
    ['a%ZZ=1', 'query'],
    ['%E0%A4%A=1', 'query'],
    ['%FF=1', 'query'],
    ['a=100%', 'query.a'],
    ['a=%C3%28', 'query.a'],
  ])('refuses the bad percent-encoding in %j', (search, path) => {
    expect(checkQueryString(search, query)).toMatchObject({ rule: 'syntax', path });
  });

  it('refuses more than maxParams parameters, not counting empty ones', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => `p${i}=1`).join('&');
    expect(checkQueryString(hundred, query)).toBeUndefined();
    expect(checkQueryString(`${hundred}&&&`, query)).toBeUndefined();
    expect(checkQueryString(`${hundred}&last=1`, query)).toEqual({
      rule: 'keys',
      path: 'query',
      reason: 'more than 100 parameters',
    });
  });

  it('stops at the limit on a huge query string', () => {
    expect(checkQueryString('a=1&'.repeat(1_000_000), query)?.rule).toBe('keys');
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (search) => {
        const violation = checkQueryString(search, query);
        if (violation) expect(['syntax', 'keys', 'forbidden_key']).toContain(violation.rule);
      }),
      { seed: 8, numRuns: 1000 },
    );
  });
});
