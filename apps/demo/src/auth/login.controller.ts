import { Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { IsString, MaxLength, MinLength } from 'class-validator';
import {
  BoundedString,
  CurrentPrincipal,
  Logins,
  Public,
  RateLimit,
  SecurityOperationError,
  Sessions,
  summarizeRequest,
  type HttpRequestLike,
  type Principal,
} from '@app/security';

export class LoginDto {
  @BoundedString(1, 64) username!: string;
  @IsString() @MinLength(1) @MaxLength(256) password!: string;
}

/** What a login answers: the session token (shown this once), when it expires at the latest, and who. */
export interface LoginAnswer {
  token: string;
  expiresAt: string;
  principalId: string;
}

@ApiTags('identity')
@Controller()
export class LoginController {
  constructor(
    private readonly logins: Logins,
    private readonly sessions: Sessions,
  ) {}

  @Post('login')
  @Public()
  // RATE_LIMIT_LOGIN (default 5/300s) per client IP, counted before the password is checked; the
  // (username, IP) backoff of the sessions options comes on top of it.
  @RateLimit('login', { by: 'ip' })
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Check a username and password; 200 {token, expiresAt, principalId} (send Authorization: Bearer <token>), ' +
      'the generic 401 problem, or 429 with Retry-After while failed logins back off',
  })
  async login(@Body() body: LoginDto, @Req() request: HttpRequestLike): Promise<LoginAnswer> {
    const session = await this.logins.login(body.username, body.password, request);
    return { token: session.token, expiresAt: session.expiresAt.toISOString(), principalId: session.principalId };
  }

  @Post('logout')
  @HttpCode(204)
  @ApiSecurity('Session')
  @ApiOperation({ summary: 'End the current session (its token stops working at once); 204' })
  async logout(@CurrentPrincipal() principal: Principal, @Req() request: HttpRequestLike): Promise<void> {
    if (principal.sessionId === undefined) {
      // An API key or an OAuth token is not a session: revoke the key, or let the token expire.
      throw new SecurityOperationError('ERR_SECURITY_NOT_A_SESSION', 'Only a session can log out', 'invalid');
    }
    await this.sessions.end(principal.sessionId, 'logout', {
      principalId: principal.id,
      label: principal.id,
      request: summarizeRequest(request),
    });
  }
}
