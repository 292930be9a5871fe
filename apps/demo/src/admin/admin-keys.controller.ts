import { Body, Controller, Get, HttpCode, NotFoundException, Param, Post, Query, Req } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import {
  ApiKeys,
  CurrentPrincipal,
  RequirePermission,
  RequireMfa,
  Sensitive,
  summarizeRequest,
  type Actor,
  type HttpRequestLike,
  type Principal,
} from '@app/security';
import { AdminCreateKeyDto, CreateKeyDto, RotateKeyDto } from './api-key.dto.js';
import { STEP_UP_MAX_AGE_SEC } from '../mfa/step-up.js';

export function actorOf(principal: Principal, request: HttpRequestLike): Actor {
  return { principalId: principal.id, label: principal.id, request: summarizeRequest(request) };
}

@ApiTags('admin')
@ApiSecurity('ApiKey')
@Controller('admin/keys')
@RequirePermission('keys:admin')
@Sensitive()
export class AdminKeysController {
  constructor(private readonly keys: ApiKeys) {}

  @Post()
  @RequireMfa({ maxAgeSec: STEP_UP_MAX_AGE_SEC })
  @ApiOperation({ summary: 'Create a key for any principal; the full key is in this answer only' })
  create(@Body() body: AdminCreateKeyDto, @CurrentPrincipal() principal: Principal, @Req() request: HttpRequestLike) {
    const { owner, ...input } = body;
    return this.keys.create({ ...input, ownerId: owner }, actorOf(principal, request));
  }

  @Get()
  @ApiOperation({ summary: 'List keys (never their secrets), optionally of one owner' })
  async list(@Query('owner') owner?: string) {
    return { items: await this.keys.list({ ownerId: owner }), nextCursor: null };
  }

  @Post(':id/rotate')
  @RequireMfa({ maxAgeSec: STEP_UP_MAX_AGE_SEC })
  @HttpCode(201)
  rotate(
    @Param('id') id: string,
    @Body() body: RotateKeyDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: HttpRequestLike,
  ) {
    return this.keys.rotate(id, { grace: body.grace }, actorOf(principal, request));
  }

  @Post(':id/revoke')
  @HttpCode(200)
  revoke(@Param('id') id: string, @CurrentPrincipal() principal: Principal, @Req() request: HttpRequestLike) {
    return this.keys.revoke(id, actorOf(principal, request));
  }
}

/** Self-service: a principal manages its own keys; another principal's key is answered as not found. */
@ApiTags('identity')
@ApiSecurity('ApiKey')
@Controller('me/keys')
export class MyKeysController {
  constructor(private readonly keys: ApiKeys) {}

  @Post()
  @RequireMfa({ maxAgeSec: STEP_UP_MAX_AGE_SEC })
  create(@Body() body: CreateKeyDto, @CurrentPrincipal() principal: Principal, @Req() request: HttpRequestLike) {
    const { name, scopes, expiresIn, environment, allowedCidrs, rateLimit } = body;
    return this.keys.create(
      { name, scopes, expiresIn, environment, allowedCidrs, rateLimit, ownerId: principal.id },
      actorOf(principal, request),
    );
  }

  @Get()
  async list(@CurrentPrincipal() principal: Principal) {
    return { items: await this.keys.list({ ownerId: principal.id }), nextCursor: null };
  }

  @Post(':id/rotate')
  @RequireMfa({ maxAgeSec: STEP_UP_MAX_AGE_SEC })
  @HttpCode(201)
  async rotate(
    @Param('id') id: string,
    @Body() body: RotateKeyDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: HttpRequestLike,
  ) {
    await this.own(id, principal);
    return this.keys.rotate(id, { grace: body.grace }, actorOf(principal, request));
  }

  @Post(':id/revoke')
  @HttpCode(200)
  async revoke(@Param('id') id: string, @CurrentPrincipal() principal: Principal, @Req() request: HttpRequestLike) {
    await this.own(id, principal);
    return this.keys.revoke(id, actorOf(principal, request));
  }

  private async own(id: string, principal: Principal): Promise<void> {
    const key = await this.keys.get(id);
    if (!key || key.ownerId !== principal.id) throw new NotFoundException();
  }
}
