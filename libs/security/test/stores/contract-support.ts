import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach } from 'vitest';
import type { NewApiKey } from '../../src/keys/api-key.record.js';
import type { PrincipalStore } from '../../src/principals/principal.store.js';

/** What a contract's `makeStore` hands over: stores over a clean state, and how to let them go. */
export interface ContractFixture {
  cleanup(): Promise<void>;
}

/** A store under contract and the principal store its records belong to. */
export interface StoreWithPrincipalsFixture<S> extends ContractFixture {
  store: S;
  principals: PrincipalStore;
}

const T0 = new Date('2026-03-01T10:00:00.000Z');

/** A fixed instant `seconds` after a fixed origin, so that stored dates compare exactly. */
export const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

/**
 * Before each test of the calling `describe`: a fresh fixture from `makeStore`, handed to `setUp`;
 * after each test: its `cleanup`.
 */
export function useContractFixture<F extends ContractFixture>(
  makeStore: () => Promise<F>,
  setUp: (fixture: F) => void | Promise<void>,
): void {
  let fixture: F | undefined;

  beforeEach(async () => {
    fixture = await makeStore();
    await setUp(fixture);
  });

  afterEach(async () => {
    await fixture?.cleanup();
  });
}

/**
 * `useContractFixture` for a store whose records belong to principals: before each test, creates
 * alice (a user) and bob (a service) and hands their ids to `receive` with the store.
 * @example
 * useStoreWithAliceAndBob(makeStore, (given) => ({ store, alice, bob } = given));
 */
export function useStoreWithAliceAndBob<S>(
  makeStore: () => Promise<StoreWithPrincipalsFixture<S>>,
  receive: (given: { store: S; alice: string; bob: string }) => void,
): void {
  useContractFixture(makeStore, async ({ store, principals }) => {
    const alice = (await principals.create({ kind: 'user', username: 'alice' })).id;
    const bob = (await principals.create({ kind: 'service', username: 'bob' })).id;
    receive({ store, alice, bob });
  });
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** 12 random base62 characters, the shape of a public key id. */
export function randomKeyId(): string {
  return [...randomBytes(12)].map((byte) => BASE62[byte % 62]).join('');
}

/** A live key of `principalId` with a fresh id and hash, no limits and no `createdAt` (the store's now); `extra` overrides. */
export function newApiKey(principalId: string, extra: Partial<NewApiKey> = {}): NewApiKey {
  return {
    id: randomKeyId(),
    principalId,
    name: 'ci deploy',
    environment: 'live',
    secretHash: randomBytes(32).toString('hex'),
    hashVersion: 'v1',
    scopes: null,
    allowedCidrs: null,
    expiresAt: null,
    rotatedFrom: null,
    metadata: {},
    ...extra,
  };
}
