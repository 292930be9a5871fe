import { Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { IsString, MaxLength, MinLength } from 'class-validator';
import { BoundedString, Principals, Public, RateLimit, summarizeRequest, type HttpRequestLike } from '@app/security';

export class LoginDto {
  @BoundedString(1, 64) username!: string;
  @IsString() @MinLength(1) @MaxLength(256) password!: string;
}

@ApiTags('identity')
@Controller('login')
export class LoginController {
  constructor(private readonly principals: Principals) {}

  @Post()
  @Public()
  // RATE_LIMIT_LOGIN (default 5/300s) per client IP, counted before the password is checked.
  @RateLimit('login', { by: 'ip' })
  @HttpCode(200)
  @ApiOperation({ summary: 'Check a username and password; 200 {principalId} or the generic 401 problem' })
  login(@Body() body: LoginDto, @Req() request: HttpRequestLike): Promise<{ principalId: string }> {
    return this.principals.login(body.username, body.password, summarizeRequest(request));
  }
}
