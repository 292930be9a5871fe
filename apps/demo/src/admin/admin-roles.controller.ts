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
  Put,
  Req,
} from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsString, IsUUID, Matches } from 'class-validator';
import {
  CurrentPrincipal,
  Principals,
  RequirePermission,
  RequireMfa,
  Sensitive,
  Sessions,
  type HttpRequestLike,
  type Principal,
} from '@app/security';
import { actorOf } from './admin-keys.controller.js';
import { STEP_UP_MAX_AGE_SEC } from '../mfa/step-up.js';

export class RolePermissionsDto {
  @IsArray()
  @ArrayMaxSize(200)
  @IsString({ each: true })
  @Matches(/^([a-z][a-z0-9_-]*|\*):([a-z][a-z0-9_-]*|\*)$/, { each: true })
  permissions!: string[];
}

export class RoleMemberDto {
  @IsUUID() principalId!: string;
}

/** Roles and their members; every change is audited and reaches every instance within a second. */
@ApiTags('admin')
@ApiSecurity('ApiKey')
@Controller('admin/roles')
@RequirePermission('roles:admin')
@Sensitive()
export class AdminRolesController {
  constructor(
    private readonly principals: Principals,
    private readonly sessions: Sessions,
  ) {}

  @Get()
  async list() {
    return { items: await this.principals.listRoles(), nextCursor: null };
  }

  @Put(':role')
  @RequireMfa({ maxAgeSec: STEP_UP_MAX_AGE_SEC })
  @ApiOperation({ summary: 'Create a role or replace its permissions' })
  async define(
    @Param('role') role: string,
    @Body() body: RolePermissionsDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: HttpRequestLike,
  ) {
    await this.principals.defineRole(role, body.permissions, actorOf(principal, request));
    return { name: role, permissions: [...new Set(body.permissions)].sort() };
  }

  @Post(':role/members')
  @RequireMfa({ maxAgeSec: STEP_UP_MAX_AGE_SEC })
  @HttpCode(200)
  async assign(
    @Param('role') role: string,
    @Body() body: RoleMemberDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: HttpRequestLike,
  ) {
    if (!(await this.principals.get(body.principalId))) throw new NotFoundException();
    const assigned = await this.principals.assignRole(body.principalId, role, actorOf(principal, request));
    return {
      principalId: body.principalId,
      role,
      assigned,
      ...(await this.rotateOwn(principal, body.principalId, assigned, request)),
    };
  }

  @Delete(':role/members/:principalId')
  @RequireMfa({ maxAgeSec: STEP_UP_MAX_AGE_SEC })
  async revoke(
    @Param('role') role: string,
    @Param('principalId', new ParseUUIDPipe()) principalId: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: HttpRequestLike,
  ) {
    const revoked = await this.principals.revokeRole(principalId, role, actorOf(principal, request));
    return { principalId, role, revoked, ...(await this.rotateOwn(principal, principalId, revoked, request)) };
  }

  /**
   * A session that changed its own roles gets a new token in this answer (`session: {token, expiresAt}`),
   * and its old token stops working: privileges never change under a token that existed before. Sessions of
   * other principals keep their tokens and see the new roles on their next request (there is no way to hand
   * them a new token).
   */
  private async rotateOwn(
    principal: Principal,
    subjectId: string,
    changed: boolean,
    request: HttpRequestLike,
  ): Promise<{ session?: { token: string; expiresAt: string } }> {
    if (!changed || principal.sessionId === undefined || subjectId.toLowerCase() !== principal.id) return {};
    const rotated = await this.sessions.rotate(principal.sessionId, {
      request,
      cause: 'roles_changed',
      actor: actorOf(principal, request),
    });
    return { session: { token: rotated.token, expiresAt: rotated.expiresAt.toISOString() } };
  }
}
