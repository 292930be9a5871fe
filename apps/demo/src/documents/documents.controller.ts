import { Body, Controller, Get, HttpCode, Post, Put, Query, Req } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { IsBoolean, IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { DataSource } from 'typeorm';
import {
  Audited,
  Authorize,
  AuthorizedResource,
  BodyLimit,
  BoundedString,
  CurrentPrincipal,
  Grants,
  InvalidInputError,
  RequirePermission,
  SanitizedHtml,
  StrictInt,
  restrictToAccessible,
  type HttpRequestLike,
  type Principal,
} from '@app/security';
import { actorOf } from '../admin/admin-keys.controller.js';
import { DocumentEntity } from './document.entity.js';
import { DocumentPolicy } from './document.policy.js';

export class DocumentDto {
  @BoundedString(1, 200) title!: string;
  /** Rich text: sanitised to the library's HTML allow-list before it is validated and stored. */
  @SanitizedHtml() @IsString() @MaxLength(100_000) body!: string;
  @IsOptional() @BoundedString(1, 64) department?: string;
  @IsOptional() @IsBoolean() confidential?: boolean;
}

/** `PUT` replaces the whole editable document. */
export class ReplaceDocumentDto {
  @BoundedString(1, 200) title!: string;
  @SanitizedHtml() @IsString() @MaxLength(100_000) body!: string;
  @BoundedString(1, 64) department!: string;
  @IsBoolean() confidential!: boolean;
}

export class GrantDto {
  @IsUUID() principalId!: string;
  @IsIn(['read', 'write']) action!: 'read' | 'write';
}

/** The sort orders `GET /documents` accepts; `-` is descending. Nothing else reaches SQL. */
export const DOCUMENT_SORTS = ['createdAt', '-createdAt', 'title', '-title'] as const;
export type DocumentSort = (typeof DOCUMENT_SORTS)[number];

/** `GET /documents` query: every parameter optional, unknown ones refused by the validation preset. */
export class ListDocumentsQuery {
  /** Case-insensitive substring of the title; `%`, `_` and `\\` match themselves. */
  @IsOptional() @BoundedString(0, 200) search?: string;
  @IsOptional() @IsIn(DOCUMENT_SORTS) sort?: DocumentSort;
  @IsOptional() @StrictInt({ min: 1, max: 100 }) limit?: number;
  /** `nextCursor` of the previous page, opaque; only valid with the same `sort`. */
  @IsOptional() @BoundedString(1, 4096) cursor?: string;
}

const PAGE_DEFAULT = 20;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// `created_at` as Postgres keeps it (microseconds): a JavaScript Date would drop them and repeat rows.
const CREATED_AT_TEXT = `to_char("document"."created_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const CREATED_AT_KEY = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** Where a page ended: the sort it was made with, the last row's sort key and its id (ties broken by id). */
interface DocumentCursor {
  readonly sort: DocumentSort;
  readonly key: string;
  readonly id: string;
}

/** Opaque to clients: base64url of `[sort, key, id]`. */
function encodeCursor(cursor: DocumentCursor): string {
  return Buffer.from(JSON.stringify([cursor.sort, cursor.key, cursor.id]), 'utf8').toString('base64url');
}

/** The cursor, or a 400 naming `cursor`: anything but a canonical cursor of this sort is refused. */
function decodeCursor(text: string, sort: DocumentSort): DocumentCursor {
  const refuse = () => new InvalidInputError([{ name: 'cursor', reason: 'is not a cursor of this list and sort' }]);
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw refuse();
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) throw refuse();
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw refuse();
  }
  if (!Array.isArray(value) || value.length !== 3 || !value.every((part) => typeof part === 'string')) throw refuse();
  const [cursorSort, key, id] = value as [string, string, string];
  if (cursorSort !== sort || !UUID.test(id)) throw refuse();
  const keyValid =
    sort === 'title' || sort === '-title'
      ? // Titles are 1 to 200 characters, counted as Postgres does (code points).
        key.length >= 1 && Array.from(key).length <= 200
      : CREATED_AT_KEY.test(key) && isRealInstant(key);
  if (!keyValid) throw refuse();
  return { sort, key, id };
}

/** A date PostgreSQL takes: it exists (no 30 February) and its year is 1 or later. */
function isRealInstant(key: string): boolean {
  const milliseconds = `${key.slice(0, 23)}Z`;
  const parsed = new Date(milliseconds);
  return !key.startsWith('0000') && !Number.isNaN(parsed.getTime()) && parsed.toISOString() === milliseconds;
}

/** Escapes `LIKE` wildcards (and the escape character) so the search text matches itself. */
function likeContaining(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}

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
  // Bodies may hold 100,000 characters of rich text.
  @BodyLimit('256kb')
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
  @ApiOperation({
    summary:
      'The documents the caller may read: `search` in titles, `sort` one of title, -title, createdAt (default), ' +
      "-createdAt; `cursor` is the previous page's `nextCursor`",
  })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListDocumentsQuery) {
    const sort: DocumentSort = query.sort ?? 'createdAt';
    const size = query.limit ?? PAGE_DEFAULT;
    const byTitle = sort === 'title' || sort === '-title';
    const descending = sort.startsWith('-');
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, sort);
    const builder = this.dataSource
      .getRepository(DocumentEntity)
      .createQueryBuilder('document')
      .addSelect(byTitle ? '"document"."title"' : CREATED_AT_TEXT, 'sort_key');
    // Only parameters reach the SQL text; the sort column comes from the allow-list above.
    if (query.search) {
      builder.andWhere(`"document"."title" ILIKE :search ESCAPE '\\'`, { search: likeContaining(query.search) });
    }
    if (after) {
      const key = byTitle ? ':cursorKey' : 'CAST(:cursorKey AS timestamptz)';
      const column = byTitle ? '"document"."title"' : '"document"."created_at"';
      builder.andWhere(`(${column}, "document"."id") ${descending ? '<' : '>'} (${key}, CAST(:cursorId AS uuid))`, {
        cursorKey: after.key,
        cursorId: after.id,
      });
    }
    // Last, so that no condition added after it can widen the result.
    const restricted = restrictToAccessible(builder, this.policy.scope(principal, 'read'))
      .orderBy(byTitle ? 'document.title' : 'document.createdAt', descending ? 'DESC' : 'ASC')
      .addOrderBy('document.id', descending ? 'DESC' : 'ASC')
      .limit(size + 1);
    const { entities, raw } = await restricted.getRawAndEntities<{ sort_key: string; document_id: string }>();
    const page = entities.slice(0, size);
    const last = page.at(-1);
    const lastKey = last && raw.find((row) => row.document_id === last.id)?.sort_key;
    return {
      items: page.map(view),
      nextCursor:
        entities.length > size && last && lastKey !== undefined
          ? encodeCursor({ sort, key: lastKey, id: last.id })
          : null,
    };
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
  @BodyLimit('256kb')
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
