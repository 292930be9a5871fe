import { describe, expect, it } from 'vitest';
import { ipKey } from './ip-key.js';

describe('ipKey', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:127.0.0.1', '127.0.0.1'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:0:0:0:9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.33', '64:ff9b:0:0::/64'],
    ['not an ip', 'not an ip'],
  ])('%s -> %s', (ip, key) => {
    expect(ipKey(ip)).toBe(key);
  });

  it('puts two addresses of one /64 under one key and another /64 under another', () => {
    expect(ipKey('2001:db8:a:b::1')).toBe(ipKey('2001:db8:a:b:ffff::2'));
    expect(ipKey('2001:db8:a:b::1')).not.toBe(ipKey('2001:db8:a:c::1'));
  });
});
