import { connect } from 'node:net';
import fc from 'fast-check';
import { Sessions } from '@app/security';
import { ADAPTERS, startDemo, type RunningDemo } from './support/demo-app.js';
import { addKey, createIdentity, type Identity } from './support/identities.js';
import { listRoutes, type AppRoute } from './support/routes.js';

/**
 * Property-based robustness of the demo: random JSON bodies, header values, path segments and query strings,
 * sent over a raw socket (so that values `fetch` would refuse or normalise still reach the server), never
 * answer a 5xx, always answer, and answer JSON whenever they answer a body. Every route of the demo is in the
 * tables below: a test compares them with the routes its controllers map.
 */

const SEED = 0x5eed_0008;
const RUNS = { bodies: 600, headers: 300, paths: 400, queries: 300 } as const;
// Every request answers well within this, or the property fails with the input that hung.
const ANSWER_WITHIN_MS = 15_000;
const JSON_CONTENT = /^application\/(?:problem\+)?json\b/i;

interface RawResponse {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

interface RawRequest {
  readonly method: string;
  /** The request target, sent byte for byte (UTF-8), without any normalisation. */
  readonly target: string;
  readonly headers: readonly (readonly [string, string])[];
  /** Text is sent as UTF-8 (and shows as text in a counterexample). */
  readonly body?: string | Buffer;
}

/** `{ status, headers, body }` once `bytes` hold a whole final response, else undefined (1xx are skipped). */
function parseResponse(bytes: Buffer, method: string, ended: boolean): RawResponse | undefined {
  let start = 0;
  for (;;) {
    const headEnd = bytes.indexOf('\r\n\r\n', start);
    if (headEnd < 0) return undefined;
    const lines = bytes.subarray(start, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const rest = bytes.subarray(headEnd + 4);
    if (status >= 100 && status < 200) {
      start = headEnd + 4;
      continue;
    }
    if (method === 'HEAD' || status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0) };
    if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) {
      const body = dechunk(rest);
      return body ? { status, headers, body } : undefined;
    }
    const length = headers.get('content-length');
    if (length !== undefined) {
      return rest.length >= Number(length) ? { status, headers, body: rest.subarray(0, Number(length)) } : undefined;
    }
    return ended ? { status, headers, body: rest } : undefined;
  }
}

/** The body of a complete chunked message, or undefined while chunks are missing. */
function dechunk(bytes: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return Buffer.concat(parts);
    if (size === 0) return Buffer.concat(parts);
    if (bytes.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** One HTTP/1.1 request on its own connection; rejects when no whole response arrives. */
function rawRequest(port: number, request: RawRequest): Promise<RawResponse> {
  const body = typeof request.body === 'string' ? Buffer.from(request.body, 'utf8') : request.body;
  const head = [
    `${request.method} ${request.target} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    // Before the fuzzed headers, so that a value that ends the head early still closes the connection.
    'Connection: close',
    ...request.headers.map(([name, value]) => `${name}: ${value}`),
    ...(body ? [`Content-Length: ${body.length}`] : []),
    '',
    '',
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect(port, '127.0.0.1');
    const settle = (ended: boolean, error?: Error) => {
      if (settled) return;
      const response = parseResponse(Buffer.concat(chunks), request.method, ended);
      if (!response && !ended && !error) return;
      settled = true;
      socket.destroy();
      if (response) resolve(response);
      else
        reject(
          error ?? new Error(`the connection closed without a whole response (${Buffer.concat(chunks).length} bytes)`),
        );
    };
    socket.setTimeout(ANSWER_WITHIN_MS, () => settle(true, new Error(`no answer within ${ANSWER_WITHIN_MS} ms`)));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      settle(false);
    });
    socket.on('end', () => settle(true));
    socket.on('close', () => settle(true));
    // A server that answers (413, 431...) and closes before the whole request is written resets the
    // connection: the answer already read counts.
    socket.on('error', (error) => settle(true, error));
    socket.write(Buffer.from(head, 'utf8'));
    if (body) socket.write(body);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------------------

const NASTY_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  '$gt',
  '$ne',
  '$where',
  '$regex',
  '$expr',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'polluted',
  'isAdmin',
  '',
  'a.b',
  'a[b]',
] as const;

/** Pieces that tend to break parsers, SQL, shells and HTML sanitisers. */
const NASTY_TEXT = [
  '\u0000',
  '\u0001',
  '\u001b',
  '\u007f',
  '\u2028',
  '\u202e',
  '\ufeff',
  '\ud800',
  '\udfff',
  '\uffff',
  '😀',
  'e\u0301',
  "'",
  '"',
  '\\',
  '%',
  '_',
  '`',
  '$(id)',
  '; rm -rf /',
  '\n',
  '\r\n',
  "' OR 1=1 --",
  "'; DROP TABLE documents; --",
  "' UNION SELECT username, NULL FROM principals --",
  "1' AND pg_sleep(0) IS NULL --",
  '<script>alert(1)</script>',
  '<a href="javascript:alert(1)">x</a>',
  '<img src=x onerror=alert(1)>',
  '<<b>>',
  '<!--',
  '{{7*7}}',
  '${7*7}',
  '../../etc/passwd',
  '%00',
  '%s%n',
  'null',
  'undefined',
  'NaN',
] as const;

/** C0 controls, NUL first: text columns, drivers and parsers disagree about them most often. */
const CONTROLS = ['\u0000', '\u0000', '\u0008', '\t', '\u000b', '\u000c', '\u001f'] as const;

/** Strings of any code points mixed with the nasty pieces (lone surrogates and NULs included). */
const text = (maxLength = 40) =>
  fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
        { weight: 3, arbitrary: fc.constantFrom(...NASTY_TEXT) },
        { weight: 1, arbitrary: fc.constantFrom(...CONTROLS) },
      ),
      { maxLength },
    )
    .map((parts) => parts.join(''));

const longText = fc.oneof(
  fc.integer({ min: 200, max: 5_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 100_000, max: 120_000 }).map((n) => 'é'.repeat(n / 2)),
);

/** Number literals as JSON text, including the ones JSON.stringify never writes. */
const numberLiteral = fc.oneof(
  fc.constantFrom(
    '0',
    '-0',
    '1e308',
    '-1e308',
    '1e309',
    '-1E400',
    '5e-324',
    '1e-400',
    '1.7976931348623157e308',
    '9007199254740993',
    '123456789012345678901234567890',
    '0.1',
    '1e-7',
    '150',
    '151',
    '-1',
    '0.001',
    '1000000000.01',
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.integer().map(String),
);

/** String literals as JSON text: any string, plus escapes that decode to something else. */
const stringLiteral = fc.oneof(
  { weight: 5, arbitrary: text().map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: longText.map((s) => JSON.stringify(s)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('"\\u0000"', '"\\ud800"', '"\\udc00\\ud800"', '"\\/"', '"\\u005f_proto__"', '"a\\"b"'),
  },
);

const keyLiteral = fc.oneof(
  { weight: 3, arbitrary: text(8).map((s) => JSON.stringify(s)) },
  { weight: 2, arbitrary: fc.constantFrom(...NASTY_KEYS).map((s) => JSON.stringify(s)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('"__pro\\u0074o__"', '"\\u0063onstructor"', '"proto\\u0074ype"', '"\\u0024gt"'),
  },
);

/** Random JSON text, built as text so that duplicate keys, escapes and odd numbers survive. */
const { value: jsonText } = fc.letrec<{ value: string; scalar: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 6 }, tie('scalar'), tie('array'), tie('object')),
  scalar: fc.oneof(numberLiteral, stringLiteral, fc.constantFrom('true', 'false', 'null')),
  array: fc.array(tie('value'), { maxLength: 6 }).map((items) => `[${items.join(',')}]`),
  object: fc
    .array(fc.tuple(keyLiteral, tie('value')), { maxLength: 6 })
    .map((entries) => `{${entries.map(([key, value]) => `${key}:${value}`).join(',')}}`),
}));

