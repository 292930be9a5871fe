import { Injectable } from '@nestjs/common';
import { InvalidCredentialsError } from '../core/errors.js';
import { headerCount, type HttpRequestLike } from '../http/http-request.js';
import { bearerCredentialOf } from '../oauth/core/bearer-token.js';
import { Authenticator } from '../principals/authenticator.js';
import type { Principal } from '../principals/principal.js';
import { Sessions } from './sessions.service.js';

const HEADER = 'authorization';
const BEARER = /^bearer\s+/i;

/**
 * Login sessions: `Authorization: Bearer sess_…`. Any other bearer token belongs to the OAuth authenticator;
 * both read the header with the same `bearerCredentialOf`, so exactly one of them ever offers itself. The
 * principal is the session's user with all the permissions of its roles (no scopes), `authMethod`
 * `session`, its `sessionId` and, once proved in this session, `mfaAt`.
 */
@Injectable()
export class SessionAuthenticator extends Authenticator {
  readonly name = 'session';
  readonly challenge = 'Bearer realm="api"';

  constructor(private readonly sessions: Sessions) {
    super();
  }

  present(request: HttpRequestLike): boolean {
    return bearerCredentialOf(authorizationOf(request)).kind === 'session';
  }

  async authenticate(request: HttpRequestLike): Promise<Principal> {
    // Node keeps only the first of repeated Authorization headers; a second credential must not hide.
    if (headerCount(request, HEADER) > 1) throw new InvalidCredentialsError('ambiguous', { scheme: 'session' });
    const token = (authorizationOf(request) ?? '').replace(BEARER, '').trim();
    return (await this.sessions.authenticate(token, request)).principal;
  }
}

function authorizationOf(request: HttpRequestLike): string | undefined {
  const value = request.headers[HEADER];
  return typeof value === 'string' ? value : undefined;
}
