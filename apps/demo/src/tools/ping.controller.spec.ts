import { ServiceUnavailableException } from '@nestjs/common';
import { DemoConfigError, readDemoConfig } from '../config/demo-config.js';
import { allowedHost, roundTripMsOf, runPing } from './ping.controller.js';

describe('allowedHost', () => {
  const allowed = ['127.0.0.1', '::1', 'localhost', 'db.internal'];

  it('finds the configured entry, names case-insensitively and IPv6 in canonical form', () => {
    expect(allowedHost('127.0.0.1', allowed)).toBe('127.0.0.1');
    expect(allowedHost('LocalHost', allowed)).toBe('localhost');
    expect(allowedHost('DB.Internal', allowed)).toBe('db.internal');
    expect(allowedHost('0:0:0:0:0:0:0:1', allowed)).toBe('::1');
  });

  it('refuses anything else', () => {
    for (const host of ['8.8.8.8', 'example.com', '127.0.0.2', 'localhost.', 'db', '::2', '']) {
      expect(allowedHost(host, allowed), host).toBeUndefined();
    }
  });
});

describe('roundTripMsOf', () => {
  it('reads the first reply time of iputils ping output', () => {
    const output = [
      'PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.',
      '64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.053 ms',
      '',
      'rtt min/avg/max/mdev = 0.053/0.053/0.053/0.000 ms',
    ].join('\n');
    expect(roundTripMsOf(output)).toBe(0.053);
    expect(roundTripMsOf('64 bytes from ::1: icmp_seq=1 ttl=64 time=12 ms')).toBe(12);
  });

  it('is null without a reply line', () => {
    expect(roundTripMsOf('1 packets transmitted, 0 received, 100% packet loss, time 0ms')).toBeNull();
    expect(roundTripMsOf('')).toBeNull();
  });
});

describe('runPing', () => {
  it('answers 503 when the command does not exist', async () => {
    await expect(runPing('127.0.0.1', '/nonexistent/ping')).rejects.toBeInstanceOf(ServiceUnavailableException);
  });

  it('passes the host as one argument after `--`, never through a shell', async () => {
    // `echo` stands in for ping: a shell would have run the `;` command instead of printing it.
    const result = await runPing('127.0.0.1; exit 3', 'echo');
    expect(result).toEqual({ reachable: true, roundTripMs: null });
  });

  it('reports a failing command as unreachable', async () => {
    expect(await runPing('127.0.0.1', 'false')).toEqual({ reachable: false, roundTripMs: null });
  });
});

describe('PING_ALLOWED_HOSTS', () => {
  it('defaults to loopback', () => {
    expect(readDemoConfig({}).pingAllowedHosts).toEqual(['127.0.0.1', '::1', 'localhost']);
  });

  it('takes IP addresses and host names, lower-cased', () => {
    expect(readDemoConfig({ PING_ALLOWED_HOSTS: ' 10.0.0.1, Api.Example.com ,fd00::1 ' }).pingAllowedHosts).toEqual([
      '10.0.0.1',
      'api.example.com',
      'fd00::1',
    ]);
  });

  it('refuses anything else at boot, naming the variable', () => {
    for (const value of ['example.com;id', '-c', 'a b', 'fe80::1%eth0', 'host.', '$(id)', '`id`', 'a_b.com']) {
      expect(() => readDemoConfig({ PING_ALLOWED_HOSTS: value }), value).toThrow(DemoConfigError);
      expect(() => readDemoConfig({ PING_ALLOWED_HOSTS: value }), value).toThrow(/PING_ALLOWED_HOSTS/);
    }
  });
});
