/**
 * RFC 9421 HTTP Message Signatures (`Signature-Input` / `Signature`), with hmac-sha256 and ed25519 keys.
 * The algorithm comes from the key; an `alg` parameter, when present, must agree with it (no algorithm
 * confusion). Components: @method @target-uri @authority @scheme @request-target @path @query @query-param
 * (and @status for responses, in the signature base only) and header fields with the `sf`, `key` and `bs`
 * parameters; `req` and `tr` are refused (requests only, no trailers).
 */
import { createHmac, verify as verifySignature } from 'node:crypto';
import {
  parseDictionary,
  parseList,
  serializeDictionary,
  serializeInnerList,
  serializeItem,
  serializeList,
  type Dictionary,
  type InnerList,
  type Item,
  type Parameters,
} from 'structured-headers';
import { checkContentDigest } from './content-digest.js';
import { bytesEqual, headerLines } from './http-canonical.js';
import {
  SignatureVerificationError,
  type HeaderValue,
  type ParsedSignature,
  type ParseOptions,
  type SignatureAlgorithm,
  type SignedRequestInput,
  type SigningKeyMaterial,
} from './signed-request.types.js';

/** The message a signature base is computed from (a request; `status` only for response vectors). */
export interface Rfc9421Message {
  readonly method?: string;
  /** Raw path, without the query. */
  readonly path?: string;
  /** Raw query without '?', '' when none. */
  readonly query?: string;
  readonly headers: Readonly<Record<string, HeaderValue>>;
  /** 'http' when not given. */
  readonly scheme?: string;
  /** A response's status code, for `@status`. */
  readonly status?: number;
}

/** One signature of a message: its label, covered components with parameters, and signature bytes. */
export interface Rfc9421Signature {
  readonly label: string;
  /** The `Signature-Input` member: covered component identifiers and the signature parameters. */
  readonly input: InnerList;
  readonly signature: Buffer;
}

/** The signature parameters this library reads. */
export interface Rfc9421Params {
  readonly created?: number;
  readonly expires?: number;
  readonly nonce?: string;
  readonly keyid?: string;
  readonly alg?: string;
  readonly tag?: string;
}

const ALGORITHMS: Readonly<Record<string, SignatureAlgorithm | null>> = {
  'hmac-sha256': 'hmac-sha256',
  ed25519: 'ed25519',
  'rsa-pss-sha512': null,
  'rsa-v1_5-sha256': null,
  'ecdsa-p256-sha256': null,
  'ecdsa-p384-sha384': null,
};

// Fields whose structured type is known, for the `sf` parameter (RFC 9421 §2.1.1).
const DICTIONARY_FIELDS = new Set([
  'content-digest',
  'repr-digest',
  'want-content-digest',
  'want-repr-digest',
  'signature',
  'signature-input',
  'accept-signature',
  'priority',
  'cdn-cache-control',
]);
const LIST_FIELDS = new Set(['cache-status', 'proxy-status', 'accept-ch']);
const DERIVED = new Set([
  '@method',
  '@target-uri',
  '@authority',
  '@scheme',
  '@request-target',
  '@path',
  '@query',
  '@query-param',
  '@status',
]);
const LINE_BREAK = /[\r\n]/;

function fail(reason: 'malformed' | 'missing_header', message: string): never {
  throw new SignatureVerificationError(reason, message);
}

function readDictionaries(headers: Readonly<Record<string, HeaderValue>>): {
  inputs: Dictionary;
  signatures: Dictionary;
} {
  const inputValue = headerLines(headers, 'signature-input')?.join(', ');
  const signatureValue = headerLines(headers, 'signature')?.join(', ');
  if (inputValue === undefined) fail('missing_header', 'the Signature-Input header is missing');
  if (signatureValue === undefined) fail('missing_header', 'the Signature header is missing');
  try {
    return { inputs: parseDictionary(inputValue), signatures: parseDictionary(signatureValue) };
  } catch (error) {
    fail('malformed', `Signature-Input or Signature is not a structured-field dictionary: ${(error as Error).message}`);
  }
}

