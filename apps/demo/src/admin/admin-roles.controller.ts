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
  Sensitive,
  type HttpRequestLike,
  type Principal,
} from '@app/security';
import { actorOf } from './admin-keys.controller.js';

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
  constructor(private readonly principals: Principals) {}

  @Get()
  async list() {
    return { items: await this.principals.listRoles(), nextCursor: null };
  }

  @Put(':role')
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
  @HttpCode(200)
  async assign(
    @Param('role') role: string,
    @Body() body: RoleMemberDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: HttpRequestLike,
  ) {
    if (!(await this.principals.get(body.principalId))) throw new NotFoundException();
    const assigned = await this.principals.assignRole(body.principalId, role, actorOf(principal, request));
    return { principalId: body.principalId, role, assigned };
  }

  @Delete(':role/members/:principalId')
  async revoke(
    @Param('role') role: string,
    @Param('principalId', new ParseUUIDPipe()) principalId: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: HttpRequestLike,
  ) {
    const revoked = await this.principals.revokeRole(principalId, role, actorOf(principal, request));
    return { principalId, role, revoked };
  }
}
