import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import {
  CurrentPrincipal,
  Principals,
  RateLimit,
  RequirePermission,
  Sensitive,
  Sessions,
  StrictInt,
  StrongPassword,
  summarizeRequest,
  type HttpRequestLike,
  type Principal,
  type SessionActor,
  type SessionView,
} from '@app/security';

export class ListSessionsQuery {
  @IsOptional() @StrictInt({ min: 1, max: 100 }) limit?: number;
  @IsOptional() @IsString() @MaxLength(200) cursor?: string;
}

export class ChangePasswordDto {
  @IsString() @MinLength(1) @MaxLength(256) currentPassword!: string;
  @StrongPassword() newPassword!: string;
}

function actorOf(principal: Principal, request: HttpRequestLike): SessionActor {
  return { principalId: principal.id, label: principal.id, request: summarizeRequest(request) };
}

/** The caller's own sessions: list them, end one. Someone else's session answers 404, like none at all. */
@ApiTags('identity')
@ApiSecurity('Session')
@Controller('sessions')
export class SessionsController {
  constructor(private readonly sessions: Sessions) {}

  @Get()
  @ApiOperation({ summary: "The caller's active sessions, newest first: {items, nextCursor}; never a token" })
  list(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ListSessionsQuery,
  ): Promise<{ items: SessionView[]; nextCursor: string | null }> {
    return this.sessions.list(principal.id, {
      limit: query.limit,
      cursor: query.cursor,
      currentSessionId: principal.sessionId,
    });
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'End one of your own sessions (the current one included); 204, or 404' })
  async end(
    @Param('id', new ParseUUIDPipe()) id: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: HttpRequestLike,
  ): Promise<void> {
    if (!(await this.sessions.endOwn(principal.id, id, 'ended_by_owner', actorOf(principal, request)))) {
      throw new NotFoundException();
    }
  }
}

/** Any principal's session, for administrators (`sessions:admin`). */
@ApiTags('admin')
@ApiSecurity('ApiKey')
@Controller('admin/sessions')
@RequirePermission('sessions:admin')
@Sensitive()
export class AdminSessionsController {
  constructor(private readonly sessions: Sessions) {}

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: "End any principal's active session; 204, or 404 when there is no active one" })
  async end(
    @Param('id', new ParseUUIDPipe()) id: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: HttpRequestLike,
  ): Promise<void> {
    const session = await this.sessions.find(id);
    if (
      !session ||
      !(await this.sessions.endOwn(session.principalId, id, 'ended_by_admin', actorOf(principal, request)))
    ) {
      throw new NotFoundException();
    }
  }
}

/**
 * `POST /me/password`: the caller's own password. Every other session of the caller ends; a session caller
 * gets a new token for the current one (its old token stops working). Limited to 5 attempts per 5 minutes
 * per principal, so a stolen session cannot be used to guess the password.
 */
@ApiTags('identity')
@ApiSecurity('Session')
@Controller('me/password')
export class PasswordController {
  constructor(
    private readonly principals: Principals,
    private readonly sessions: Sessions,
  ) {}

  @Post()
  @HttpCode(200)
  @RateLimit('5/300s', { by: 'principal', name: 'password' })
  @ApiOperation({
    summary:
      'Change your password ({currentPassword, newPassword}); 200 {endedSessions} plus {token, expiresAt} for a ' +
      'session caller; a wrong current password is a 400',
  })
  async change(
    @Body() body: ChangePasswordDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: HttpRequestLike,
  ): Promise<{ endedSessions: number; token?: string; expiresAt?: string; principalId: string }> {
    const { endedSessions } = await this.principals.changePassword(principal.id, body, {
      keepSessionId: principal.sessionId,
      request: summarizeRequest(request),
    });
    if (principal.sessionId === undefined) return { endedSessions: endedSessions.length, principalId: principal.id };
    const rotated = await this.sessions.rotate(principal.sessionId, {
      request,
      cause: 'password_changed',
      actor: actorOf(principal, request),
    });
    return {
      endedSessions: endedSessions.length,
      token: rotated.token,
      expiresAt: rotated.expiresAt.toISOString(),
      principalId: principal.id,
    };
  }
}
