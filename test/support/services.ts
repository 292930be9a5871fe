import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, it } from 'vitest';
import { startInMemoryPostgres } from '../../libs/security/src/persistence/embedded-postgres.js';

/** Where tests look for a real Postgres; its database is only used to create and drop others. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Where tests look for Redis. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const servicesRequired = process.env.REQUIRE_SERVICES === '1';
const CONNECT_TIMEOUT_MS = 1_000;

/** A database of its own for one suite. */
export interface TestDatabase {
  url: string;
  /** True when no real Postgres answered and this is an in-memory PGlite (use `EMBEDDED_POOL_SIZE`). */
  embedded: boolean;
  /** Drops the database (or stops the embedded server). */
  drop(): Promise<void>;
}

let adminUrl: Promise<string | undefined> | undefined;
let embeddedNoticeShown = false;

/**
 * Creates a fresh database `nas_test_<hex>` on the real Postgres, or, when none answers, starts an
 * in-memory PGlite (unless REQUIRE_SERVICES=1, which turns that into an error).
 */
export async function testDatabase(): Promise<TestDatabase> {
  adminUrl ??= findAdminUrl();
  const admin = await adminUrl;
  if (!admin) {
    if (servicesRequired) {
      throw new Error(
        `PostgreSQL is required (REQUIRE_SERVICES=1) but nothing answers at ${redact(TEST_DATABASE_URL)}`,
      );
    }
    if (!embeddedNoticeShown) {
      embeddedNoticeShown = true;
      process.stderr.write(`[tests] no PostgreSQL at ${redact(TEST_DATABASE_URL)}: using embedded PGlite\n`);
    }
    const server = await startInMemoryPostgres();
    return { url: server.url, embedded: true, drop: () => server.close() };
  }

  const name = `nas_test_${randomBytes(6).toString('hex')}`;
  await withClient(admin, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    embedded: false,
    drop: () =>
      (dropped ??= withClient(admin, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      })),
  };
}

/** The URL to create databases from: TEST_DATABASE_URL, or its server's `postgres` database if that one is missing. */
async function findAdminUrl(): Promise<string | undefined> {
  const fallback = new URL(TEST_DATABASE_URL);
  fallback.pathname = '/postgres';
  for (const candidate of [TEST_DATABASE_URL, fallback.toString()]) {
    try {
      await withClient(candidate, (client) => client.query('SELECT 1'));
      return candidate;
    } catch (error) {
      // 3D000: the server answers but that database does not exist; try the next one.
      if ((error as { code?: string }).code !== '3D000') return undefined;
    }
  }
  return undefined;
}

/** Runs `use` on a new connection to `url` (a refused or reset connection rejects, never crashes the run). */
export async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // A refused or reset connection also emits 'error'; without a listener it would crash the run.
  client.on('error', () => {});
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** True when Redis answers PING at TEST_REDIS_URL within 1 s. */
export async function redisAvailable(): Promise<boolean> {
  const redis = new Redis(TEST_REDIS_URL, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Whether Redis answered when this module loaded (`describe.skipIf` needs a value, not a promise). */
export const REDIS_AVAILABLE = await redisAvailable();

/**
 * `describe` for suites that need Redis: skipped with a notice when Redis is absent, failing
 * instead when REQUIRE_SERVICES=1.
 * @example
 * describeWithRedis('redis rate-limit store', () => { ... });
 */
export function describeWithRedis(name: string, suite: () => void): void {
  if (REDIS_AVAILABLE) {
    describe(name, suite);
  } else if (servicesRequired) {
    describe(name, () => {
      it('needs Redis', () => {
        throw new Error(`Redis is required (REQUIRE_SERVICES=1) but nothing answers at ${redact(TEST_REDIS_URL)}`);
      });
    });
  } else {
    console.warn(`[tests] SKIPPED ${name}: no Redis at ${redact(TEST_REDIS_URL)}`);
    describe.skip(name, suite);
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
