import { Controller, Get, Query } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { RequirePermission, StrictInt } from '@app/security';

const ITEMS = [
  { id: 1, name: 'widget', priceCents: 1250, updatedAt: '2026-01-15T09:30:00.000Z' },
  { id: 2, name: 'gadget', priceCents: 4999, updatedAt: '2026-02-01T17:05:00.000Z' },
  { id: 3, name: 'gizmo', priceCents: 799, updatedAt: '2026-03-10T08:00:00.000Z' },
];

/** `?limit=` of both versions: validated alike (1 to 100). */
export class ItemsQuery {
  @IsOptional() @StrictInt({ min: 1, max: 100 }) limit?: number;
}

/**
 * Version 1 of the item list: `{id, name}` per item. Its lifecycle (deprecation, warning, closing to new
 * clients, brownouts, sunset) comes from the `V1_*` environment through `deprecations.versions['1']`.
 */
@ApiTags('items')
@ApiSecurity('ApiKey')
@Controller({ path: 'items', version: '1' })
export class ItemsV1Controller {
  @Get()
  @RequirePermission('items:read')
  list(@Query() query: ItemsQuery) {
    const items = ITEMS.slice(0, query.limit ?? ITEMS.length).map(({ id, name }) => ({ id, name }));
    return { items, nextCursor: null };
  }
}

/** Version 2, the successor: prices in cents and the time of the last change. Same permission as v1. */
@ApiTags('items')
@ApiSecurity('ApiKey')
@Controller({ path: 'items', version: '2' })
export class ItemsV2Controller {
  @Get()
  @RequirePermission('items:read')
  list(@Query() query: ItemsQuery) {
    return { items: ITEMS.slice(0, query.limit ?? ITEMS.length), nextCursor: null };
  }
}
