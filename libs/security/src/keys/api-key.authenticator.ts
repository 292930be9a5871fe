import { Inject, Injectable } from '@nestjs/common';
import passport from 'passport';
import { BlockList, isIP } from 'node:net';
import { InvalidCredentialsError } from '../core/errors.js';
import { clientIpOf, headerCount, type HttpRequestLike } from '../http/http-request.js';
import type { ResolvedSecurityOptions } from '../options/security-options.js';
import { Authenticator } from '../principals/authenticator.js';
import type { Principal } from '../principals/principal.js';
import { SECURITY_OPTIONS } from '../security.constants.js';
import { API_KEY_STRATEGY, ApiKeyStrategy } from './api-key.strategy.js';
import { ApiKeyVerifier } from './api-key.verifier.js';

const HEADER = 'x-api-key';

/**
 * API keys in `X-API-Key` (and, only when configured, a query parameter). The key is extracted by
 * passport-headerapikey through passport and verified by `ApiKeyVerifier`; a per-key IP allow-list is
 * checked against the client address.
 */
@Injectable()
export class ApiKeyAuthenticator extends Authenticator {
  readonly name = 'api-key';
  readonly challenge = 'ApiKey realm="api"';
  private readonly queryParam: string | false;

  constructor(
    @Inject(SECURITY_OPTIONS) options: ResolvedSecurityOptions,
    private readonly verifier: ApiKeyVerifier,
    // Injected so that the strategy is constructed (and registered with passport) before first use.
    _strategy: ApiKeyStrategy,
  ) {
    super();
    this.queryParam = options.apiKeys ? options.apiKeys.queryParam : false;
  }

  present(request: HttpRequestLike): boolean {
    return request.headers[HEADER] !== undefined || this.fromQuery(request) !== undefined;
  }

  async authenticate(request: HttpRequestLike): Promise<Principal> {
    if (headerCount(request, HEADER) > 1) throw new InvalidCredentialsError('ambiguous');
    const inQuery = this.fromQuery(request);
    if (inQuery !== undefined && request.headers[HEADER] !== undefined) throw new InvalidCredentialsError('ambiguous');
    const text = inQuery ?? (await extractWithPassport(request));
    // Node joins repeated headers with ", " when they reach it as one; a key never contains a comma.
    if (text.includes(',')) throw new InvalidCredentialsError('ambiguous');
    const { record, principal } = await this.verifier.verify(text);
    if (record.allowedCidrs && record.allowedCidrs.length > 0) {
      // The client behind trusted proxies (trustProxy), never the proxy itself.
      const ip = clientIpOf(request);
      if (
        !ip ||
        !allowListOf(record.allowedCidrs).check(normalizeIp(ip), isIP(normalizeIp(ip)) === 6 ? 'ipv6' : 'ipv4')
      ) {
        throw new InvalidCredentialsError('ip_not_allowed', { keyId: record.id });
      }
    }
    return principal;
  }

  private fromQuery(request: HttpRequestLike): string | undefined {
    if (!this.queryParam) return undefined;
    const url = request.originalUrl ?? request.url ?? '';
    const query = url.indexOf('?');
    if (query === -1) return undefined;
    const values = new URLSearchParams(url.slice(query + 1)).getAll(this.queryParam);
    if (values.length > 1) throw new InvalidCredentialsError('ambiguous');
    return values[0];
  }
}

function extractWithPassport(request: HttpRequestLike): Promise<string> {
  return new Promise((resolve, reject) => {
    const middleware = passport.authenticate(
      API_KEY_STRATEGY,
      { session: false },
      (error: unknown, user: { apiKey: string } | false) => {
        if (error) reject(error instanceof Error ? error : new InvalidCredentialsError('malformed'));
        else if (!user || typeof user.apiKey !== 'string') reject(new InvalidCredentialsError('missing'));
        else resolve(user.apiKey);
      },
    ) as (req: unknown, res: unknown, next: (error?: unknown) => void) => void;
    middleware(request, {}, (error) => reject(error instanceof Error ? error : new InvalidCredentialsError('missing')));
  });
}

const allowLists = new WeakMap<readonly string[], BlockList>();

function allowListOf(cidrs: readonly string[]): BlockList {
  let list = allowLists.get(cidrs);
  if (!list) {
    list = new BlockList();
    for (const entry of cidrs) {
      const [address, bits] = entry.split('/');
      const type = isIP(address!) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) list.addAddress(address!, type);
      else list.addSubnet(address!, Number(bits), type);
    }
    allowLists.set(cidrs, list);
  }
  return list;
}

// Express and Fastify report IPv4 clients of a dual-stack socket as ::ffff:a.b.c.d.
function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}
