import { Body, Controller, Get, HttpCode, ParseIntPipe, Post, Put, Query, Req, DefaultValuePipe } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { IsBoolean, IsIn, IsOptional, IsString, IsUUID, Length, MaxLength } from 'class-validator';
import { DataSource } from 'typeorm';
import {
  Audited,
  Authorize,
  AuthorizedResource,
  CurrentPrincipal,
  Grants,
  RequirePermission,
  restrictToAccessible,
  type HttpRequestLike,
  type Principal,
} from '@app/security';
import { actorOf } from '../admin/admin-keys.controller.js';
import { DocumentEntity } from './document.entity.js';
import { DocumentPolicy } from './document.policy.js';

export class DocumentDto {
  @IsString() @Length(1, 200) title!: string;
  @IsString() @MaxLength(100_000) body!: string;
  @IsOptional() @IsString() @Length(1, 64) department?: string;
  @IsOptional() @IsBoolean() confidential?: boolean;
}

/** `PUT` replaces the whole editable document. */
export class ReplaceDocumentDto {
  @IsString() @Length(1, 200) title!: string;
  @IsString() @MaxLength(100_000) body!: string;
  @IsString() @Length(1, 64) department!: string;
  @IsBoolean() confidential!: boolean;
}

export class GrantDto {
  @IsUUID() principalId!: string;
  @IsIn(['read', 'write']) action!: 'read' | 'write';
}

const PAGE_MAX = 100;

function view(document: DocumentEntity) {
  return {
    id: document.id,
    ownerId: document.ownerId,
    title: document.title,
    body: document.body,
    department: document.department,
    confidential: document.confidential,
    createdAt: document.createdAt.toISOString(),
    updatedAt: document.updatedAt.toISOString(),
  };
}

/** Documents: route permission and the document policy must both allow. Ids are uuids. */
@ApiTags('documents')
@ApiSecurity('ApiKey')
@Controller('documents')
export class DocumentsController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly policy: DocumentPolicy,
    private readonly grants: Grants,
  ) {}

  @Post()
  @RequirePermission('documents:write')
  @Audited('document')
  @ApiOperation({ summary: 'Create a document; the caller owns it' })
  async create(@Body() body: DocumentDto, @CurrentPrincipal() principal: Principal) {
    const department =
      body.department ?? (typeof principal.attributes.department === 'string' ? principal.attributes.department : null);
    const repository = this.dataSource.getRepository(DocumentEntity);
    const saved = await repository.save(
      repository.create({
        title: body.title,
        body: body.body,
        department,
        confidential: body.confidential ?? false,
        ownerId: principal.id,
      }),
    );
    return view(saved);
  }

  @Get()
  @RequirePermission('documents:read')
  @ApiOperation({ summary: 'The documents the caller may read, oldest first; `cursor` is the last id of a page' })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Query('limit', new DefaultValuePipe(20), new ParseIntPipe()) limit: number,
    @Query('cursor') cursor?: string,
  ) {
    const size = Math.min(Math.max(limit, 1), PAGE_MAX);
    const query = restrictToAccessible(
      this.dataSource.getRepository(DocumentEntity).createQueryBuilder('document'),
      this.policy.scope(principal, 'read'),
    )
      .orderBy('document.id', 'ASC')
      .take(size + 1);
    if (cursor !== undefined) {
      if (!/^[0-9a-f-]{36}$/i.test(cursor)) return { items: [], nextCursor: null };
      query.andWhere('document.id > :cursor', { cursor });
    }
    const rows = await query.getMany();
    const page = rows.slice(0, size);
    return { items: page.map(view), nextCursor: rows.length > size ? page[page.length - 1]!.id : null };
  }

  @Get(':id')
  @RequirePermission('documents:read')
  @Authorize(DocumentPolicy, 'read')
  get(@AuthorizedResource() document: DocumentEntity) {
    return view(document);
  }

  @Put(':id')
  @RequirePermission('documents:write')
  @Authorize(DocumentPolicy, 'write')
  @Audited('document')
  async replace(@AuthorizedResource() document: DocumentEntity, @Body() body: ReplaceDocumentDto) {
    const repository = this.dataSource.getRepository(DocumentEntity);
    return view(await repository.save(repository.merge(document, body)));
  }

  @Post(':id/grants')
  @HttpCode(201)
  @RequirePermission('documents:write')
  @Authorize(DocumentPolicy, 'share')
  @ApiOperation({ summary: 'Grant another principal read or write on this document (owner or admin)' })
  async grant(
    @AuthorizedResource() document: DocumentEntity,
    @Body() body: GrantDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: HttpRequestLike,
  ) {
    const grant = {
      principalId: body.principalId,
      resourceType: 'document',
      resourceId: document.id,
      action: body.action,
    };
    const { added } = await this.grants.add(grant, actorOf(principal, request));
    return { ...grant, added };
  }
}