/** Shapes at and beyond the limits: deep nesting, wide arrays, many keys, big bodies. */
const edgeJson = fc.oneof(
  fc.integer({ min: 20, max: 12_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.integer({ min: 20, max: 12_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  fc.integer({ min: 900, max: 1_100 }).map((n) => `[${Array.from({ length: n }, () => '0').join(',')}]`),
  fc.integer({ min: 900, max: 1_100 }).map((n) => `{${Array.from({ length: n }, (_, i) => `"k${i}":0`).join(',')}}`),
  fc.integer({ min: 90_000, max: 300_000 }).map((n) => JSON.stringify({ title: 't', body: 'b'.repeat(n) })),
  fc
    .integer({ min: 1, max: 40 })
    .map((depth) => `${'{"__proto__":'.repeat(depth)}{"polluted":true}${'}'.repeat(depth)}`),
  fc.constantFrom(
    '{"__proto__":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"a":[{"b":{"__proto__":{"polluted":1}}}]}',
    '{"title":"t","body":"b","__proto__":{"isAdmin":true}}',
    '{"username":{"$gt":""},"password":{"$gt":""}}',
    '{"username":["admin"],"password":"x"}',
    '{"a":1,"a":2}',
  ),
);

/** Broken or non-JSON bodies. */
const malformedBody = fc.oneof(
  jsonText.chain((json) => fc.nat({ max: Math.max(0, json.length - 1) }).map((cut) => json.slice(0, cut))),
  text(60),
  fc.constantFrom('', ' ', 'null', '"', '{', '[', '{"a":}', '{a:1}', "{'a':1}", '[1,]', 'NaN', '\ufeff{}', '{}garbage'),
);

/** Values of the wrong type or shape for any field: operators, arrays, objects, odd numbers, text. */
const oddValue = fc.oneof(
  { weight: 2, arbitrary: text(30) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(
      { $gt: '' },
      { $ne: null },
      { $where: 'sleep(1000)' },
      { $regex: '.*' },
      ['a'],
      [],
      {},
      null,
      true,
      0,
      -0,
      1e308,
      Number.MAX_SAFE_INTEGER + 2,
      '',
      ' ',
      'x'.repeat(100_001),
    ),
  },
);

/** Text of 1 to `max` UTF-16 units (so also at most `max` code points), nasty pieces and NULs included. */
const boundedText = (max: number) => text(Math.min(max, 12)).map((s) => (s === '' ? 'x' : s.slice(0, max)));
const richText = fc
  .array(
    fc.oneof(
      text(6),
      fc.constantFrom(
        '<b>bold</b>',
        '<a href="https://example.com" onclick="x()">link</a>',
        '<a href="javascript:alert(1)">js</a>',
        '<iframe src="//evil"></iframe>',
        '<style>*{}</style>',
        '<svg onload=alert(1)>',
        '<p><ul><li>',
        '&lt;&amp;&#0;&#x110000;',
      ),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));
const username = fc.stringMatching(/^[A-Za-z0-9_]{3,50}$/);
const uuidText = fc.uuid().map(String);

interface Ids {
  readonly adminId: string;
  /** A principal that fuzzed requests may disable or change: never the admin whose key they use. */
  readonly victimId: string;
  /** A spare key of the victim, for the routes that take a key id. */
  readonly spareKeyId: string;
  readonly documentId: string;
  /** A session of the victim, for the routes that take a session id (until one of them ends it). */
  readonly sessionId: string;
}

/**
 * Stand-ins in a request target for what is only known when the request is sent: the caller's session (the
 * victim's, when the caller is no session) and the caller's spare key (the victim's, when the caller is no
 * pool member). `@` is percent-encoded in every fuzzed segment, so fuzzed text never spells them.
 */
const OWN_SESSION = '@own-session';
const OWN_KEY = '@own-key';

/** The password of the pool members, which the MFA and password routes check. */
const MEMBER_PASSWORD = 'correct horse battery staple 42';

/** `METHOD /template` (as `listRoutes` names routes) split in two. */
const methodOf = (route: string) => route.slice(0, route.indexOf(' '));
const templateOf = (route: string) => route.slice(route.indexOf(' ') + 1);

/** A route that takes a JSON body: plausible values for each field of its DTO, and the required ones. */
interface BodyRoute {
  /** The route as `listRoutes` names it, e.g. `PUT /documents/:id`. */
  readonly route: string;
  /** The target; the route's template when omitted (routes without parameters). */
  readonly path?: (ids: Ids) => string;
  readonly fields: (ids: Ids) => Record<string, fc.Arbitrary<unknown>>;
  readonly required: readonly string[];
  /** The route is about the caller itself (MFA, password, sessions): sent as a pool member, not the admin. */
  readonly asMember?: boolean;
}

const documentFields = () => ({
  title: boundedText(200),
  body: richText,
  department: boundedText(64),
  confidential: fc.boolean(),
});

/** Six ASCII digits, and what only looks like them (other digits, other lengths, padding). */
const totpCode = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^\d{6}$/) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '000000',
      '１２３４５６',
      '٠١٢٣٤٥',
      '12345',
      '1234567',
      ' 123456',
      '123456\n',
      '123 456',
    ),
  },
);
/** Recovery codes of the issued shape (4 groups of 4 of `a-z2-9` without look-alikes), in any case and spacing. */
const recoveryCode = fc.oneof(
  fc.stringMatching(/^[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}$/),
  fc.stringMatching(/^[A-HJKMNP-Z2-9]{4} ?[A-HJKMNP-Z2-9]{4} ?[A-HJKMNP-Z2-9]{4} ?[A-HJKMNP-Z2-9]{4}$/),
  boundedText(32),
);
const strongPassword = fc.oneof(
  fc.constant(MEMBER_PASSWORD),
  text(8).map((s) => `Zq9!xv#Lm2@p${s}`),
  fc.constantFrom('short', 'password', 'x'.repeat(256), 'x'.repeat(257)),
);

