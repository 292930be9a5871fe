import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import { Body, Controller, HttpCode, Post, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { HostnameOrIp, InvalidInputError, RequirePermission } from '@app/security';

const execFileAsync = promisify(execFile);

/** The hosts `POST /tools/ping` may ping (`PING_ALLOWED_HOSTS`), lower-cased. */
export class PingSettings {
  constructor(readonly allowedHosts: readonly string[]) {}
}

export class PingDto {
  /** An IPv4 or IPv6 address or a host name: no spaces, shell characters, newlines or leading `-`. */
  @HostnameOrIp() host!: string;
}

/** What a ping answers; the command's output itself is never returned. */
export interface PingResult {
  readonly host: string;
  readonly reachable: boolean;
  readonly roundTripMs: number | null;
}

/**
 * The allow-list entry `host` names, or undefined: host names compare case-insensitively, IPv6 addresses
 * in their canonical form (`0:0:0:0:0:0:0:1` is `::1`).
 */
export function allowedHost(host: string, allowedHosts: readonly string[]): string | undefined {
  const wanted = canonicalHost(host);
  return allowedHosts.find((entry) => canonicalHost(entry) === wanted);
}

function canonicalHost(host: string): string {
  const lower = host.toLowerCase();
  if (isIP(lower) !== 6) return lower;
  // The WHATWG URL parser serialises IPv6 addresses canonically (RFC 5952).
  return new URL(`http://[${lower}]/`).hostname.slice(1, -1);
}

/** The round trip in milliseconds of the first reply in `ping` output (`time=0.053 ms`), or null. */
export function roundTripMsOf(output: string): number | null {
  const match = /\btime[=<](\d{1,7}(?:\.\d{1,6})?) ?ms\b/.exec(output);
  return match ? Number(match[1]) : null;
}

/**
 * Pings `host` once: `execFile` with an argument list (never a shell), `--` before the host so that it can
 * never be read as an option, a 2 s reply wait and a 5 s overall timeout. A missing `ping` answers 503.
 */
export async function runPing(host: string, command = 'ping'): Promise<Omit<PingResult, 'host'>> {
  try {
    const { stdout } = await execFileAsync(command, ['-c', '1', '-W', '2', '--', host], {
      shell: false,
      timeout: 5_000,
      maxBuffer: 16 * 1024,
      windowsHide: true,
      // English output (parsed for `time=`), and nothing else of the server's environment.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    });
    return { reachable: true, roundTripMs: roundTripMsOf(stdout) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ServiceUnavailableException('ping is not available on this server', { cause: error });
    }
    // No reply (exit 1), an unknown host (exit 2), the timeout or too much output: not reachable.
    return { reachable: false, roundTripMs: null };
  }
}

/** The seed's command-injection example, done safely. */
@ApiTags('tools')
@ApiSecurity('ApiKey')
@Controller('tools')
export class PingController {
  constructor(private readonly settings: PingSettings) {}

  @Post('ping')
  @HttpCode(200)
  @RequirePermission('tools:execute')
  @ApiOperation({ summary: 'Ping an allowed host once: 200 {host, reachable, roundTripMs}' })
  async ping(@Body() body: PingDto): Promise<PingResult> {
    const target = allowedHost(body.host, this.settings.allowedHosts);
    if (target === undefined) throw new InvalidInputError([{ name: 'host', reason: 'is not an allowed host' }]);
    // The argument and the answer are the configured entry, not the request's text.
    return { host: target, ...(await runPing(target)) };
  }
}
