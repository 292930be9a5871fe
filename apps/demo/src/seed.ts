import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Principals } from '@app/security';

/** The demo's roles (DESIGN.md). Never `*:read`: it would grant `audit:read`. */
export const DEMO_ROLES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  viewer: ['users:read', 'documents:read', 'items:read'],
  editor: ['users:read', 'documents:read', 'items:read', 'users:write', 'documents:write', 'payments:write'],
  admin: ['*:*'],
});

/** Defines the demo's roles at boot (idempotent; a role whose permissions are unchanged is not touched). */
@Injectable()
export class DemoSeeder implements OnApplicationBootstrap {
  constructor(
    private readonly principals: Principals,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // The CLI opens a fresh database without migrating it (`migrate` does that): nothing to seed into yet.
    if (await this.dataSource.showMigrations()) {
      new Logger('Demo').warn('migrations are pending: roles not seeded (run `npm run migrate`)');
      return;
    }
    for (const [name, permissions] of Object.entries(DEMO_ROLES)) {
      await this.principals.defineRole(name, permissions, { label: 'system:seed' });
    }
  }
}
