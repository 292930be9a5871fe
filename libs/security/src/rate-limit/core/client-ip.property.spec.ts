import { isIP } from 'node:net';
import fc from 'fast-check';
import { SecurityConfigError } from '../../core/errors.js';
import { clientIpKey, normalizeIp, resolveClientIp, UNKNOWN_CLIENT_IP, type TrustProxySetting } from './client-ip.js';

// Addresses and near-addresses as they arrive in X-Forwarded-For and from sockets.
const address = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4().map((ip) => `::ffff:${ip}`),
  fc.ipV6().map((ip) => `${ip}%eth0`),
  fc.constantFrom('unknown', '', ' ', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '::1::', '[::1]', '1.2.3.4:80'),
  fc.constantFrom('\u0661.2.3.4', '::ffff:0:1.2.3.4', 'fe80::1%', '%', '1.2.3.4\u0000', '\ud800'),
  fc.string({ maxLength: 12 }),
);
const padded = fc.tuple(address, fc.constantFrom('', ' ', '\t', '  ')).map(([ip, pad]) => `${pad}${ip}${pad}`);
const forwardedFor = fc.oneof(
  fc.constant(undefined),
  fc.array(padded, { maxLength: 5 }).map((hops) => hops.join(',')),
  fc.array(
    fc.array(padded, { maxLength: 3 }).map((hops) => hops.join(',')),
    { maxLength: 3 },
  ),
  fc.string(),
);
const trustProxy: fc.Arbitrary<TrustProxySetting> = fc.oneof(
  fc.constant(false as const),
  fc.nat({ max: 6 }),
  fc.constant(['10.0.0.0/8', '::1', 'fd00::/8']),
  fc.constant(['127.0.0.1']),
);

function expectIpOrUnknown(result: string): void {
  if (result !== UNKNOWN_CLIENT_IP) {
    expect(isIP(result)).not.toBe(0);
    expect(normalizeIp(result)).toBe(result);
  }
}

describe('resolveClientIp (fast-check, fixed seeds)', () => {
  it('returns a normalised address or unknown for any socket address and X-Forwarded-For', () => {
    fc.assert(
      fc.property(fc.option(padded, { nil: undefined }), forwardedFor, trustProxy, (remote, xff, trust) => {
        const result = resolveClientIp({ remoteAddress: remote, forwardedFor: xff, trustProxy: trust });
        expectIpOrUnknown(result);
        const socket = normalizeIp(remote);
        if (socket === undefined) expect(result).toBe(UNKNOWN_CLIENT_IP);
        if (trust === false || trust === 0) expect(result).toBe(socket ?? UNKNOWN_CLIENT_IP);
        // The answer is the socket or one of the hops, never something made up.
        const hops = (typeof xff === 'string' ? xff : (xff ?? []).join(',')).split(',').map((hop) => normalizeIp(hop));
        if (socket !== undefined) expect([socket, ...hops]).toContain(result);
      }),
      { seed: 7239, numRuns: 500 },
    );
  });

  it('ignores X-Forwarded-For from a peer outside the trusted list', () => {
    fc.assert(
      fc.property(
        fc.ipV4().filter((ip) => !ip.startsWith('10.')),
        forwardedFor,
        (peer, xff) => {
          expect(resolveClientIp({ remoteAddress: peer, forwardedFor: xff, trustProxy: ['10.0.0.0/8'] })).toBe(peer);
        },
      ),
      { seed: 7240, numRuns: 200 },
    );
  });

  it('with n trusted hops, returns the n-th well-formed hop from the right', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.array(fc.ipV4(), { maxLength: 5 }), fc.nat({ max: 6 }), (peer, hops, n) => {
        const result = resolveClientIp({ remoteAddress: peer, forwardedFor: hops.join(', '), trustProxy: n });
        const chain = [...hops].reverse();
        expect(result).toBe(n === 0 ? peer : (chain[Math.min(n, chain.length) - 1] ?? peer));
      }),
      { seed: 7241, numRuns: 200 },
    );
  });
});

describe('normalizeIp and clientIpKey (fast-check, fixed seeds)', () => {
  it('normalise any text to an address or undefined, idempotently', () => {
    fc.assert(
      fc.property(fc.oneof(padded, fc.string({ unit: 'binary' })), (text) => {
        const normal = normalizeIp(text);
        if (normal !== undefined) {
          expect(isIP(normal)).not.toBe(0);
          expect(normalizeIp(normal)).toBe(normal);
        }
      }),
      { seed: 7242, numRuns: 500 },
    );
  });

  it('keep IPv4 as it is and write IPv6 in one canonical form', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.ipV6(), (v4, v6) => {
        expect(normalizeIp(v4)).toBe(v4);
        const normal = normalizeIp(v6)!;
        expect(normalizeIp(v6.toUpperCase())).toBe(normal);
        expect(normal).toBe(normal.toLowerCase());
        expect(normal).not.toMatch(/(^|:)0[0-9a-f]/);
      }),
      { seed: 7243, numRuns: 250 },
    );
  });

  it('key any text by its address or its own text, and IPv6 addresses by their network', () => {
    fc.assert(
      fc.property(fc.oneof(address, fc.string()), fc.integer({ min: 1, max: 128 }), (text, prefix) => {
        const key = clientIpKey(text, { ipv6Prefix: prefix });
        const normal = normalizeIp(text);
        if (normal === undefined) expect(key).toBe(text);
        else if (isIP(normal) === 4) expect(key).toBe(normal);
        else expect(key).toMatch(new RegExp(`^[0-9a-f:]+/${prefix}$`));
      }),
      { seed: 7244, numRuns: 400 },
    );
  });

  it('refuses a trust-proxy list entry that is not an address or CIDR with the typed error', () => {
    const entry = fc.oneof(
      address,
      fc.tuple(address, fc.string({ maxLength: 4 })).map(([ip, bits]) => `${ip}/${bits}`),
    );
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 3 }), (entries) => {
        try {
          const result = resolveClientIp({ remoteAddress: '10.0.0.1', forwardedFor: '1.2.3.4', trustProxy: entries });
          expectIpOrUnknown(result);
        } catch (error) {
          expect(error).toBeInstanceOf(SecurityConfigError);
        }
      }),
      { seed: 7245, numRuns: 250 },
    );
  });
});
