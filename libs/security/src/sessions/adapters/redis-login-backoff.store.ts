import type { Redis } from 'ioredis';
import { withTimeout } from '../../core/with-timeout.js';
import type { LoginAttemptDecision, LoginBackoffPolicy } from '../core/login-backoff.js';
import { LoginBackoffStore } from '../login-backoff.store.js';

/** Options of `RedisLoginBackoffStore`. */
export interface RedisLoginBackoffStoreOptions {
  /** Prepended to every key. Default `nas:login-backoff:`. */
  readonly prefix?: string;
  /** A call not answered within this many milliseconds rejects. Default 1 000. */
  readonly commandTimeoutMs?: number;
}

/**
 * `decideLoginAttempt` of `core/login-backoff.ts` in Lua, so that instances share one count per pair and
 * parallel attempts cannot slip between the check and the count. KEYS[1]: the pair; ARGV: now, baseMs,
 * maxMs, after. The hash holds n (failures), u (locked until) and x (forget after), all in the caller's
 * clock; the key's own TTL only bounds memory. Returns {1, failures} or {0, retryAfterMs}.
 */
export const LOGIN_BACKOFF_LUA = `
local now = tonumber(ARGV[1])
local base = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local after = tonumber(ARGV[4])
local h = redis.call('HMGET', KEYS[1], 'n', 'u', 'x')
local n = tonumber(h[1]) or 0
local u = tonumber(h[2]) or 0
local x = tonumber(h[3]) or 0
if x <= now then
  n = 0
  u = 0
end
if u > now then
  return {0, u - now}
end
n = n + 1
local delay = 0
if n >= after then
  local e = n - after
  if e >= 60 then delay = max else delay = math.min(max, base * (2 ^ e)) end
end
local locked = 0
if delay > 0 then locked = now + delay end
redis.call('HSET', KEYS[1], 'n', n, 'u', string.format('%d', locked), 'x', string.format('%d', now + delay + max))
redis.call('PEXPIRE', KEYS[1], delay + max)
return {1, n}
`;

/** Backoff state in Redis, shared by every instance. */
export class RedisLoginBackoffStore extends LoginBackoffStore {
  readonly kind = 'redis';
  private readonly prefix: string;
  private readonly commandTimeoutMs: number;

  constructor(
    private readonly client: Redis,
    { prefix = 'nas:login-backoff:', commandTimeoutMs = 1_000 }: RedisLoginBackoffStoreOptions = {},
  ) {
    super();
    this.prefix = prefix;
    this.commandTimeoutMs = commandTimeoutMs;
  }

  async attempt(key: string, now: number, policy: LoginBackoffPolicy): Promise<LoginAttemptDecision> {
    const reply = (await this.timed(
      this.client.eval(
        LOGIN_BACKOFF_LUA,
        1,
        this.prefix + key,
        String(Math.floor(now)),
        String(policy.baseMs),
        String(policy.maxMs),
        String(policy.after),
      ) as Promise<[number, number]>,
    )) as [number, number];
    return reply[0] === 1 ? { allowed: true, failures: reply[1] } : { allowed: false, retryAfterMs: reply[1] };
  }

  async reset(key: string): Promise<void> {
    await this.timed(this.client.del(this.prefix + key));
  }

  private timed<T>(promise: Promise<T>): Promise<T> {
    return withTimeout(promise, this.commandTimeoutMs, `no answer from Redis within ${this.commandTimeoutMs} ms`);
  }
}
