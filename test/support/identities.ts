import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { ApiKeys, Principals, type CreateApiKeyInput } from '@app/security';

const actor = { label: 'test:setup' };

/** A principal with one API key, made through the library's services (not under test here). */
export interface Identity {
  readonly id: string;
  readonly username: string;
  readonly key: string;
  readonly keyId: string;
}

/** Creates a principal with the given roles and one key (options as `ApiKeys.create` takes them). */
export async function createIdentity(
  app: INestApplication,
  roles: readonly string[],
  key: Partial<Omit<CreateApiKeyInput, 'ownerId'>> & { password?: string; department?: string } = {},
): Promise<Identity> {
  const { password, department, ...keyInput } = key;
  const username = `u-${randomBytes(6).toString('hex')}`;
  const principal = await app
    .get(Principals)
    .create({ username, roles, password, attributes: department ? { department } : {} }, actor);
  const issued = await app.get(ApiKeys).create({ name: 'test key', ...keyInput, ownerId: principal.id }, actor);
  return { id: principal.id, username, key: issued.key, keyId: issued.id };
}

/** Adds another key to an existing principal. */
export async function addKey(app: INestApplication, ownerId: string, input: Partial<CreateApiKeyInput> = {}) {
  return app.get(ApiKeys).create({ name: 'extra key', ...input, ownerId }, actor);
}
