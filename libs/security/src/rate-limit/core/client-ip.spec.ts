import { describe, expect, it } from 'vitest';
import { SecurityConfigError } from '../../core/errors.js';
import { clientIpKey, normalizeIp, resolveClientIp, UNKNOWN_CLIENT_IP, type TrustProxySetting } from './client-ip.js';

const resolve = (
  remoteAddress: string | undefined,
  forwardedFor: string | string[] | undefined,
  trustProxy: TrustProxySetting,
) => resolveClientIp({ remoteAddress, forwardedFor, trustProxy });

describe('resolveClientIp', () => {
  describe('without trust', () => {
    it('uses the socket address and ignores a spoofed X-Forwarded-For', () => {
      expect(resolve('198.51.100.9', '1.2.3.4', false)).toBe('198.51.100.9');
      expect(resolve('198.51.100.9', ['1.2.3.4', '5.6.7.8'], false)).toBe('198.51.100.9');
    });

    it('normalises IPv4-mapped and IPv6 socket addresses', () => {
      expect(resolve('::ffff:127.0.0.1', undefined, false)).toBe('127.0.0.1');
      expect(resolve('2001:DB8:0:0:0:0:0:1', undefined, false)).toBe('2001:db8::1');
    });

    it('says unknown when the socket has no IP address', () => {
      expect(resolve(undefined, '1.2.3.4', false)).toBe(UNKNOWN_CLIENT_IP);
      expect(resolve(undefined, '1.2.3.4', 1)).toBe('unknown');
    });
  });

  describe('with a list of trusted proxies', () => {
    const proxies = ['10.0.0.0/8', '2001:db8:ffff::1'];

    it('honours the header from a trusted proxy', () => {
      expect(resolve('10.0.0.2', '203.0.113.7', proxies)).toBe('203.0.113.7');
      expect(resolve('::ffff:10.0.0.2', '203.0.113.7', proxies)).toBe('203.0.113.7');
      expect(resolve('2001:db8:ffff::1', '203.0.113.7', proxies)).toBe('203.0.113.7');
    });

    it('ignores the header from an untrusted peer', () => {
      expect(resolve('198.51.100.9', '203.0.113.7', proxies)).toBe('198.51.100.9');
      expect(resolve('2001:db8:ffff::2', '203.0.113.7', proxies)).toBe('2001:db8:ffff::2');
    });

    it('walks several trusted hops from the right and stops at the first untrusted one', () => {
      // The client put "6.6.6.6" there itself; the proxies appended what they saw.
      expect(resolve('10.0.0.1', '6.6.6.6, 203.0.113.7, 10.0.0.3, 10.0.0.2', proxies)).toBe('203.0.113.7');
      expect(resolve('10.0.0.1', ['6.6.6.6, 203.0.113.7', '10.0.0.3,10.0.0.2'], proxies)).toBe('203.0.113.7');
    });

    it('returns the left-most address when every hop is trusted', () => {
      expect(resolve('10.0.0.1', '10.0.0.3, 10.0.0.2', proxies)).toBe('10.0.0.3');
    });

    it('uses the socket address when a trusted proxy sent no header', () => {
      expect(resolve('10.0.0.1', undefined, proxies)).toBe('10.0.0.1');
      expect(resolve('10.0.0.1', '  ', proxies)).toBe('10.0.0.1');
      expect(resolve('10.0.0.1', [], proxies)).toBe('10.0.0.1');
    });

    it('stops at garbage instead of returning or trusting it', () => {
      expect(resolve('10.0.0.1', 'evil', proxies)).toBe('10.0.0.1');
      expect(resolve('10.0.0.1', '203.0.113.7, not-an-ip, 10.0.0.2', proxies)).toBe('10.0.0.2');
      expect(resolve('10.0.0.1', '203.0.113.7,,10.0.0.2', proxies)).toBe('10.0.0.2');
      expect(resolve('10.0.0.1', '203.0.113.7, 10.0.0.2,', proxies)).toBe('10.0.0.1');
      expect(resolve('10.0.0.1', '1.2.3.4:5678', proxies)).toBe('10.0.0.1');
      expect(resolve('10.0.0.1', '[2001:db8::1]', proxies)).toBe('10.0.0.1');
      expect(resolve('10.0.0.1', '010.1.2.3', proxies)).toBe('10.0.0.1');
      // Garbage further left than the first untrusted hop does not matter.
      expect(resolve('10.0.0.1', 'junk, 203.0.113.7', proxies)).toBe('203.0.113.7');
    });

    it('normalises forwarded addresses', () => {
      expect(resolve('10.0.0.1', ' ::ffff:203.0.113.7 ', proxies)).toBe('203.0.113.7');
      expect(resolve('10.0.0.1', '2001:0DB8:0000::0001', proxies)).toBe('2001:db8::1');
    });

    it('trusts IPv4-mapped CIDRs as IPv4 networks', () => {
      expect(resolve('10.1.2.3', '203.0.113.7', ['::ffff:10.0.0.0/104'])).toBe('203.0.113.7');
      expect(resolve('11.1.2.3', '203.0.113.7', ['::ffff:10.0.0.0/104'])).toBe('11.1.2.3');
    });
  });

  describe('with a hop count', () => {
    it('takes the n-th entry from the right', () => {
      expect(resolve('10.0.0.1', '6.6.6.6, 203.0.113.7', 1)).toBe('203.0.113.7');
      expect(resolve('10.0.0.1', '6.6.6.6, 203.0.113.7, 10.0.0.2', 2)).toBe('203.0.113.7');
      expect(resolve('10.0.0.1', '6.6.6.6, 203.0.113.7, 10.0.0.2', 3)).toBe('6.6.6.6');
    });

    it('returns the left-most entry when the count is larger than the chain', () => {
      expect(resolve('10.0.0.1', '203.0.113.7', 5)).toBe('203.0.113.7');
      expect(resolve('10.0.0.1', undefined, 5)).toBe('10.0.0.1');
    });

    it('stops at garbage', () => {
      expect(resolve('10.0.0.1', 'garbage', 1)).toBe('10.0.0.1');
      expect(resolve('10.0.0.1', 'garbage, 10.0.0.2', 2)).toBe('10.0.0.2');
    });

    it('ignores the header with a count of 0', () => {
      expect(resolve('10.0.0.1', '203.0.113.7', 0)).toBe('10.0.0.1');
    });
  });

  describe('refuses bad trust settings', () => {
    it.each<[unknown, string]>([
      [['10.0.0.0/33'], 'ERR_SECURITY_CONFIG_INVALID_TRUST_PROXY'],
      [['10.0.0.0/8/8'], 'ERR_SECURITY_CONFIG_INVALID_TRUST_PROXY'],
      [['proxy.internal'], 'ERR_SECURITY_CONFIG_INVALID_TRUST_PROXY'],
      [['10.0.0.0/x'], 'ERR_SECURITY_CONFIG_INVALID_TRUST_PROXY'],
      [['2001:db8::/129'], 'ERR_SECURITY_CONFIG_INVALID_TRUST_PROXY'],
      [['::ffff:10.0.0.0/8'], 'ERR_SECURITY_CONFIG_INVALID_TRUST_PROXY'],
      [[42], 'ERR_SECURITY_CONFIG_INVALID_TRUST_PROXY'],
      [[], 'ERR_SECURITY_CONFIG_INVALID_TRUST_PROXY'],
      [1.5, 'ERR_SECURITY_CONFIG_INVALID_TRUST_PROXY'],
      [-1, 'ERR_SECURITY_CONFIG_INVALID_TRUST_PROXY'],
      [true, 'ERR_SECURITY_CONFIG_PERMISSIVE_TRUST_PROXY'],
      [['0.0.0.0/0'], 'ERR_SECURITY_CONFIG_PERMISSIVE_TRUST_PROXY'],
      [['::/0'], 'ERR_SECURITY_CONFIG_PERMISSIVE_TRUST_PROXY'],
    ])('%j -> %s', (trustProxy, code) => {
      const call = () => resolve('10.0.0.1', '203.0.113.7', trustProxy as TrustProxySetting);
      expect(call).toThrow(SecurityConfigError);
      expect(call).toThrow(expect.objectContaining({ code, option: 'trustProxy' }));
    });
  });
});

