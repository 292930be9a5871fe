import { Body, Controller, Delete, Get, NotFoundException, Param, ParseUUIDPipe, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsEmail,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import {
  Audited,
  BoundedString,
  CurrentPrincipal,
  LowerCased,
  Principals,
  RequirePermission,
  RequireMfa,
  SafeUsername,
  Sensitive,
  StrongPassword,
  type HttpRequestLike,
  type Principal,
} from '@app/security';
import { actorOf } from '../admin/admin-keys.controller.js';
import { STEP_UP_MAX_AGE_SEC } from '../mfa/step-up.js';

/**
 * The seed's user: email up to 255 characters, stored lower-cased; username 3 to 50 letters, digits and
 * underscores; optional age 0 to 150 (an integer, never a numeric string). `department` and `age` are kept
 * in the principal's attributes.
 */
export class CreateUserDto {
  @SafeUsername({ min: 3, max: 50 }) username!: string;
  @IsOptional() @LowerCased() @BoundedString(3, 255) @IsEmail() email?: string;
  @IsOptional() @IsInt() @Min(0) @Max(150) age?: number;
  @IsOptional() @StrongPassword() password?: string;
  @IsOptional() @BoundedString(1, 64) department?: string;
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
    const { department, age, ...rest } = body;
    const attributes: Record<string, unknown> = {};
    if (department) attributes.department = department;
    if (typeof age === 'number') attributes.age = age;
    return this.principals.create({ ...rest, attributes }, actorOf(principal, request));
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
  @RequireMfa({ maxAgeSec: STEP_UP_MAX_AGE_SEC })
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
