import { BlockList, isIP } from 'node:net';
import { SecurityConfigError } from '../../core/errors.js';

/** Which proxies may tell us the client's address: none, the last `n` hops, or these addresses/CIDRs. */
export type TrustProxySetting = false | number | readonly string[];

/** What `resolveClientIp` reads from a request. */
export interface ClientIpInput {
  /** The TCP peer (`request.socket.remoteAddress`); absent on Unix sockets. */
  readonly remoteAddress: string | undefined;
  /** The `X-Forwarded-For` header value(s), oldest hop first, as Node and Fastify give them. */
  readonly forwardedFor: string | readonly string[] | undefined;
  readonly trustProxy: TrustProxySetting;
}

/** What `resolveClientIp` returns when the socket has no IP address (a Unix socket, a closed connection). */
export const UNKNOWN_CLIENT_IP = 'unknown';

/**
 * The client's address, with the semantics of Express's `trust proxy` (proxy-addr): starting from
 * the socket peer, walk `X-Forwarded-For` from the right while the current hop is trusted, and return
 * the first untrusted one (or the left-most if every hop is trusted). With `false` the header is
 * ignored; with a hop count `n` the last `n` hops are trusted, so the n-th entry from the right wins.
 * A malformed entry stops the walk at the hop that sent it. IPv4-mapped IPv6 comes back as IPv4.
 * @example resolveClientIp({ remoteAddress: '10.0.0.2', forwardedFor: '203.0.113.7', trustProxy: ['10.0.0.0/8'] }) // '203.0.113.7'
 */
export function resolveClientIp(input: ClientIpInput): string {
  const socket = normalizeIp(input.remoteAddress);
  if (socket === undefined) return UNKNOWN_CLIENT_IP;
  if (input.trustProxy === false) return socket;
  const trusted = compileTrust(input.trustProxy);
  const hops = forwardedHops(input.forwardedFor);
  let client = socket;
  for (let hop = 0; hop < hops.length && trusted(client, hop); hop++) {
    const next = normalizeIp(hops[hops.length - 1 - hop]);
    // Never trust garbage: the last well-formed hop is all we know.
    if (next === undefined) return client;
    client = next;
  }
  return client;
}

/**
 * The address a client is counted by: IPv4 as it is, IPv6 by its network of `ipv6Prefix` bits
 * (default /64, since one host usually owns a whole /64 and could otherwise rotate addresses),
 * written in canonical form (RFC 5952). IPv4-mapped IPv6 counts as IPv4; anything that is not an
 * address is returned unchanged.
 * @example clientIpKey('2001:db8:1:2:aaaa::1') // '2001:db8:1:2::/64'
 * @example clientIpKey('::ffff:203.0.113.7') // '203.0.113.7'
 */
export function clientIpKey(ip: string, options: { readonly ipv6Prefix?: number } = {}): string {
  const prefix = options.ipv6Prefix ?? 64;
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 128) {
    throw new SecurityConfigError(
      'ERR_SECURITY_CONFIG_INVALID_VALUE',
      'ipv6Prefix',
      `${String(prefix)} is not an IPv6 prefix length; use a whole number from 1 to 128, e.g. 64`,
    );
  }
  const address = normalizeIp(ip);
  if (address === undefined) return ip;
  if (isIP(address) === 4) return address;
  const groups = expandIpv6(address);
  for (let i = 0; i < 8; i++) {
    const bits = Math.min(16, Math.max(0, prefix - 16 * i));
    groups[i] = groups[i]! & ((0xffff << (16 - bits)) & 0xffff);
  }
  return `${formatIpv6(groups)}/${prefix}`;
}

/**
 * A well-formed IP address in the form this library compares and records: trimmed, without an IPv6
 * zone id, IPv4-mapped IPv6 as IPv4, other IPv6 in canonical form (RFC 5952). Anything else: undefined.
 * @example normalizeIp(' ::FFFF:127.0.0.1') // '127.0.0.1'
 */
