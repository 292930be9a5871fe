import { Body, Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import {
  CurrentPrincipal,
  Mfa,
  RateLimit,
  SecurityOperationError,
  Sessions,
  summarizeRequest,
  type HttpRequestLike,
  type MfaStatus,
  type Principal,
} from '@app/security';

const TOTP_CODE = /^\d{6}$/;

export class EnrollMfaDto {
  @IsString() @MinLength(1) @MaxLength(256) password!: string;
  /** Needed to replace an active factor: a current code from it. */
  @IsOptional() @Matches(TOTP_CODE, { message: 'must be 6 digits' }) code?: string;
}

export class MfaCodeDto {
  @Matches(TOTP_CODE, { message: 'must be 6 digits' }) code!: string;
}

export class VerifyMfaDto {
  @IsOptional() @Matches(TOTP_CODE, { message: 'must be 6 digits' }) code?: string;
  @IsOptional() @IsString() @MaxLength(32) recoveryCode?: string;
}

/**
 * TOTP second factor of the calling user: enrol (password, and a current code to replace a factor), activate
 * (first code; answers the recovery codes once), verify (step-up of the current session). Each route is limited
 * to 10 attempts per 5 minutes per principal, so codes cannot be guessed.
 */
@ApiTags('identity')
@ApiSecurity('ApiKey')
@Controller('mfa')
@RateLimit('10/300s', { by: 'principal', name: 'mfa' })
export class MfaController {
  constructor(
    private readonly mfa: Mfa,
    private readonly sessions: Sessions,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Whether a TOTP factor is enrolled, and how many recovery codes are left' })
  status(@CurrentPrincipal() principal: Principal): Promise<MfaStatus> {
    return this.mfa.status(principal.id);
  }

  @Post('enroll')
  @HttpCode(200)
  @ApiOperation({ summary: 'Start TOTP enrolment: {otpauthUri} for an authenticator app' })
  enroll(
    @CurrentPrincipal() principal: Principal,
    @Body() body: EnrollMfaDto,
    @Req() request: HttpRequestLike,
  ): Promise<{ otpauthUri: string }> {
    return this.mfa.enroll(principal.id, { password: body.password, code: body.code }, summarizeRequest(request));
  }

  @Post('activate')
  @HttpCode(200)
  @ApiOperation({ summary: 'Confirm enrolment with a first code: {recoveryCodes}, shown this once' })
  activate(
    @CurrentPrincipal() principal: Principal,
    @Body() body: MfaCodeDto,
    @Req() request: HttpRequestLike,
  ): Promise<{ recoveryCodes: string[] }> {
    return this.mfa.activate(principal.id, body.code, summarizeRequest(request));
  }

  @Post('verify')
  @HttpCode(200)
  @ApiOperation({ summary: 'Prove the second factor ({code} or {recoveryCode}); steps up the current session' })
  async verify(
    @CurrentPrincipal() principal: Principal,
    @Body() body: VerifyMfaDto,
    @Req() request: HttpRequestLike,
  ): Promise<{ verifiedAt: string; session: string | null }> {
    if ((body.code === undefined) === (body.recoveryCode === undefined)) {
      throw new SecurityOperationError('ERR_SECURITY_MFA_PROOF', 'send either code or recoveryCode', 'invalid');
    }
    const proof = body.code !== undefined ? { code: body.code } : { recoveryCode: body.recoveryCode! };
    const { verifiedAt } = await this.mfa.verify(principal.id, proof, summarizeRequest(request));
    // A session steps up from the next request on; a bearer token steps up at its authorization server
    // (amr, auth_time), an API key never needs to.
    const stepped =
      principal.sessionId !== undefined && (await this.sessions.recordSecondFactor(principal.sessionId, verifiedAt));
    return { verifiedAt: verifiedAt.toISOString(), session: stepped ? principal.sessionId! : null };
  }
}