describe('normalizeIp', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    [' ::FFFF:203.0.113.7 ', '203.0.113.7'],
    ['::ffff:cb00:7107', '203.0.113.7'],
    ['2001:DB8::0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['::', '::'],
  ])('%j -> %s', (text, ip) => expect(normalizeIp(text)).toBe(ip));

  it.each([undefined, '', 'unknown', '1.2.3', '1.2.3.4:80', '[::1]', '1::2::3', '1.2.3.4%eth0'])(
    'refuses %j',
    (text) => {
      expect(normalizeIp(text)).toBeUndefined();
    },
  );
});

describe('clientIpKey', () => {
  it('leaves IPv4 as it is and maps IPv4-mapped IPv6 to IPv4', () => {
    expect(clientIpKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientIpKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientIpKey('::ffff:203.0.113.7')).toBe(clientIpKey('203.0.113.7'));
  });

  it.each([
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8::/64'],
    ['::1', '::/64'],
    ['fe80::1%eth0', 'fe80::/64'],
    ['64:ff9b::192.0.2.33', '64:ff9b::/64'],
    ['2001:0:0:1::', '2001:0:0:1::/64'],
  ])('groups %s as %s', (ip, key) => expect(clientIpKey(ip)).toBe(key));

  it('puts one /64 under one key and another /64 under another', () => {
    expect(clientIpKey('2001:db8:a:b::1')).toBe(clientIpKey('2001:db8:a:b:ffff:ffff:ffff:ffff'));
    expect(clientIpKey('2001:db8:a:b::1')).not.toBe(clientIpKey('2001:db8:a:c::1'));
  });

  it('honours other prefix lengths, including ones inside a group', () => {
    expect(clientIpKey('2001:db8:abcd:12ff::1', { ipv6Prefix: 48 })).toBe('2001:db8:abcd::/48');
    expect(clientIpKey('2001:db8:abcd:12ff::1', { ipv6Prefix: 56 })).toBe('2001:db8:abcd:1200::/56');
    expect(clientIpKey('2001:db8:abcd:12ff::1', { ipv6Prefix: 60 })).toBe('2001:db8:abcd:12f0::/60');
    expect(clientIpKey('2001:db8:abcd:12ff::1', { ipv6Prefix: 128 })).toBe('2001:db8:abcd:12ff::1/128');
    expect(clientIpKey('ffff::', { ipv6Prefix: 1 })).toBe('8000::/1');
  });

  it('returns what is not an address unchanged', () => {
    expect(clientIpKey('unknown')).toBe('unknown');
  });

  it.each([0, 129, 64.5, Number.NaN])('refuses the prefix %s', (ipv6Prefix) => {
    expect(() => clientIpKey('2001:db8::1', { ipv6Prefix })).toThrow(SecurityConfigError);
  });
});