function signatureOf(label: string, input: Item | InnerList, signature: Item | InnerList): Rfc9421Signature {
  if (!Array.isArray(input[0])) fail('malformed', `Signature-Input ${label} is not an inner list`);
  if (!(signature[0] instanceof ArrayBuffer)) fail('malformed', `Signature ${label} is not a byte sequence`);
  return { label, input: input as InnerList, signature: Buffer.from(signature[0]) };
}

/** All signatures of a message (labels present in both `Signature-Input` and `Signature`). */
export function parseRfc9421Signatures(headers: Readonly<Record<string, HeaderValue>>): Rfc9421Signature[] {
  const { inputs, signatures } = readDictionaries(headers);
  const result: Rfc9421Signature[] = [];
  for (const [label, input] of inputs) {
    const signature = signatures.get(label);
    if (signature !== undefined) result.push(signatureOf(label, input, signature));
  }
  return result;
}

/** The signature parameters of a `Signature-Input` member, type-checked. */
export function rfc9421Params(input: InnerList): Rfc9421Params {
  const params = input[1];
  const integer = (name: string): number | undefined => {
    const value = params.get(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) fail('malformed', `${name} must be an integer`);
    return value;
  };
  const string = (name: string): string | undefined => {
    const value = params.get(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') fail('malformed', `${name} must be a string`);
    return value;
  };
  return {
    created: integer('created'),
    expires: integer('expires'),
    nonce: string('nonce'),
    keyid: string('keyid'),
    alg: string('alg'),
    tag: string('tag'),
  };
}

/** The `@signature-params` value: the serialized inner list of covered components and parameters. */
export function rfc9421SignatureParams(input: InnerList): string {
  return serializeInnerList(input);
}

/**
 * The signature base (RFC 9421 §2.5): one `"<component>": <value>` line per covered component, then the
 * `"@signature-params"` line, joined by `\n` without a final newline. Throws SignatureVerificationError
 * ('missing_header' for an absent field, 'malformed' for a component that cannot be computed).
 */
export function rfc9421SignatureBase(message: Rfc9421Message, input: InnerList): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const component of input[0]) {
    const name = component[0];
    if (typeof name !== 'string') fail('malformed', 'a component identifier must be a string');
    if (name === '@signature-params' || name !== name.toLowerCase()) {
      fail('malformed', `${name} cannot be a covered component`);
    }
    const identifier = serializeItem(component);
    if (seen.has(identifier)) fail('malformed', `${identifier} is covered twice`);
    seen.add(identifier);
    const value = name.startsWith('@')
      ? derivedValue(message, name, component[1])
      : fieldValue(message, name, component[1]);
    if (LINE_BREAK.test(value)) fail('malformed', `${identifier} has a line break`);
    lines.push(`${identifier}: ${value}`);
  }
  lines.push(`"@signature-params": ${rfc9421SignatureParams(input)}`);
  return lines.join('\n');
}

function derivedValue(message: Rfc9421Message, name: string, params: Parameters): string {
  if (!DERIVED.has(name)) fail('malformed', `${name} is not a derived component`);
  for (const param of params.keys()) {
    if (!(name === '@query-param' && param === 'name')) fail('malformed', `${name};${param} is not supported`);
  }
  if (name === '@status') {
    if (message.status === undefined) fail('malformed', '@status is only for responses');
    return String(message.status);
  }
  if (message.method === undefined || message.path === undefined) fail('malformed', `${name} needs a request`);
  const scheme = (message.scheme ?? 'http').toLowerCase();
  const path = message.path === '' ? '/' : message.path;
  const query = message.query ?? '';
  switch (name) {
    case '@method':
      return message.method;
    case '@scheme':
      return scheme;
    case '@authority':
      return authority(message, scheme);
    case '@target-uri':
      return `${scheme}://${authority(message, scheme)}${path}${query === '' ? '' : `?${query}`}`;
    case '@request-target':
      return `${path}${query === '' ? '' : `?${query}`}`;
    case '@path':
      return path;
    case '@query':
      return `?${query}`;
    default:
      return queryParam(query, params.get('name'));
  }
}

