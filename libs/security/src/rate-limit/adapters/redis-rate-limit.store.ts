import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { SecurityStoreUnavailableError } from '../../core/errors.js';
import { SECURITY_DEFAULTS } from '../../options/security-defaults.js';
import { withTimeout } from '../../core/with-timeout.js';
import {
  assertValidRateLimitChecks,
  RateLimitStore,
  type RateLimitCheck,
  type RateLimitDecision,
} from '../rate-limit.store.js';

/** Options of `RedisRateLimitStore`. */
export interface RedisRateLimitStoreOptions {
  /** Prepended to every key. Default `nas:rate-limit:` (the module's `redis.keyPrefix` + `rate-limit:`). */
  prefix?: string;
  /** A `consume` not answered within this many milliseconds rejects as store-unavailable. Default 1 000. */
  commandTimeoutMs?: number;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 1_000;

/**
 * The sliding-window counter of `core/sliding-window.ts` (same integer arithmetic, same results), for
 * all the checks of one request at once. KEYS: the prefixed keys; ARGV: now, then limit, windowMs,
 * cost, blockMs per key. Each key is a hash {ws, cur, prev, bu}. First every check is decided; then, when
 * all allow, every key is written, otherwise only keys that start a block (refusals consume nothing).
 * Returns allowed (1/0), remaining, resetMs, retryAfterMs per key.
 */
export const RATE_LIMIT_LUA = `
local now = tonumber(ARGV[1])

local function wait_ms(ws, cur, prev, w, target)
  local elapsed = math.min(w, math.max(0, now - ws))
  if cur <= target then
    if prev == 0 then return 0 end
    return math.max(0, math.ceil(((w - elapsed) * prev - (target - cur) * w) / prev))
  end
  return w - elapsed + math.ceil((w * (cur - target)) / cur)
end

local function remaining_of(ws, cur, prev, w, limit)
  local elapsed = math.min(w, math.max(0, now - ws))
  return math.max(0, math.floor((limit * w - (prev * (w - elapsed) + cur * w)) / w))
end

local checks = {}
local all_allowed = true
for i = 1, #KEYS do
  local a = 1 + (i - 1) * 4
  local c = { limit = tonumber(ARGV[a + 1]), w = tonumber(ARGV[a + 2]), cost = tonumber(ARGV[a + 3]), block = tonumber(ARGV[a + 4]) }
  local h = redis.call('HMGET', KEYS[i], 'ws', 'cur', 'prev', 'bu')
  c.ws = tonumber(h[1]) or 0
  c.cur = tonumber(h[2]) or 0
  c.prev = tonumber(h[3]) or 0
  c.bu = tonumber(h[4]) or 0
  c.stored_bu = c.bu
  local window_start = now - (now % c.w)
  if c.ws < window_start then
    if c.ws == window_start - c.w then c.prev = c.cur else c.prev = 0 end
    c.cur = 0
    c.ws = window_start
  end
  c.blocked = c.bu > now
  local elapsed = math.min(c.w, math.max(0, now - c.ws))
  c.allowed = (not c.blocked) and (c.prev * (c.w - elapsed) + (c.cur + c.cost) * c.w <= c.limit * c.w)
  if not c.allowed then all_allowed = false end
  checks[i] = c
end

local out = {}
for i = 1, #KEYS do
  local c = checks[i]
  local remaining, reset, retry
  if c.allowed then
    if all_allowed then c.cur = c.cur + c.cost end
    remaining = remaining_of(c.ws, c.cur, c.prev, c.w, c.limit)
    reset = wait_ms(c.ws, c.cur, c.prev, c.w, c.limit - 1)
    retry = 0
  else
    if (not c.blocked) and c.block > 0 then c.bu = now + c.block end
    local block_left = math.max(0, c.bu - now)
    if c.bu > now then remaining = 0 else remaining = remaining_of(c.ws, c.cur, c.prev, c.w, c.limit) end
    reset = math.max(block_left, wait_ms(c.ws, c.cur, c.prev, c.w, c.limit - 1))
    retry = math.max(block_left, wait_ms(c.ws, c.cur, c.prev, c.w, c.limit - c.cost))
  end
  if all_allowed or c.bu ~= c.stored_bu then
    redis.call('HSET', KEYS[i], 'ws', c.ws, 'cur', c.cur, 'prev', c.prev, 'bu', c.bu)
    redis.call('PEXPIRE', KEYS[i], math.max(1, math.max(c.ws + 2 * c.w, c.bu) - now))
  end
  out[#out + 1] = c.allowed and 1 or 0
  out[#out + 1] = remaining
  out[#out + 1] = reset
  out[#out + 1] = retry
end
return out
`;

/** SHA-1 of `RATE_LIMIT_LUA`, as `SCRIPT LOAD` answers it. */
export const RATE_LIMIT_LUA_SHA = createHash('sha1').update(RATE_LIMIT_LUA).digest('hex');

/**
 * Rate-limit store shared by every instance of the API: one `EVALSHA` per request decides all its
 * checks atomically (falling back to `EVAL` when Redis answers `NOSCRIPT`, e.g. after a restart or a
 * failover). Time comes from the caller (`now`), never from Redis, so a settable clock drives it in
 * tests; instances should keep their clocks in sync (NTP), as the windows are aligned on that time.
 * Keys live for two windows (or until their block ends) after their last write.
 *
 * Deployment: a single Redis node or a Sentinel-managed primary. Redis Cluster only when every key
 * of the store is on one slot, by a hash tag in the prefix (`{nas-rl}:`): a script may only touch keys
 * of one slot, and splitting a request's checks per slot would lose the all-or-nothing guarantee
 * (the IP policy could consume on one shard while the principal policy refuses on another). That puts
 * all rate limiting on one shard, which is what this store can promise atomically.
 *
 * The client is the caller's (for example the module's shared one) and is not closed by `shutdown()`.
 * When Redis does not answer within `commandTimeoutMs`, `consume` rejects with
 * `SecurityStoreUnavailableError`; whether to fail open or closed is the guard's decision.
 * @example
 * const store = new RedisRateLimitStore(new Redis(process.env.REDIS_URL), { prefix: 'api:rl:' });
 * await store.init();
 */
export class RedisRateLimitStore extends RateLimitStore {
  readonly kind = 'redis';
  /** Prepended to every key. */
  readonly prefix: string;
  private readonly commandTimeoutMs: number;

