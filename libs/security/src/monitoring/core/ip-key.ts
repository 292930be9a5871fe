import { isIP } from 'node:net';

/**
 * The unit an address is counted and blocked by: an IPv4 address as it is (IPv4-mapped IPv6 included),
 * an IPv6 address by its /64 network, since one host usually owns a whole /64 and could otherwise
 * rotate addresses freely. Anything that is not an address is returned unchanged.
 * @example ipKey('::ffff:203.0.113.7') // '203.0.113.7'
 * @example ipKey('2001:db8:1:2:aaaa::1') // '2001:db8:1:2::/64'
 */
export function ipKey(ip: string): string {
  const address = ip.split('%')[0]!;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && isIP(mapped[1]!) === 4) return mapped[1]!;
  if (isIP(address) !== 6) return address;
  const groups = expandIpv6(address);
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

// Eight 16-bit groups of a valid IPv6 address, `::` and an embedded IPv4 tail included.
function expandIpv6(address: string): number[] {
  const [head, tail] = address.split('::') as [string, string | undefined];
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
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  const zeros = Array.from({ length: 8 - left.length - right.length }, () => 0);
  return [...left, ...zeros, ...right];
}