function authority(message: Rfc9421Message, scheme: string): string {
  const host = headerLines(message.headers, 'host');
  if (host === undefined) fail('missing_header', '@authority needs the Host header');
  if (host.length !== 1) fail('malformed', '@authority needs one Host header');
  const value = host[0]!.trim().toLowerCase();
  const defaultPort = scheme === 'https' ? ':443' : scheme === 'http' ? ':80' : undefined;
  return defaultPort && value.endsWith(defaultPort) ? value.slice(0, -defaultPort.length) : value;
}

// The application/x-www-form-urlencoded percent-encode set, as RFC 9421 §2.2.8 re-encodes names and values.
function formEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9*\-._]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function queryParam(query: string, name: unknown): string {
  if (typeof name !== 'string') fail('malformed', '@query-param needs a string name parameter');
  const values: string[] = [];
  for (const [key, value] of new URLSearchParams(query)) {
    if (formEncode(key) === name) values.push(formEncode(value));
  }
  if (values.length === 0) fail('missing_header', `the query parameter ${name} is missing`);
  if (values.length > 1) fail('malformed', `the query parameter ${name} is repeated: cover @query instead`);
  return values[0]!;
}

function fieldValue(message: Rfc9421Message, name: string, params: Parameters): string {
  for (const param of params.keys()) {
    if (param === 'req' || param === 'tr') {
      fail('malformed', `${name};${param} is not supported (requests only, no trailers)`);
    }
    if (param !== 'sf' && param !== 'key' && param !== 'bs') fail('malformed', `${name};${param} is not supported`);
  }
  const lines = headerLines(message.headers, name);
  if (lines === undefined) fail('missing_header', `the covered header ${name} is missing`);
  if (params.has('bs')) {
    if (params.has('sf') || params.has('key')) fail('malformed', `${name}: bs cannot be combined with sf or key`);
    return lines.map((line) => `:${Buffer.from(line.trim(), 'utf8').toString('base64')}:`).join(', ');
  }
  const value = lines.map((line) => line.trim()).join(', ');
  const key = params.get('key');
  try {
    if (key !== undefined) {
      if (typeof key !== 'string') fail('malformed', `${name};key must be a string`);
      const member = parseDictionary(value).get(key);
      if (member === undefined) fail('missing_header', `${name} has no member ${key}`);
      return Array.isArray(member[0]) ? serializeInnerList(member as InnerList) : serializeItem(member as Item);
    }
    if (params.has('sf')) {
      if (DICTIONARY_FIELDS.has(name)) return serializeDictionary(parseDictionary(value));
      if (LIST_FIELDS.has(name)) return serializeList(parseList(value));
      fail('malformed', `${name};sf: the structured type of ${name} is not known here`);
    }
  } catch (error) {
    if (error instanceof SignatureVerificationError) throw error;
    fail('malformed', `${name} is not a valid structured field: ${(error as Error).message}`);
  }
  return value;
}

/** Checks a signature over a signature base: HMAC-SHA256 with the key bytes, or Ed25519 with the public key. */
export function rfc9421VerifySignature(base: string, signature: Uint8Array, material: SigningKeyMaterial): boolean {
  const data = Buffer.from(base, 'utf8');
  if (material.algorithm === 'hmac-sha256') {
    if (!material.secret) return false;
    return bytesEqual(signature, createHmac('sha256', material.secret).update(data).digest());
  }
  if (material.algorithm === 'ed25519') {
    const key = material.publicKey;
    if (!key || key.asymmetricKeyType !== 'ed25519' || signature.length !== 64) return false;
    try {
      return verifySignature(null, data, key, signature);
    } catch {
      return false;
    }
  }
  return false;
}