  constructor(
    private readonly client: Redis,
    {
      prefix = `${SECURITY_DEFAULTS.redisKeyPrefix}rate-limit:`,
      commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS,
    }: RedisRateLimitStoreOptions = {},
  ) {
    super();
    if (!Number.isSafeInteger(commandTimeoutMs) || commandTimeoutMs < 1) {
      throw new TypeError(`RedisRateLimitStore: commandTimeoutMs must be an integer >= 1, got ${commandTimeoutMs}`);
    }
    this.prefix = prefix;
    this.commandTimeoutMs = commandTimeoutMs;
  }

  /** Loads the script (`SCRIPT LOAD`), so that the first `EVALSHA` finds it. */
  override async init(): Promise<void> {
    const sha = await this.withTimeout(this.client.script('LOAD', RATE_LIMIT_LUA) as Promise<string>);
    if (sha !== RATE_LIMIT_LUA_SHA) throw new Error(`RedisRateLimitStore: SCRIPT LOAD answered ${sha}`);
  }

  async consume(checks: readonly RateLimitCheck[], now: number): Promise<RateLimitDecision[]> {
    assertValidRateLimitChecks(checks, now);
    if (checks.length === 0) return [];
    const keys = checks.map((check) => `${this.prefix}${check.key}`);
    const args = [now];
    for (const { limit, windowMs, cost = 1, blockMs = 0 } of checks) args.push(limit, windowMs, cost, blockMs);
    let reply: number[];
    try {
      reply = await this.withTimeout(this.run(keys, args));
    } catch (error) {
      throw new SecurityStoreUnavailableError('rate-limit', 1, { cause: error });
    }
    return checks.map((check, i) => ({
      key: check.key,
      allowed: reply[i * 4] === 1,
      limit: check.limit,
      remaining: reply[i * 4 + 1]!,
      resetMs: reply[i * 4 + 2]!,
      retryAfterMs: reply[i * 4 + 3]!,
    }));
  }

  private async run(keys: string[], args: number[]): Promise<number[]> {
    try {
      return (await this.client.evalsha(RATE_LIMIT_LUA_SHA, keys.length, ...keys, ...args)) as number[];
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      // EVAL also caches the script, so the next EVALSHA finds it.
      return (await this.client.eval(RATE_LIMIT_LUA, keys.length, ...keys, ...args)) as number[];
    }
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    return withTimeout(promise, this.commandTimeoutMs, `no answer from Redis within ${this.commandTimeoutMs} ms`);
  }
}