export function normalizeIp(text: string | undefined): string | undefined {
  if (typeof text !== 'string') return undefined;
  const trimmed = text.trim();
  const zone = trimmed.indexOf('%');
  const address = zone === -1 ? trimmed : trimmed.slice(0, zone);
  const family = isIP(trimmed) === 0 ? 0 : isIP(address);
  if (family === 4) return address;
  if (family !== 6) return undefined;
  const groups = expandIpv6(address);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return formatIpv6(groups);
}

type TrustFunction = (address: string, hop: number) => boolean;

// Resolved options are frozen, so one compiled list per array serves every request.
const compiledLists = new WeakMap<readonly string[], TrustFunction>();

function compileTrust(setting: number | readonly string[]): TrustFunction {
  if (typeof setting === 'number') {
    if (!Number.isInteger(setting) || setting < 0) {
      fail('INVALID_TRUST_PROXY', 'use a whole number of proxy hops, e.g. 1');
    }
    return (_address, hop) => hop < setting;
  }
  let trusted = compiledLists.get(setting);
  if (trusted) return trusted;
  trusted = compileList(setting);
  compiledLists.set(setting, trusted);
  return trusted;
}

function compileList(entries: unknown): TrustFunction {
  if (entries === true) {
    fail(
      'PERMISSIVE_TRUST_PROXY',
      'true would let any client choose its IP with X-Forwarded-For; give a hop count or the proxy addresses/CIDRs',
    );
  }
  if (!Array.isArray(entries) || entries.length === 0) {
    fail('INVALID_TRUST_PROXY', 'use false, a hop count, or a non-empty list of addresses/CIDRs');
  }
  const list = new BlockList();
  for (const entry of entries as unknown[]) {
    const [text = '', bitsText, extra] = typeof entry === 'string' ? entry.split('/') : [];
    const address = text.includes('%') ? undefined : normalizeIp(text);
    if (address === undefined || extra !== undefined || (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText))) {
      fail('INVALID_TRUST_PROXY', `"${String(entry)}" is not an IP address or CIDR`);
    }
    const family = isIP(address);
    let bits = bitsText === undefined ? (family === 4 ? 32 : 128) : Number(bitsText);
    // An IPv4-mapped network is an IPv4 network: addresses are compared in IPv4 form.
    if (family === 4 && isIP(text.trim()) === 6) {
      if (bits < 96)
        fail('INVALID_TRUST_PROXY', `"${String(entry)}": an IPv4-mapped network needs a prefix of at least 96`);
      bits -= 96;
    }
    if (bits > (family === 4 ? 32 : 128))
      fail('INVALID_TRUST_PROXY', `"${String(entry)}" is not an IP address or CIDR`);
    if (bits === 0) fail('PERMISSIVE_TRUST_PROXY', `"${String(entry)}" trusts every address; list the proxies`);
    list.addSubnet(address, bits, family === 4 ? 'ipv4' : 'ipv6');
  }
  return (address) => list.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
}

// X-Forwarded-For entries, oldest first; repeated headers are one list, as RFC 9110 says.
function forwardedHops(value: string | readonly string[] | undefined): string[] {
  const text = typeof value === 'string' ? value : (value ?? []).join(',');
  return text.trim() === '' ? [] : text.split(',');
}

// Eight 16-bit groups of an address `isIP` accepted as IPv6 (no zone id), `::` and an IPv4 tail included.
function expandIpv6(address: string): number[] {
  const parse = (part: string): number[] => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number];
        groups.push((a << 8) | b, (c << 8) | d);
      } else {
        groups.push(parseInt(piece, 16));
      }
    }
    return groups;
  };
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...Array.from({ length: 8 - left.length - right.length }, () => 0), ...right];
}

// RFC 5952: lower-case hex without leading zeros; the longest run of two or more zero groups
// (the first one on a tie) becomes `::`.
function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function fail(code: 'INVALID_TRUST_PROXY' | 'PERMISSIVE_TRUST_PROXY', message: string): never {
  throw new SecurityConfigError(`ERR_SECURITY_CONFIG_${code}`, 'trustProxy', message);
}
