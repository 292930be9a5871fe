import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsUUID, Matches } from 'class-validator';
import { AuditEventStore, RequirePermission, SECURITY_EVENT_TYPES, Sensitive, StrictInt } from '@app/security';

export class AuditQueryDto {
  @IsOptional() @IsIn(SECURITY_EVENT_TYPES) type?: string;
  @IsOptional() @IsUUID() principal?: string;
  @IsOptional() @IsIn(['success', 'failure', 'denied']) outcome?: string;
  @IsOptional() @IsISO8601({ strict: true }) since?: string;
  @IsOptional() @IsISO8601({ strict: true }) until?: string;
  /** The `nextCursor` of the previous page: a seq (at most 18 digits, so always within a bigint). */
  @IsOptional() @Matches(/^[1-9][0-9]{0,17}$/) cursor?: string;
  @IsOptional() @StrictInt({ min: 1, max: 500 }) limit?: number;
}

/** The audit trail, newest first; reading it is itself recorded (`@Sensitive()`). */
@ApiTags('admin')
@ApiSecurity('ApiKey')
@Controller('admin/audit')
@RequirePermission('audit:read')
@Sensitive()
export class AdminAuditController {
  constructor(private readonly audit: AuditEventStore) {}

  @Get()
  @ApiOperation({ summary: 'Audit events, newest first: ?type=&principal=&outcome=&since=&until=&cursor=&limit=' })
  async list(@Query() query: AuditQueryDto) {
    const limit = query.limit ?? 50;
    const rows = await this.audit.query({
      type: query.type,
      principalId: query.principal,
      outcome: query.outcome,
      since: query.since ? new Date(query.since) : undefined,
      until: query.until ? new Date(query.until) : undefined,
      afterSeq: query.cursor,
      limit: limit + 1,
    });
    const items = rows.slice(0, limit);
    return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.seq : null };
  }
}
