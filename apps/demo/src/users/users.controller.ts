import { Body, Controller, Delete, Get, NotFoundException, Param, ParseUUIDPipe, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsEmail, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import {
  Audited,
  CurrentPrincipal,
  Principals,
  RequirePermission,
  Sensitive,
  type HttpRequestLike,
  type Principal,
} from '@app/security';
import { actorOf } from '../admin/admin-keys.controller.js';

export class CreateUserDto {
  @IsString() @MaxLength(64) username!: string;
  @IsOptional() @IsEmail() @MaxLength(320) email?: string;
  @IsOptional() @IsString() @MaxLength(256) password?: string;
  @IsOptional() @IsString() @MaxLength(64) department?: string;
  @IsOptional() @IsIn(['user', 'service']) kind?: 'user' | 'service';
  @IsOptional() @IsArray() @ArrayMaxSize(20) @IsString({ each: true }) @MaxLength(64, { each: true }) roles?: string[];
}

/** Ids are uuids; anything else answers 400 before any query. */
@ApiTags('users')
@ApiSecurity('ApiKey')
@Controller('users')
export class UsersController {
  constructor(private readonly principals: Principals) {}

  @Post()
  @RequirePermission('users:write')
  @Audited('user')
  @ApiOperation({ summary: 'Create a user or service principal' })
  create(@Body() body: CreateUserDto, @CurrentPrincipal() principal: Principal, @Req() request: HttpRequestLike) {
    const { department, ...rest } = body;
    return this.principals.create(
      { ...rest, attributes: department ? { department } : {} },
      actorOf(principal, request),
    );
  }

  @Get(':id')
  @Sensitive()
  @RequirePermission('users:read')
  async get(@Param('id', new ParseUUIDPipe()) id: string) {
    const found = await this.principals.get(id);
    if (!found) throw new NotFoundException();
    return found;
  }

  @Delete(':id')
  @RequirePermission('users:delete')
  @Audited('user')
  @ApiOperation({ summary: 'Disable a principal: it can no longer log in and all its keys are revoked' })
  disable(
    @Param('id', new ParseUUIDPipe()) id: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: HttpRequestLike,
  ) {
    return this.principals.disable(id, actorOf(principal, request));
  }
}