const BODY_ROUTES: readonly BodyRoute[] = [
  {
    route: 'POST /users',
    fields: () => ({
      username,
      email: fc.emailAddress(),
      age: fc.integer({ min: 0, max: 150 }),
      password: fc.oneof(
        fc.constant('correct horse battery staple'),
        text(8).map((s) => `Zq9!xv#Lm2@p${s}`),
      ),
      department: boundedText(64),
      kind: fc.constantFrom('user', 'service'),
      roles: fc.subarray(['viewer', 'editor']),
    }),
    required: ['username'],
  },
  {
    route: 'POST /login',
    fields: () => ({ username: fc.oneof(username, boundedText(64)), password: boundedText(256) }),
    required: ['username', 'password'],
  },
  { route: 'POST /documents', fields: documentFields, required: ['title', 'body'] },
  {
    route: 'PUT /documents/:id',
    path: ({ documentId }) => `/documents/${documentId}`,
    fields: documentFields,
    required: ['title', 'body', 'department', 'confidential'],
  },
  {
    route: 'POST /documents/:id/grants',
    path: ({ documentId }) => `/documents/${documentId}/grants`,
    fields: ({ victimId }) => ({
      principalId: fc.oneof(uuidText, fc.constant(victimId)),
      action: fc.constantFrom('read', 'write'),
    }),
    required: ['principalId', 'action'],
  },
  {
    route: 'POST /tools/ping',
    fields: () => ({
      host: fc.oneof(
        fc.constantFrom('127.0.0.1', '::1', 'LOCALHOST', '0:0:0:0:0:0:0:1', '127.1', '0x7f.1', 'localhost.'),
        fc.domain(),
        fc.ipV4(),
        fc.ipV6(),
      ),
    }),
    required: ['host'],
  },
  {
    route: 'POST /payments',
    fields: () => ({
      amount: fc.oneof(fc.integer({ min: 1, max: 1_000_000_000 }), fc.constantFrom(0.01, 1e-7, 12.345)),
      currency: fc.constantFrom('EUR', 'USD', 'usd', 'XXX'),
      reference: fc.stringMatching(/^[A-Za-z0-9 _.-]{1,64}$/),
    }),
    required: ['amount', 'currency', 'reference'],
  },
  {
    route: 'POST /admin/keys',
    fields: ({ victimId }) => ({
      name: fc.stringMatching(/^[A-Za-z0-9 ._:/()-]{1,100}$/),
      owner: fc.oneof(fc.constant(victimId), uuidText, boundedText(64)),
      scopes: fc.subarray(['documents:read', 'users:read', '*:*', 'items:read']),
      expiresIn: fc.constantFrom('30d', '1ms', '0s', '99999999999999999999d', '1000000d'),
      environment: fc.constantFrom('live', 'test'),
      allowedCidrs: fc.subarray(['10.0.0.0/8', '::1/128', '127.0.0.1', '0.0.0.0/0', '::/0']),
      rateLimit: fc.constantFrom('10/60s', '0/1s', '99999999999999999999/1s', '1/0ms', '5000/60s'),
    }),
    required: ['name', 'owner'],
  },
  {
    route: 'POST /admin/keys/:id/rotate',
    path: ({ spareKeyId }) => `/admin/keys/${spareKeyId}/rotate`,
    fields: () => ({ grace: fc.constantFrom('0', '10m', '99999999999999999999d', '1000000d', '0ms') }),
    required: [],
  },
  {
    route: 'PUT /admin/roles/:role',
    path: () => '/admin/roles/fuzzed_role',
    fields: () => ({
      permissions: fc.array(fc.constantFrom('documents:read', '*:*', 'a:b', 'x_y:z-1'), { maxLength: 5 }),
    }),
    required: ['permissions'],
  },
  {
    route: 'POST /admin/roles/:role/members',
    path: () => '/admin/roles/viewer/members',
    fields: ({ victimId }) => ({ principalId: fc.oneof(fc.constant(victimId), uuidText) }),
    required: ['principalId'],
  },
  {
    route: 'POST /me/keys',
    fields: () => ({ name: fc.stringMatching(/^[A-Za-z0-9 ._:/()-]{1,100}$/), expiresIn: fc.constantFrom('1d') }),
    required: ['name'],
  },
  {
    route: 'POST /me/keys/:id/rotate',
    path: () => `/me/keys/${OWN_KEY}/rotate`,
    fields: () => ({ grace: fc.constantFrom('0', '10m', '99999999999999999999d', '1000000d', '0ms') }),
    required: [],
    asMember: true,
  },
  {
    route: 'POST /me/password',
    fields: () => ({
      currentPassword: fc.oneof(fc.constant(MEMBER_PASSWORD), boundedText(256)),
      newPassword: strongPassword,
    }),
    required: ['currentPassword', 'newPassword'],
    asMember: true,
  },
  {
    route: 'POST /mfa/enroll',
    fields: () => ({ password: fc.oneof(fc.constant(MEMBER_PASSWORD), boundedText(256)), code: totpCode }),
    required: ['password'],
    asMember: true,
  },
  { route: 'POST /mfa/activate', fields: () => ({ code: totpCode }), required: ['code'], asMember: true },
  {
    route: 'POST /mfa/verify',
    fields: () => ({ code: totpCode, recoveryCode }),
    required: [],
    asMember: true,
  },
  // No DTO: a body they do not read must not break them either.
  { route: 'POST /logout', fields: () => ({}), required: [], asMember: true },
  { route: 'GET /me', fields: () => ({}), required: [] },
];

/** A body for `route`: valid, valid but for one field (wrong, missing or extra), or anything at all. */
function bodyFor(route: BodyRoute, ids: Ids): fc.Arbitrary<string | Buffer> {
  const fields = route.fields(ids);
  const names = Object.keys(fields);
  const valid = fc.record(fields, { requiredKeys: route.required as string[] });
  const oneOff = fc
    .record({
      base: fc.record(fields),
      name: fc.oneof(
        { weight: 3, arbitrary: names.length > 0 ? fc.constantFrom(...names) : fc.constant('extra') },
        { weight: 1, arbitrary: fc.constantFrom(...NASTY_KEYS) },
        { weight: 1, arbitrary: text(8) },
      ),
      value: fc.option(oddValue, { freq: 5 }),
    })
    .map(({ base, name, value }) => {
      // Null prototype: `__proto__` is then an ordinary key that JSON.stringify writes.
      const body = Object.assign(Object.create(null) as Record<string, unknown>, base);
      if (value === null) delete body[name];
      else body[name] = value;
      return body;
    });
  const random = fc.record(Object.fromEntries(names.map((name) => [name, fc.oneof(fields[name]!, oddValue)])), {
    requiredKeys: [],
  });
  return fc.oneof(
    { weight: 3, arbitrary: valid.map((v) => JSON.stringify(v)) },
    { weight: 4, arbitrary: oneOff.map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: random.map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: jsonText },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: edgeJson },
    { weight: 1, arbitrary: malformedBody },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
  );
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON;CHARSET=UTF-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/merge-patch+json',
  'application/problem+json',
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/json;;;',
  'json',
  '*/*',
  '',
] as const;

