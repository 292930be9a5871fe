import type { ExecutionContext } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { PermissionDeniedError, ResourceNotFoundError, SecurityStoreUnavailableError } from '../core/errors.js';
import { setPrincipal } from '../principals/current-principal.decorator.js';
import type { Principal } from '../principals/principal.js';
import { Authorize } from './authorize.decorator.js';
import type { AccessScope } from './core/access-scope.js';
import type { Grants } from './grants.service.js';
import { PolicyGuard } from './policy.guard.js';
import { ResourcePolicy, type PolicyContext } from './resource-policy.js';

interface Note {
  id: string;
  owner: string;
  public: boolean;
}

const NOTES: Record<string, Note> = {
  n1: { id: 'n1', owner: 'alice', public: true },
  n2: { id: 'n2', owner: 'alice', public: false },
};

class NotePolicy extends ResourcePolicy<Note> {
  readonly resourceType = 'note';
  loads = 0;
  async load(id: string) {
    this.loads++;
    if (id === 'boom') throw new Error('database down');
    return NOTES[id] ?? null;
  }
  idOf(note: Note) {
    return note.id;
  }
  can(principal: Principal, action: string, note: Note, context: PolicyContext) {
    if (note.owner === principal.id) return true;
    if (this.granted(action, context)) return true;
    return action === 'read' && note.public;
  }
  scope(): AccessScope {
    return { kind: 'nothing' };
  }
}

class Routes {
  @Authorize(NotePolicy, 'edit') edit() {}
}

describe('PolicyGuard', () => {
  const policy = new NotePolicy();
  const grantsFor: Record<string, string[]> = { 'bob:n2': ['edit'] };
  const grants = {
    actionsOn: async (p: string, _t: string, id: string) => grantsFor[`${p}:${id}`] ?? [],
  } as unknown as Grants;
  const guard = new PolicyGuard(new Reflector(), { get: () => policy } as unknown as ModuleRef, grants);

  function run(principalId: string, id: string) {
    const request: Record<string | symbol, unknown> = { params: { id }, headers: {} };
    setPrincipal(request, {
      id: principalId,
      kind: 'user',
      roles: ['r'],
      permissions: [],
      attributes: {},
      authMethod: 'test',
    });
    const context = {
      getType: () => 'http',
      // oxlint-disable-next-line typescript/unbound-method -- passed by reference, as Nest does
      getHandler: () => Routes.prototype.edit,
      getClass: () => Routes,
      switchToHttp: () => ({ getRequest: () => request }),
    } as unknown as ExecutionContext;
    return { request, result: guard.canActivate(context) };
  }

  it('allows what the policy allows and hands the loaded resource on', async () => {
    const { request, result } = run('alice', 'n2');
    expect(await result).toBe(true);
    expect(Object.getOwnPropertySymbols(request).map((s) => request[s])).toContainEqual(NOTES.n2);
  });

  it('answers 403 for a visible resource and 404 for an invisible one', async () => {
    await expect(run('carol', 'n1').result).rejects.toBeInstanceOf(PermissionDeniedError);
    const hidden = await run('carol', 'n2').result.catch((error: unknown) => error);
    expect(hidden).toBeInstanceOf(ResourceNotFoundError);
    expect((hidden as ResourceNotFoundError).context).toMatchObject({
      hidden: true,
      required: 'note:edit',
      resource: { type: 'note', id: 'n2' },
    });
  });

  it('answers 404 without a denial for a resource that does not exist', async () => {
    const missing = await run('alice', 'n9').result.catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(ResourceNotFoundError);
    expect((missing as ResourceNotFoundError).context.hidden).toBeUndefined();
  });

  it('lets a grant allow the action', async () => {
    expect(await run('bob', 'n2').result).toBe(true);
  });

  it('denies with 503 when the resource cannot be loaded', async () => {
    await expect(run('alice', 'boom').result).rejects.toBeInstanceOf(SecurityStoreUnavailableError);
  });
});
