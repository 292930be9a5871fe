import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
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
  constructor(private readonly principals: Principals) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const [name, permissions] of Object.entries(DEMO_ROLES)) {
      await this.principals.defineRole(name, permissions, { label: 'system:seed' });
    }
  }
}