/**
 * Pool members: the MFA and password routes are limited per principal (10 and 5 per 5 minutes), so the
 * requests to them are spread over this many principals to keep reaching validation.
 */
const MEMBERS = 16;

/**
 * How the request authenticates: mostly as the admin (a pool member on the routes about the caller), so that
 * it reaches validation. A member's session is opened for the one request (logout and password changes end
 * sessions).
 */
type Auth =
  | { kind: 'admin' }
  | { kind: 'member'; index: number; via: 'key' | 'session' }
  | { kind: 'none' }
  | { kind: 'garbage'; key: string };
const base62 = fc.stringMatching(/^[0-9A-Za-z]{40}$/);
const noAuth = fc.constant<Auth>({ kind: 'none' });
const garbageAuth = fc
  .oneof(
    base62.map((s) => `sk_test_${s}`),
    fc.string({ unit: 'grapheme-ascii', maxLength: 60 }),
    base62.map((s) => `Bearer sess_${s}`),
  )
  .map((key): Auth => ({ kind: 'garbage', key }));
const adminAuth = fc.constant<Auth>({ kind: 'admin' });
const memberAuth = fc
  .record({ index: fc.nat({ max: MEMBERS - 1 }), via: fc.constantFrom('key' as const, 'session' as const) })
  .map(({ index, via }): Auth => ({ kind: 'member', index, via }));
const authArb: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 8, arbitrary: adminAuth },
  { weight: 1, arbitrary: noAuth },
  { weight: 1, arbitrary: garbageAuth },
);
const memberAuthArb: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 8, arbitrary: memberAuth },
  { weight: 1, arbitrary: adminAuth },
  { weight: 1, arbitrary: noAuth },
  { weight: 1, arbitrary: garbageAuth },
);
const authFor = (route: { readonly asMember?: boolean }) => (route.asMember ? memberAuthArb : authArb);

/** Percent-encodes every byte of the UTF-8 form except unreserved characters (lone surrogates become U+FFFD). */
function percentEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9._~-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const SQL_SNIPPETS = [
  "' OR 1=1 --",
  "1' OR '1'='1",
  "'; DROP TABLE documents; --",
  '1 UNION SELECT NULL, username FROM principals --',
  "1' AND pg_sleep(0) IS NULL --",
  '1; SELECT 1',
  '"title"',
  'title; DELETE FROM documents',
  'created_at DESC, (SELECT 1)',
] as const;

/** One path segment: percent-encoded random text, traversal, bad encodings, SQL, huge ones, raw bytes. */
const segmentArb = (ids: Ids) =>
  fc.oneof(
    { weight: 4, arbitrary: text(20).map(percentEncode) },
    {
      // A plausible id or name with a control character, a quote or a slash spliced in.
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(ids.victimId, ids.spareKeyId, ids.documentId, ids.sessionId, 'viewer', 'fuzzed_role', 'abc'),
          fc.constantFrom('%00', '%01', '%0A', '%1F', '%7F', '%27', '%22', '%2F', '%5C', '%C0%80', '%FF'),
          fc.nat(),
        )
        .map(
          ([base, insert, at]) => base.slice(0, at % (base.length + 1)) + insert + base.slice(at % (base.length + 1)),
        ),
    },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '%00',
        '..',
        '.',
        '%2e%2e',
        '%2E%2E%2F%2E%2E',
        '..%2f..%2fetc%2fpasswd',
        '%2f',
        '%5c',
        '%',
        '%zz',
        '%c0%af',
        '%ff',
        '%e2%80%ae',
        '%0d%0aX-Injected:%201',
        '%3Cscript%3E',
        ';jsessionid=1',
        '~',
        '*',
        '-1',
        '0',
        '1e3',
        '0x10',
        'null',
        '00000000-0000-0000-0000-000000000000',
        'ffffffff-ffff-ffff-ffff-ffffffffffff',
        '',
        ids.victimId,
        ids.spareKeyId,
        ids.documentId,
        ids.documentId.toUpperCase(),
        `${ids.documentId}%00`,
        ids.sessionId,
        OWN_SESSION,
        OWN_KEY,
      ),
    },
    { weight: 2, arbitrary: fc.constantFrom(...SQL_SNIPPETS).map(percentEncode) },
    { weight: 1, arbitrary: fc.integer({ min: 300, max: 20_000 }).map((n) => 'a'.repeat(n)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('é', '[', ']', '{', '}', '|', '^', '`', '"', '<', '>', '\\', '#', '?', '//'),
    },
  );

const PATH_PREFIXES = (ids: Ids) => [
  '/users/',
  '/documents/',
  `/documents/${ids.documentId}/`,
  `/documents/${ids.documentId}/grants/`,
  '/admin/keys/',
  `/admin/keys/${ids.spareKeyId}/`,
  '/admin/roles/viewer/',
  `/admin/roles/fuzzed_role/members/`,
  '/admin/roles/',
  '/admin/audit/',
  '/me/',
  '/me/keys/',
  '/tools/',
  '/tools/ping/',
  '/payments/',
  '/v1/items/',
  '/v2/items/',
  '/signed/echo/',
  '/health/',
  '/health/ready/',
  '/login/',
  '/logout/',
  '/mfa/',
  '/mfa/verify/',
  '/sessions/',
  '/admin/sessions/',
  '/me/password/',
  '/',
  '//',
];

/** A route with path parameters (as `listRoutes` names it), and a target where `{}` is a fuzzed segment. */
interface PathTemplate {
  readonly route: string;
  readonly path: string;
  readonly asMember?: boolean;
}

const PATH_TEMPLATES = (ids: Ids): readonly PathTemplate[] => [
  { route: 'GET /users/:id', path: '/users/{}' },
  { route: 'DELETE /users/:id', path: '/users/{}' },
  { route: 'GET /documents/:id', path: '/documents/{}' },
  { route: 'PUT /documents/:id', path: '/documents/{}' },
  { route: 'POST /documents/:id/grants', path: '/documents/{}/grants' },
  { route: 'POST /admin/keys/:id/rotate', path: '/admin/keys/{}/rotate' },
  { route: 'POST /admin/keys/:id/revoke', path: '/admin/keys/{}/revoke' },
  { route: 'POST /me/keys/:id/rotate', path: '/me/keys/{}/rotate', asMember: true },
  { route: 'POST /me/keys/:id/revoke', path: '/me/keys/{}/revoke', asMember: true },
  { route: 'PUT /admin/roles/:role', path: '/admin/roles/{}' },
  { route: 'POST /admin/roles/:role/members', path: '/admin/roles/{}/members' },
  { route: 'DELETE /admin/roles/:role/members/:principalId', path: `/admin/roles/{}/members/${ids.victimId}` },
  { route: 'DELETE /admin/roles/:role/members/:principalId', path: '/admin/roles/fuzzed_role/members/{}' },
  { route: 'DELETE /sessions/:id', path: '/sessions/{}', asMember: true },
  { route: 'DELETE /admin/sessions/:id', path: '/admin/sessions/{}' },
  { route: 'ALL /signed/echo/*', path: '/signed/echo/{}' },
];