/** The key algorithm an RFC 9421 `alg` value names; throws 'unsupported_algorithm' for any other. */
export function rfc9421Algorithm(alg: string): SignatureAlgorithm {
  // Own keys only: `alg="constructor"` must not name Object's constructor.
  const algorithm = Object.hasOwn(ALGORITHMS, alg) ? ALGORITHMS[alg] : undefined;
  if (!algorithm) throw new SignatureVerificationError('unsupported_algorithm', `alg ${alg} is not supported`);
  return algorithm;
}

function covers(components: readonly string[], ...names: string[]): boolean {
  return names.some((name) => components.includes(name));
}

/**
 * Parses and checks an RFC 9421 request: exactly one signature (else 'ambiguous'); `created` and `keyid`
 * required; @method, the path (@path, @request-target or @target-uri) and the authority (@authority or
 * @target-uri) covered; a non-empty query covered (@query, @request-target or @target-uri); a non-empty body
 * covered by `content-digest`, whose value must match the body. No clock, key or replay check.
 */
export function parseRfc9421(input: SignedRequestInput, options: ParseOptions): ParsedSignature {
  const { inputs, signatures } = readDictionaries(input.headers);
  if (inputs.size === 0) fail('malformed', 'Signature-Input is empty');
  if (inputs.size > 1) throw new SignatureVerificationError('ambiguous', 'only one signature per request is accepted');
  const [label, member] = [...inputs][0]!;
  const signed = signatures.get(label);
  if (signed === undefined) fail('missing_header', `Signature has no member ${label}`);
  const signature = signatureOf(label, member, signed);
  const params = rfc9421Params(signature.input);
  if (params.created === undefined) fail('malformed', 'the created parameter is required');
  if (params.keyid === undefined || params.keyid === '') fail('malformed', 'the keyid parameter is required');
  const algorithm = params.alg === undefined ? undefined : rfc9421Algorithm(params.alg);
  const components = signature.input[0].map((component) => String(component[0]));
  const required: [string, string[]][] = [
    ['@method', ['@method']],
    ['@path', ['@path', '@request-target', '@target-uri']],
    ['@authority', ['@authority', '@target-uri']],
  ];
  if (input.query !== '') required.push(['@query', ['@query', '@request-target', '@target-uri']]);
  if (input.body.length > 0) required.push(['content-digest', ['content-digest']]);
  for (const name of options.requiredHeaders ?? []) required.push([name, [name]]);
  for (const [name, alternatives] of required) {
    if (!covers(components, ...alternatives)) {
      throw new SignatureVerificationError('header_not_signed', `${name} must be covered by the signature`);
    }
  }
  const digest = headerLines(input.headers, 'content-digest');
  if (digest !== undefined) {
    const check = checkContentDigest(digest.join(', '), input.body);
    if (check === 'malformed') fail('malformed', 'Content-Digest is not a dictionary of byte sequences');
    if (check === 'unsupported') {
      throw new SignatureVerificationError('unsupported_algorithm', 'Content-Digest needs sha-256 or sha-512');
    }
    if (check === 'mismatch') {
      throw new SignatureVerificationError('content_digest_mismatch', 'Content-Digest does not match the body');
    }
  }
  const base = rfc9421SignatureBase(
    { method: input.method, path: input.path, query: input.query, headers: input.headers, scheme: input.scheme },
    signature.input,
  );
  return {
    scheme: 'rfc9421',
    keyId: params.keyid,
    created: params.created,
    ...(params.expires === undefined ? {} : { expires: params.expires }),
    replayId: params.nonce ?? signature.signature.toString('base64'),
    ...(algorithm === undefined ? {} : { algorithm }),
    coveredHeaders: components,
    verify(material: SigningKeyMaterial): boolean {
      if (algorithm !== undefined && algorithm !== material.algorithm) return false;
      return rfc9421VerifySignature(base, signature.signature, material);
    },
  };
}
