import { Controller, Get } from '@nestjs/common';
import { ApiSecurity, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/security';

const ITEMS = [
  { id: 1, name: 'widget' },
  { id: 2, name: 'gadget' },
];

/** Two versions of one list, for the versioning features; both need `items:read`. */
@ApiTags('items')
@ApiSecurity('ApiKey')
@Controller()
export class ItemsController {
  @Get('v1/items')
  @RequirePermission('items:read')
  listV1() {
    return { items: ITEMS, nextCursor: null };
  }

  @Get('v2/items')
  @RequirePermission('items:read')
  listV2() {
    return { items: ITEMS.map((item) => ({ ...item, version: 2 })), nextCursor: null };
  }
}