/** A query parameter name: the documented ones, bracket and dot forms, pollution attempts, random text. */
const queryName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('search', 'sort', 'limit', 'cursor') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'search[]',
      'sort[$ne]',
      'limit[$gt]',
      '__proto__',
      '__proto__[polluted]',
      'a[__proto__][polluted]',
      'constructor[prototype][polluted]',
      'constructor.prototype.polluted',
      '%5F%5Fproto%5F%5F',
      'a[constructor][prototype][x]',
      'a[b][c][d][e][f][g][h][i][j][k][l][m][n][o][p][q][r][s][t][u][v][w][x][y][z]',
      'owner',
      'type',
      'from',
      'page',
    ),
  },
  { weight: 1, arbitrary: text(10).map(percentEncode) },
);

const pad = (n: number, width: number) => String(n).padStart(width, '0');
/** `created_at` keys of the cursor's shape: real-looking instants, and digits in any range (Feb 30, year 0). */
const createdAtKey = fc.oneof(
  fc.constantFrom(
    '0000-01-01T00:00:00.000000Z',
    '2024-02-30T00:00:00.000000Z',
    '2023-02-29T12:00:00.000000Z',
    '2024-01-01T24:00:00.000000Z',
    '9999-12-31T23:59:59.999999Z',
    '1970-01-01T00:00:00.000000Z',
  ),
  fc
    .oneof(
      fc.tuple(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 31 }),
        fc.integer({ min: 0, max: 24 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 999_999 }),
      ),
      fc.tuple(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 0, max: 99 }),
        fc.integer({ min: 0, max: 99 }),
        fc.integer({ min: 0, max: 99 }),
        fc.integer({ min: 0, max: 99 }),
        fc.integer({ min: 0, max: 99 }),
        fc.integer({ min: 0, max: 999_999 }),
      ),
    )
    .map(
      ([y, mo, d, h, mi, s, us]) =>
        `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(us, 6)}Z`,
    ),
);

const DOCUMENT_SORTS = ['title', '-title', 'createdAt', '-createdAt'] as const;
const encodeCursor = (parts: unknown) => Buffer.from(JSON.stringify(parts) ?? '', 'utf8').toString('base64url');

/** A cursor of the documented shape (base64url of `[sort, key, id]`) for `sort`, its parts random. */
const cursorOf = (sort: string) =>
  fc
    .tuple(
      fc.oneof({ weight: 4, arbitrary: fc.constant(sort) }, { weight: 1, arbitrary: text(5) }),
      fc.oneof(createdAtKey, boundedText(200), fc.constantFrom('2024-02-30T00:00:00.000000Z', '')),
      fc.oneof({ weight: 4, arbitrary: uuidText }, { weight: 1, arbitrary: text(5) }),
    )
    .map(encodeCursor);

/** Any cursor: documented shape, other JSON, garbage. */
const cursorArb = fc.oneof(
  fc.constantFrom(...DOCUMENT_SORTS).chain(cursorOf),
  fc.jsonValue({ maxDepth: 2 }).map(encodeCursor),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map(percentEncode),
  fc.integer({ min: 1_000, max: 3_000 }).map((n) => 'A'.repeat(n)),
);

const queryValue = fc.oneof(
  { weight: 3, arbitrary: text(30).map(percentEncode) },
  { weight: 2, arbitrary: fc.constantFrom(...SQL_SNIPPETS).map(percentEncode) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      ...DOCUMENT_SORTS,
      'TITLE',
      '+title',
      '--title',
      '1',
      '100',
      '0',
      '101',
      '-1',
      '0x10',
      '1e3',
      '%201',
      '1.5',
      '99999999999999999999',
      '',
      '%00',
      '%',
      '%zz',
      '%25',
      '%5C',
      '%5F',
    ),
  },
  { weight: 2, arbitrary: cursorArb },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 6_000 }).map((n) => 'q'.repeat(n)) },
);

const toQuery = (params: Record<string, string | undefined>) =>
  Object.entries(params)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}=${percentEncode(value)}`)
    .join('&');

/** `GET /documents` with only its own parameters, each plausible (cursor consistent with the sort or not). */
const documentsQuery = fc.constantFrom(...DOCUMENT_SORTS).chain((sort) =>
  fc
    .record(
      {
        search: fc.oneof(boundedText(200), fc.constantFrom(...SQL_SNIPPETS)),
        sort: fc.constant(sort),
        limit: fc.integer({ min: 1, max: 100 }).map(String),
        cursor: cursorOf(sort),
      },
      { requiredKeys: [] },
    )
    .map((params) => `/documents?${toQuery(params)}`),
);

const plausibleInstant = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

/** `GET /admin/audit` with its own parameters: instants of any year, cursors up to 19 digits. */
const auditQuery = fc
  .record(
    {
      type: fc.constantFrom('AUTH_FAILED', 'INVALID_INPUT', 'DATA_CHANGED'),
      principal: uuidText,
      outcome: fc.constantFrom('success', 'failure', 'denied'),
      since: fc.oneof(
        { weight: 4, arbitrary: plausibleInstant },
        { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
        { weight: 1, arbitrary: fc.constantFrom('0000-01-01T00:00:00Z', '2024-02-30T00:00:00Z', '2024-01-01') },
      ),
      until: plausibleInstant,
      // Up to 19 digits, as documented: past the largest bigint too.
      cursor: fc.oneof(
        fc.stringMatching(/^[1-9][0-9]{0,18}$/),
        fc.constantFrom('9223372036854775807', '9223372036854775808', '9999999999999999999'),
      ),
      limit: fc.integer({ min: 1, max: 500 }).map(String),
    },
    { requiredKeys: [] },
  )
  .map((params) => `/admin/audit?${toQuery(params)}`);

/** `GET /admin/keys?owner=`: any text as the owner. */
const keysQuery = fc
  .oneof(uuidText, boundedText(64), fc.constantFrom(...SQL_SNIPPETS))
  .map((owner) => `/admin/keys?${toQuery({ owner })}`);

/** A raw query string (without `?`): pairs, bare names, empty pieces, many parameters. */
const queryString = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .array(
        fc.oneof(
          { weight: 5, arbitrary: fc.tuple(queryName, queryValue).map(([name, value]) => `${name}=${value}`) },
          { weight: 1, arbitrary: fc.oneof(queryName, fc.constantFrom('', '=', '==', '&', ';', '+', '=%00')) },
        ),
        { maxLength: 8 },
      )
      .map((pairs) => pairs.join('&')),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 95, max: 160 }).map((n) => Array.from({ length: n }, (_, i) => `p${i}=1`).join('&')),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 95, max: 160 }).map((n) => Array.from({ length: n }, () => 'search=a').join('&')),
  },
);

/** `GET /sessions` with its own parameters: cursors of the documented shape (base64url of `[ms, id]`), any ms. */
const sessionsQuery = fc
  .record(
    {
      limit: fc.integer({ min: 1, max: 100 }).map(String),
      cursor: fc
        .tuple(
          fc.oneof(
            fc.integer({ min: -8.64e15, max: 8.64e15 }),
            fc.maxSafeInteger(),
            fc.constantFrom(0, -1, 8.64e15, 8.64e15 + 1, -8.64e15 - 1, Number.MAX_SAFE_INTEGER, -62_198_755_200_000),
          ),
          fc.oneof({ weight: 4, arbitrary: uuidText }, { weight: 1, arbitrary: text(5) }),
        )
        .map(encodeCursor),
    },
    { requiredKeys: [] },
  )
  .map((params) => `/sessions?${toQuery(params)}`);

/** The list routes that read a query (`GET` each), and two that do not. */
const QUERY_PATHS = [
  '/documents',
  '/admin/keys',
  '/admin/audit',
  '/sessions',
  '/v1/items',
  '/v2/items',
  '/me/keys',
  '/me',
];

/** A list route with a query: the routes' own parameters, or random ones. */
const queryTarget = fc.oneof(
  { weight: 4, arbitrary: documentsQuery },
  { weight: 2, arbitrary: auditQuery },
  { weight: 1, arbitrary: keysQuery },
  { weight: 1, arbitrary: sessionsQuery },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.constantFrom(...QUERY_PATHS), queryString).map(([path, query]) => `${path}?${query}`),
  },
);

/** Header names worth fuzzing: credentials, signing, content negotiation, proxies, CORS. */
const HEADER_NAMES = [
  'x-api-key',
  'authorization',
  'x-request-id',
  'content-type',
  'accept',
  'accept-encoding',
  'accept-language',
  'origin',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
  'x-real-ip',
  'x-key-id',
  'x-timestamp',
  'x-nonce',
  'x-signed-headers',
  'x-signature',
  'x-amz-date',
  'x-amz-content-sha256',
  'idempotency-key',
  'cookie',
  'if-none-match',
  'if-modified-since',
  'range',
  'user-agent',
  'referer',
  'x-http-method-override',
  'access-control-request-method',
  'access-control-request-headers',
  'content-encoding',
  'expect',
  'host',
] as const;

/**
 * A header value sent as bytes: any code point (UTF-8), control characters, CR/LF (which split the head:
 * the server must still answer), credentials of the right and wrong shapes, and values over the header limit.
 */
const headerValue = fc.oneof(
  { weight: 4, arbitrary: text(40) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 80 }) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      base62.map((s) => `sk_test_${s}`),
      base62.map((s) => `sk_live_${s}`),
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => `Bearer ${s}`),
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => `Bearer sess_${s}`),
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => `Basic ${s}`),
      fc
        .string({ unit: 'grapheme-ascii', maxLength: 40 })
        .map((s) => `AWS4-HMAC-SHA256 Credential=${s}, SignedHeaders=host;x-amz-date, Signature=${s}`),
      fc.integer().map(String),
      fc.constantFrom(
        '',
        ' ',
        '\t',
        'application/json',
        'gzip',
        'br, deflate;q=0.1',
        '100-continue',
        'bytes=0-1',
        '*',
        'null',
        '1.1.1.1, 127.0.0.1, ::1, unknown, 999.999.999.999',
        'for="[::1]:80";proto=https',
        'x\r\nX-API-Key: sk_test_injected',
        'x\r\n\r\nGET / HTTP/1.1',
        'x\nY: 1',
        'x\ry',
        '\u0000',
        '\u00ff\u00fe',
      ),
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 4_000, max: 20_000 }).map((n) => 'h'.repeat(n)) },
);
const headerName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...HEADER_NAMES) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,30}$/) },
);

const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const;

/** A route for the header fuzz: a target and a valid JSON body (when it reads one), so that only headers vary. */
interface HeaderRoute {
  /** The route as `listRoutes` names it. */
  readonly route: string;
  /** The method to send; the route's by default (`GET` for `ALL`). */
  readonly method?: string;
  /** The target; the route's template by default (routes without parameters). */
  readonly path?: (ids: Ids) => string;
  readonly body?: (ids: Ids) => unknown;
  readonly asMember?: boolean;
}

/** Every route the demo maps but `NOT_FUZZED` (the test 'fuzzes every route' holds this table to it). */
const HEADER_ROUTES: readonly HeaderRoute[] = [
  { route: 'GET /health' },
  { route: 'GET /health/ready' },
  { route: 'GET /metrics' },
  { route: 'GET /me' },
  { route: 'GET /me/keys' },
  { route: 'POST /me/keys', body: () => ({ name: 'n' }) },
  { route: 'POST /me/keys/:id/rotate', path: () => `/me/keys/${OWN_KEY}/rotate`, body: () => ({}), asMember: true },
  { route: 'POST /me/keys/:id/revoke', path: () => `/me/keys/${OWN_KEY}/revoke`, asMember: true },
  {
    route: 'POST /me/password',
    body: () => ({ currentPassword: MEMBER_PASSWORD, newPassword: 'Zq9!xv#Lm2@p another one' }),
    asMember: true,
  },
  { route: 'GET /documents' },
  { route: 'GET /documents', method: 'OPTIONS' },
  { route: 'POST /documents', body: () => ({ title: 't', body: '<b>b</b>' }) },
  { route: 'GET /documents/:id', path: ({ documentId }) => `/documents/${documentId}` },
  {
    route: 'PUT /documents/:id',
    path: ({ documentId }) => `/documents/${documentId}`,
    body: () => ({ title: 't', body: 'b', department: 'it', confidential: false }),
  },
  {
    route: 'POST /documents/:id/grants',
    path: ({ documentId }) => `/documents/${documentId}/grants`,
    body: ({ victimId }) => ({ principalId: victimId, action: 'read' }),
  },
  { route: 'POST /users', body: () => ({ username: 'fuzzy_user' }) },
  { route: 'GET /users/:id', path: ({ victimId }) => `/users/${victimId}` },
  { route: 'DELETE /users/:id', path: ({ victimId }) => `/users/${victimId}` },
  { route: 'POST /login', body: () => ({ username: 'nobody', password: 'wrong password' }) },
  { route: 'POST /logout', asMember: true },
  { route: 'GET /sessions', asMember: true },
  { route: 'DELETE /sessions/:id', path: () => `/sessions/${OWN_SESSION}`, asMember: true },
  { route: 'DELETE /admin/sessions/:id', path: () => `/admin/sessions/${OWN_SESSION}` },
  { route: 'GET /mfa', asMember: true },
  { route: 'POST /mfa/enroll', body: () => ({ password: MEMBER_PASSWORD }), asMember: true },
  { route: 'POST /mfa/activate', body: () => ({ code: '123456' }), asMember: true },
  { route: 'POST /mfa/verify', body: () => ({ code: '123456' }), asMember: true },
  { route: 'POST /tools/ping', body: () => ({ host: '127.0.0.1' }) },
  { route: 'POST /payments', body: () => ({ amount: 1, currency: 'EUR', reference: 'r' }) },
  { route: 'GET /admin/keys' },
  { route: 'POST /admin/keys', body: () => ({ name: 'n', owner: 'nobody' }) },
  {
    route: 'POST /admin/keys/:id/rotate',
    path: ({ spareKeyId }) => `/admin/keys/${spareKeyId}/rotate`,
    body: () => ({ grace: '10m' }),
  },
  { route: 'POST /admin/keys/:id/revoke', path: ({ spareKeyId }) => `/admin/keys/${spareKeyId}/revoke` },
  { route: 'GET /admin/roles' },
  {
    route: 'PUT /admin/roles/:role',
    path: () => '/admin/roles/fuzzed_role',
    body: () => ({ permissions: ['documents:read'] }),
  },
  {
    route: 'POST /admin/roles/:role/members',
    path: () => '/admin/roles/fuzzed_role/members',
    body: ({ victimId }) => ({ principalId: victimId }),
  },
  {
    route: 'DELETE /admin/roles/:role/members/:principalId',
    path: ({ victimId }) => `/admin/roles/fuzzed_role/members/${victimId}`,
  },
  { route: 'GET /admin/audit', path: () => '/admin/audit?limit=5' },
  { route: 'GET /v1/items' },
  { route: 'GET /v2/items' },
  { route: 'ALL /signed/echo/*', method: 'POST', path: () => '/signed/echo/x', body: () => ({ a: 1 }) },
];

/**
 * Routes no property sends to, on purpose, and why. Routes served outside controllers (`/docs`, `/docs-json`:
 * the OpenAPI UI and document that `@nestjs/swagger` mounts, with no input) are not in `listRoutes` at all.
 */
const NOT_FUZZED: Readonly<Record<string, string>> = {
  'GET /__test/boom': 'test-only (NODE_ENV=test): answers a 500 on purpose, to test the error path',
  'GET /__test/slow': 'test-only (NODE_ENV=test): waits up to 5 s on purpose, to test graceful shutdown',
};

/** What the pages behind `target` may answer that is not JSON (the API documentation, Prometheus text). */
function mayAnswerNonJson(target: string): boolean {
  let path = target.split('?')[0] ?? '';
  try {
    path = decodeURIComponent(path);
  } catch {
    // Left encoded: the server cannot decode it either.
  }
  return /^\/+(docs|metrics|__test)/i.test(path);
}

/** A request before its credentials: they are resolved when it is sent (a member's session is opened then). */
interface Draft {
  readonly method: string;
  /** May hold `OWN_SESSION` and `OWN_KEY`. */
  readonly target: string;
  readonly auth: Auth;
  /** Sent after the credentials. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: string | Buffer;
}

const jsonHeader: [string, string] = ['Content-Type', 'application/json'];

describe.each(ADAPTERS)('fuzzing the demo on %s', (adapter) => {
  let server: RunningDemo;
  let port: number;
  let admin: Identity;
  let ids: Ids;
  /** Pool members (viewers with `MEMBER_PASSWORD`) and a spare key of each. */
  let members: { readonly identity: Identity; readonly spareKeyId: string }[];
  const prototypesBefore = {
    object: Object.getOwnPropertyNames(Object.prototype).sort(),
    array: Object.getOwnPropertyNames(Array.prototype).sort(),
    function: Object.getOwnPropertyNames(Function.prototype).sort(),
  };

  /** The credential headers of `auth`, and the session and spare key that `OWN_SESSION` and `OWN_KEY` stand for. */
  const credentialsOf = async (
    auth: Auth,
  ): Promise<{ headers: [string, string][]; sessionId: string; keyId: string }> => {
    const victims = { sessionId: ids.sessionId, keyId: ids.spareKeyId };
    switch (auth.kind) {
      case 'admin':
        return { headers: [['X-API-Key', admin.key]], ...victims };
      case 'none':
        return { headers: [], ...victims };
      case 'garbage':
        return {
          headers: [auth.key.startsWith('Bearer ') ? ['Authorization', auth.key] : ['X-API-Key', auth.key]],
          ...victims,
        };
      case 'member': {
        const { identity, spareKeyId } = members[auth.index]!;
        if (auth.via === 'key') return { headers: [['X-API-Key', identity.key]], ...victims, keyId: spareKeyId };
        const session = await server.demo.app.get(Sessions).create(identity.id);
        return { headers: [['Authorization', `Bearer ${session.token}`]], sessionId: session.id, keyId: spareKeyId };
      }
    }
  };

  /** Sends `request` and checks what every answer must be: some status below 500, JSON when it has a body. */
  const expectSound = async (request: RawRequest): Promise<RawResponse> => {
    const response = await rawRequest(port, request);
    expect(response.status, 'a status line').toBeGreaterThanOrEqual(200);
    expect(response.status, 'no 5xx').toBeLessThan(500);
    if (response.body.length > 0 && !mayAnswerNonJson(request.target)) {
      expect(response.headers.get('content-type') ?? '(none)', 'a JSON content type').toMatch(JSON_CONTENT);
    }
    return response;
  };

  /** `expectSound` for a draft, once its credentials and stand-ins are resolved. */
  const sendSound = async ({ auth, target, headers, ...rest }: Draft): Promise<RawResponse> => {
    const credentials = await credentialsOf(auth);
    return expectSound({
      ...rest,
      target: target.replaceAll(OWN_SESSION, credentials.sessionId).replaceAll(OWN_KEY, credentials.keyId),
      headers: [...credentials.headers, ...headers],
    });
  };

  beforeAll(async () => {
    // Its own instance: the library's default body and shape limits (100kb, 256kb on documents, depth 32,
    // 1,000 elements and keys, 100 query parameters, 16 KiB of headers), rate limits out of the way
    // (startDemo), and `ping` for loopback only.
    server = await startDemo(adapter, { PING_ALLOWED_HOSTS: '127.0.0.1,::1,localhost' });
    port = Number(new URL(server.baseUrl).port);
    const { app } = server.demo;
    admin = await createIdentity(app, ['admin'], { department: 'it' });
    const victim = await createIdentity(app, ['viewer'], { department: 'it' });
    const spare = await addKey(app, victim.id, { name: 'spare key' });
    const victimSession = await app.get(Sessions).create(victim.id);
    members = await Promise.all(
      Array.from({ length: MEMBERS }, async () => {
        const identity = await createIdentity(app, ['viewer'], { password: MEMBER_PASSWORD });
        return { identity, spareKeyId: (await addKey(app, identity.id, { name: 'spare key' })).id };
      }),
    );
    const created = await fetch(`${server.baseUrl}/documents`, {
      method: 'POST',
      headers: { 'x-api-key': admin.key, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'fuzzed', body: 'b', department: 'it' }),
    });
    expect(created.status).toBe(201);
    ids = {
      adminId: admin.id,
      victimId: victim.id,
      spareKeyId: spare.id,
      documentId: ((await created.json()) as { id: string }).id,
      sessionId: victimSession.id,
    };
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('fuzzes every route: headers on each, bodies, path parameters and queries where it reads them', () => {
    const routes = listRoutes(server.demo.app);
    const keys = new Set(routes.map((route) => route.key));
    const tables = {
      headers: new Set(HEADER_ROUTES.map((route) => route.route)),
      bodies: new Set(BODY_ROUTES.map((route) => route.route)),
      params: new Set(PATH_TEMPLATES(ids).map((template) => template.route)),
      queries: new Set(QUERY_PATHS.map((path) => `GET ${path}`)),
    };
    const fuzzed = routes.filter((route) => !(route.key in NOT_FUZZED));
    const missingFrom = (table: Set<string>, reads: (route: AppRoute) => boolean = () => true) =>
      fuzzed.filter((route) => reads(route) && !table.has(route.key)).map((route) => route.key);
    const named = [...Object.values(tables).flatMap((table) => [...table]), ...Object.keys(NOT_FUZZED)];
    expect(fuzzed.length, 'the routes of the demo').toBeGreaterThan(30);
    // One assertion, so that a failure lists every gap at once.
    expect({
      'missing from HEADER_ROUTES': missingFrom(tables.headers),
      'reads a body, missing from BODY_ROUTES': missingFrom(tables.bodies, (route) => route.takesBody),
      'has path parameters, missing from PATH_TEMPLATES': missingFrom(tables.params, (route) => route.takesParams),
      'reads a query, missing from QUERY_PATHS': missingFrom(tables.queries, (route) => route.takesQuery),
      'named in a table or NOT_FUZZED, but no route': [...new Set(named.filter((key) => !keys.has(key)))],
    }).toEqual({
      'missing from HEADER_ROUTES': [],
      'reads a body, missing from BODY_ROUTES': [],
      'has path parameters, missing from PATH_TEMPLATES': [],
      'reads a query, missing from QUERY_PATHS': [],
      'named in a table or NOT_FUZZED, but no route': [],
    });
  });

  it(`answers ${RUNS.bodies} random JSON bodies to the body routes without a 5xx`, async () => {
    const requestArb = fc.constantFrom(...BODY_ROUTES).chain((route) =>
      fc
        .record({
          body: bodyFor(route, ids),
          contentType: fc.oneof(
            { weight: 6, arbitrary: fc.constant('application/json') },
            { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
            { weight: 1, arbitrary: fc.constant(undefined) },
          ),
          auth: authFor(route),
        })
        .map(({ body, contentType, auth }): Draft => ({
          method: methodOf(route.route),
          target: route.path?.(ids) ?? templateOf(route.route),
          auth,
          headers: contentType === undefined ? [] : [['Content-Type', contentType]],
          body,
        })),
    );
    await fc.assert(
      fc.asyncProperty(requestArb, async (request) => {
        await sendSound(request);
      }),
      { seed: SEED, numRuns: RUNS.bodies },
    );
  }, 120_000);

  it(`answers ${RUNS.headers} requests with random header values without a 5xx`, async () => {
    const requestArb = fc.constantFrom(...HEADER_ROUTES).chain((route) =>
      fc
        .record({
          auth: authFor(route),
          fuzzed: fc.array(fc.tuple(headerName, headerValue), { minLength: 1, maxLength: 4 }),
        })
        .map(({ auth, fuzzed }): Draft => {
          const method = route.method ?? methodOf(route.route);
          return {
            method: method === 'ALL' ? 'GET' : method,
            target: route.path?.(ids) ?? templateOf(route.route),
            auth,
            headers: [...(route.body ? [jsonHeader] : []), ...fuzzed],
            body: route.body ? JSON.stringify(route.body(ids)) : undefined,
          };
        }),
    );
    await fc.assert(
      fc.asyncProperty(requestArb, async (request) => {
        await sendSound(request);
      }),
      { seed: SEED + 1, numRuns: RUNS.headers },
    );
  }, 120_000);

  it(`answers ${RUNS.paths} random path segments in the demo routes without a 5xx`, async () => {
    const appended = fc
      .record({
        method: fc.constantFrom(...METHODS),
        prefix: fc.constantFrom(...PATH_PREFIXES(ids)),
        segments: fc.array(segmentArb(ids), { minLength: 1, maxLength: 3 }),
        auth: authArb,
      })
      .map(({ method, prefix, segments, auth }) => ({ method, path: `${prefix}${segments.join('/')}`, auth }));
    const inParameter = fc.constantFrom(...PATH_TEMPLATES(ids)).chain((template) =>
      fc
        .record({
          method: fc.option(fc.constantFrom(...METHODS), { freq: 5 }),
          segment: segmentArb(ids),
          auth: authFor(template),
        })
        .map(({ method, segment, auth }) => {
          const own = methodOf(template.route);
          return {
            method: method ?? (own === 'ALL' ? 'GET' : own),
            path: template.path.replace('{}', segment),
            auth,
          };
        }),
    );
    const requestArb = fc
      .record({ route: fc.oneof(appended, inParameter), query: fc.option(queryString, { freq: 4 }) })
      .filter(({ route }) => !mayAnswerNonJson(route.path))
      .map(({ route: { method, path, auth }, query }): Draft => {
        const withBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
        return {
          method,
          target: `${path}${query === null ? '' : `?${query}`}`,
          auth,
          headers: withBody ? [jsonHeader] : [],
          body: withBody ? '{}' : undefined,
        };
      });
    await fc.assert(
      fc.asyncProperty(requestArb, async (request) => {
        await sendSound(request);
      }),
      { seed: SEED + 2, numRuns: RUNS.paths },
    );
  }, 120_000);

  it(`answers ${RUNS.queries} random query strings to the list routes without a 5xx`, async () => {
    const requestArb = fc
      .record({ target: queryTarget, auth: authArb })
      .map(({ target, auth }): Draft => ({ method: 'GET', target, auth, headers: [] }));
    await fc.assert(
      fc.asyncProperty(requestArb, async (request) => {
        await sendSound(request);
      }),
      { seed: SEED + 3, numRuns: RUNS.queries },
    );
  }, 120_000);

  it('still serves afterwards, and no prototype of this process was polluted', async () => {
    const health = await fetch(`${server.baseUrl}/health`);
    expect(health.status).toBe(200);
    const me = await fetch(`${server.baseUrl}/me`, { headers: { 'x-api-key': admin.key } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { principalId: string }).principalId).toBe(admin.id);

    for (const probe of [{}, [], () => undefined, Object.create(null) as object]) {
      expect((probe as Record<string, unknown>).polluted).toBeUndefined();
      expect((probe as Record<string, unknown>).isAdmin).toBeUndefined();
    }
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypesBefore.object);
    expect(Object.getOwnPropertyNames(Array.prototype).sort()).toEqual(prototypesBefore.array);
    expect(Object.getOwnPropertyNames(Function.prototype).sort()).toEqual(prototypesBefore.function);
  });
});
