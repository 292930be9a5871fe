import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { SecurityStoreUnavailableError } from '../../core/errors.js';
import { withTimeout } from '../../core/with-timeout.js';
import { SECURITY_DEFAULTS } from '../../options/security-defaults.js';
import { slidingWindowAll } from '../core/sliding-window.js';
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
  /**
   * At most this many `consume` calls share one `EVALSHA`. The calls of one event-loop turn are sent
   * together, and a full batch goes at once: with more calls than this in flight, Redis works on one batch
   * while this process answers or prepares another. 1 sends every call on its own. Default 32.
   */
  maxBatchCalls?: number;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 1_000;
const DEFAULT_MAX_BATCH_CALLS = 32;

/**
 * The decisions of several independent `consume` calls (groups) in one script run, each all or nothing,
 * with the sliding-window counter of `core/sliding-window.ts` (same integer arithmetic, same verdicts).
 *
 * KEYS: the distinct prefixed keys of the batch. ARGV[1]: one MessagePack array of integers: per group
 * `now` and its number of checks n, then per check the key's index in KEYS, `limit`, `windowMs`, `cost`
 * and `blockMs` (one argument decoded in C rather than five `tonumber` per check).
 *
 * A key is one string, the MessagePack of `ws, cur, prev, bu, w` (window start, cost in that window, cost
 * in the window before, blocked until, all in ms; and the window length it was written with), with an
 * expiry at the end of both windows or of the block. Every key is read by one `MGET`; groups then run in
 * order on those values, a key in two groups counted in sequence; at the end each key a group changed is
 * written once, by `SET … KEEPTTL` when its window start, block and window length are unchanged (so is its
 * expiry), otherwise `SET … PX`. A hash of the previous format (fields ws, cur, prev, bu) is read as that
 * state and rewritten as a string on its next write; any other value (not five numbers) counts as absent.
 *
 * A group first decides every check; then, when all allow, every key takes the cost, otherwise only the
 * keys that start a block are written (refusals consume nothing). Returns, per check in order, the state
 * it was decided on as read (before rolling the window; zeros when absent), four integers: the caller
 * derives the decisions from it with `core/sliding-window.ts` itself, so Redis computes no remaining,
 * reset or retry time.
 */
export const RATE_LIMIT_LUA = `
local call, type, unpack, pack, decode = redis.call, type, unpack, cmsgpack.pack, cmsgpack.unpack
local nkeys = #KEYS
-- Per key: the state (S, X, Y, Z, W: ws, cur, prev, bu, w), its value as read (V, false when absent) and,
-- once a group changed it, its time to live from that group's now (E).
local S, X, Y, Z, W, V, E = {}, {}, {}, {}, {}, {}, {}
local missing = {}
for from = 1, nkeys, 1000 do
  local to = math.min(from + 999, nkeys)
  local values = call('MGET', unpack(KEYS, from, to))
  for j = from, to do
    local v = values[j - from + 1]
    local ok, s, x, y, z, w, extra = false
    if v then ok, s, x, y, z, w, extra = pcall(decode, v) end
    if ok and extra == nil and type(s) == 'number' and type(x) == 'number' and type(y) == 'number'
      and type(z) == 'number' and type(w) == 'number' then
      S[j], X[j], Y[j], Z[j], W[j], V[j] = s, x, y, z, w, v
    else
      S[j], X[j], Y[j], Z[j], W[j], V[j] = 0, 0, 0, 0, 0, false
      if not v then missing[#missing + 1] = j end
    end
  end
end

-- MGET answers nil for a key of another type too; one EXISTS tells whether any is there at all.
local found = 0
for from = 1, #missing, 1000 do
  local names = {}
  for i = from, math.min(from + 999, #missing) do names[#names + 1] = KEYS[missing[i]] end
  found = found + call('EXISTS', unpack(names))
end
if found > 0 then
  for i = 1, #missing do
    local j = missing[i]
    local h = redis.pcall('HMGET', KEYS[j], 'ws', 'cur', 'prev', 'bu')
    if not h.err then
      S[j], X[j], Y[j], Z[j] = tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or 0, tonumber(h[4]) or 0
    end
  end
end

local A = decode(ARGV[1])
local out, o = {}, 0
-- The checks of the current group, decided before any is written.
local gj, gs, gx, gy, gz, gw, gc, gb = {}, {}, {}, {}, {}, {}, {}, {}
local a, argc = 1, #A
while a < argc do
  local now, n = A[a], A[a + 1]
  a = a + 2
  local all = true
  for i = 1, n do
    local j, limit, w, c, block = A[a], A[a + 1], A[a + 2], A[a + 3], A[a + 4]
    a = a + 5
    local s, x, y, z = S[j], X[j], Y[j], Z[j]
    out[o + 1], out[o + 2], out[o + 3], out[o + 4] = s, x, y, z
    o = o + 4
    local start = now - now % w
    if s < start then
      if s == start - w then y = x else y = 0 end
      x, s = 0, start
    end
    local elapsed = now - s
    if elapsed < 0 then elapsed = 0 elseif elapsed > w then elapsed = w end
    local starts_block = false
    if z > now then
      all = false
    elseif y * (w - elapsed) + (x + c) * w > limit * w then
      all = false
      if block > 0 then z, starts_block = now + block, true end
    end
    gj[i], gs[i], gx[i], gy[i], gz[i], gw[i], gc[i], gb[i] = j, s, x, y, z, w, c, starts_block
  end
  for i = 1, n do
    if all or gb[i] then
      local j, s, z, w = gj[i], gs[i], gz[i], gw[i]
      S[j], Y[j], Z[j], W[j] = s, gy[i], z, w
      if all then X[j] = gx[i] + gc[i] else X[j] = gx[i] end
      local e = s + 2 * w
      if z > e then e = z end
      e = e - now
      if e < 1 then e = 1 end
      E[j] = e
    end
  end
end

for j = 1, nkeys do
  if E[j] then
    local v = pack(S[j], X[j], Y[j], Z[j], W[j])
    local s0, z0, w0
    if V[j] then
      local _
      s0, _, _, z0, w0 = decode(V[j])
    end
    if s0 ~= S[j] or z0 ~= Z[j] or w0 ~= W[j] then
      call('SET', KEYS[j], v, 'PX', E[j])
    elseif v ~= V[j] then
      call('SET', KEYS[j], v, 'KEEPTTL')
    end
  end
end
return out
`;

/** SHA-1 of `RATE_LIMIT_LUA`, as `SCRIPT LOAD` answers it. */
export const RATE_LIMIT_LUA_SHA = createHash('sha1').update(RATE_LIMIT_LUA).digest('hex');

/** One `consume` call waiting for its batch. */
interface Waiter {
  readonly checks: readonly RateLimitCheck[];
  readonly now: number;
  readonly resolve: (decisions: RateLimitDecision[]) => void;
  readonly reject: (error: unknown) => void;
}

/** The calls that go to Redis in one `EVALSHA`, with that command's KEYS and ARGV built as they join. */
interface Batch {
  readonly waiters: Waiter[];
  /** The distinct prefixed keys (KEYS), and each one's 1-based index. */
  readonly keys: string[];
  readonly keyIndex: Map<string, number>;
  /** The integers of ARGV[1] (see `RATE_LIMIT_LUA`). */
  readonly args: number[];
  /** Checks in all the calls: the reply has four integers per check. */
  checks: number;
  /** Started when the batch opens, so no caller of it waits longer than `commandTimeoutMs`. */
  timer: NodeJS.Timeout | undefined;
  sent: boolean;
  settled: boolean;
}

/**
 * Rate-limit store shared by every instance of the API. Each `consume` decides all its checks
 * atomically (all or nothing). The calls made in the same event-loop turn go to Redis together, up to
 * `maxBatchCalls` per `EVALSHA`, which decides them one after the other, each on its own: a call's refusal
 * never affects another call, and a key in several calls is counted in call order. A lone call is sent at
 * the end of the current turn (`setImmediate`, so a test that fakes it must let it run), not after a
 * timer: batching adds no wait at low load; under load it spares Redis and this process a command per
 * request. `EVAL` is the fallback when Redis answers
 * `NOSCRIPT`, e.g. after a restart or a failover. Time comes from the caller (`now`), never from Redis, so
 * a settable clock drives it in tests; instances should keep their clocks in sync (NTP), as the windows
 * are aligned on that time. Keys live for two windows (or until their block ends) after the write that
 * started their window or block.
 *
 * Requires Redis 6.0 or later (`SET … KEEPTTL`). Deployment: a single Redis node or a Sentinel-managed
 * primary. Redis Cluster only when every key of the store is on one slot, by a hash tag in the prefix
 * (`{nas-rl}:`): a script may only touch keys of one slot, and splitting a request's checks per slot would
 * lose the all-or-nothing guarantee (the IP policy could consume on one shard while the principal policy
 * refuses on another). That puts all rate limiting on one shard, which is what this store can promise
 * atomically. (A batch holds the keys of many requests, so without the hash tag even one-policy calls
 * would fail there.)
 *
 * Upgrading from a version that kept a hash per key (same key names): this version reads those hashes
 * (counts and blocks carry over) and rewrites each as a string on its next write. While old instances still
 * run beside new ones, an old one fails with `WRONGTYPE` on a key a new one has rewritten, and that request
 * goes the store-unavailable way (`rateLimit.onStoreError`); replace all instances at once, or give the new
 * ones another `redis.keyPrefix` (their counters then start empty).
 *
 * The client is the caller's (for example the module's shared one) and is not closed by `shutdown()`.
 * When Redis does not answer within `commandTimeoutMs`, `consume` rejects with
 * `SecurityStoreUnavailableError`, as does every call of a batch that fails; whether to fail open or
 * closed is the guard's decision.
 * @example
 * const store = new RedisRateLimitStore(new Redis(process.env.REDIS_URL), { prefix: 'api:rl:' });
 * await store.init();
 */
export class RedisRateLimitStore extends RateLimitStore {
  readonly kind = 'redis';
  /** Prepended to every key. */
  readonly prefix: string;
  private readonly commandTimeoutMs: number;
  private readonly maxBatchCalls: number;
  /** The batch calls join until it is sent (at the end of this event-loop turn, or once full). */
  private open: Batch | undefined;

  constructor(
    private readonly client: Redis,
    {
      prefix = `${SECURITY_DEFAULTS.redisKeyPrefix}rate-limit:`,
      commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS,
      maxBatchCalls = DEFAULT_MAX_BATCH_CALLS,
    }: RedisRateLimitStoreOptions = {},
  ) {
    super();
    if (!Number.isSafeInteger(commandTimeoutMs) || commandTimeoutMs < 1) {
      throw new TypeError(`RedisRateLimitStore: commandTimeoutMs must be an integer >= 1, got ${commandTimeoutMs}`);
    }
    if (!Number.isSafeInteger(maxBatchCalls) || maxBatchCalls < 1) {
      throw new TypeError(`RedisRateLimitStore: maxBatchCalls must be an integer >= 1, got ${maxBatchCalls}`);
    }
    this.prefix = prefix;
    this.commandTimeoutMs = commandTimeoutMs;
    this.maxBatchCalls = maxBatchCalls;
  }

  /** Loads the script (`SCRIPT LOAD`), so that the first `EVALSHA` finds it. */
  override async init(): Promise<void> {
    const sha = await withTimeout(
      this.client.script('LOAD', RATE_LIMIT_LUA) as Promise<string>,
      this.commandTimeoutMs,
      this.timeoutMessage(),
    );
    if (sha !== RATE_LIMIT_LUA_SHA) throw new Error(`RedisRateLimitStore: SCRIPT LOAD answered ${sha}`);
  }

  consume(checks: readonly RateLimitCheck[], now: number): Promise<RateLimitDecision[]> {
    // Invalid checks reject this call alone, before it joins a batch.
    try {
      assertValidRateLimitChecks(checks, now);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (checks.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const batch = this.open ?? this.openBatch();
      batch.waiters.push({ checks, now, resolve, reject });
      batch.checks += checks.length;
      const { args, keys, keyIndex } = batch;
      args.push(now, checks.length);
      for (const { key, limit, windowMs, cost = 1, blockMs = 0 } of checks) {
        const name = this.prefix + key;
        let index = keyIndex.get(name);
        if (index === undefined) {
          index = keys.push(name);
          keyIndex.set(name, index);
        }
        args.push(index, limit, windowMs, cost, blockMs);
      }
      if (batch.waiters.length >= this.maxBatchCalls) this.send(batch);
    });
  }

  /**
   * A new batch, sent by `setImmediate`: at the end of this event-loop turn, once every I/O callback of
   * the turn (each HTTP request is one) and the promise callbacks they set off have joined it; no timer.
   * A microtask would send after each callback, so requests of a server would never share a batch.
   */
  private openBatch(): Batch {
    const batch: Batch = {
      waiters: [],
      keys: [],
      keyIndex: new Map(),
      args: [],
      checks: 0,
      timer: undefined,
      sent: false,
      settled: false,
    };
    this.open = batch;
    // On expiry, the failure waits for the poll phase of that loop turn (setImmediate): after a stall of this
    // process (a busy or starved CPU), the timer fires first, while Redis's reply may already sit in the socket.
    batch.timer = setTimeout(
      () => setImmediate(() => this.fail(batch, new Error(this.timeoutMessage()))),
      this.commandTimeoutMs,
    );
    setImmediate(() => this.send(batch));
    return batch;
  }

  private send(batch: Batch): void {
    if (this.open === batch) this.open = undefined;
    if (batch.sent || batch.settled) return;
    batch.sent = true;
    this.run(batch.keys, batch.args).then(
      (reply) => this.answer(batch, reply),
      (error: unknown) => this.fail(batch, error),
    );
  }

  private answer(batch: Batch, reply: unknown): void {
    if (batch.settled) return;
    if (!Array.isArray(reply) || reply.length !== batch.checks * 4) {
      this.fail(batch, new Error(`unexpected reply from the rate-limit script: ${String(reply).slice(0, 100)}`));
      return;
    }
    this.settle(batch);
    let offset = 0;
    for (const { checks, now, resolve, reject } of batch.waiters) {
      try {
        resolve(decide(checks, now, reply as number[], offset));
      } catch (error) {
        reject(new SecurityStoreUnavailableError('rate-limit', 1, { cause: error }));
      }
      offset += checks.length * 4;
    }
  }

  /** Every caller of the batch rejects; a later reply is ignored. */
  private fail(batch: Batch, error: unknown): void {
    if (batch.settled) return;
    this.settle(batch);
    // Timed out before it was sent (a timeout of a millisecond or so): later calls need another batch.
    if (this.open === batch) this.open = undefined;
    for (const waiter of batch.waiters) {
      waiter.reject(new SecurityStoreUnavailableError('rate-limit', 1, { cause: error }));
    }
  }

  private settle(batch: Batch): void {
    batch.settled = true;
    clearTimeout(batch.timer);
  }

  private async run(keys: string[], integers: number[]): Promise<unknown> {
    const args = encodeIntegers(integers);
    try {
      // callBuffer: the reply (integers) is not walked for buffers to turn into strings.
      return await this.client.callBuffer('evalsha', [RATE_LIMIT_LUA_SHA, keys.length, ...keys, args]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      // EVAL also caches the script, so the next EVALSHA finds it.
      return await this.client.callBuffer('eval', [RATE_LIMIT_LUA, keys.length, ...keys, args]);
    }
  }

  private timeoutMessage(): string {
    return `no answer from Redis within ${this.commandTimeoutMs} ms`;
  }
}

/**
 * One call's decisions from the states its checks were decided on (four integers per check from
 * `reply[offset]`), by the arithmetic of the memory store: the script decided the same way and wrote the
 * outcome.
 */
function decide(
  checks: readonly RateLimitCheck[],
  now: number,
  reply: readonly number[],
  offset: number,
): RateLimitDecision[] {
  const inputs = checks.map((check, i) => {
    const at = offset + i * 4;
    return {
      state: {
        windowStart: reply[at]!,
        current: reply[at + 1]!,
        previous: reply[at + 2]!,
        blockedUntil: reply[at + 3]!,
      },
      now,
      limit: check.limit,
      windowMs: check.windowMs,
      cost: check.cost ?? 1,
      blockMs: check.blockMs ?? 0,
    };
  });
  return slidingWindowAll(inputs).map((result, i) => ({
    key: checks[i]!.key,
    allowed: result.allowed,
    limit: checks[i]!.limit,
    remaining: result.remaining,
    resetMs: result.resetMs,
    retryAfterMs: result.retryAfterMs,
  }));
}

/**
 * A MessagePack array of non-negative safe integers: positive fixint below 128, uint32 below 2^32, else
 * float64 (exact up to 2^53, and Lua numbers are doubles anyway).
 */
function encodeIntegers(values: readonly number[]): Buffer {
  let size = 5;
  for (const value of values) size += value < 0x80 ? 1 : value <= 0xffff_ffff ? 5 : 9;
  const buffer = Buffer.allocUnsafe(size);
  buffer[0] = 0xdd;
  buffer.writeUInt32BE(values.length, 1);
  let at = 5;
  for (const value of values) {
    if (value < 0x80) {
      buffer[at++] = value;
    } else if (value <= 0xffff_ffff) {
      buffer[at] = 0xce;
      buffer.writeUInt32BE(value, at + 1);
      at += 5;
    } else {
      buffer[at] = 0xcb;
      buffer.writeDoubleBE(value, at + 1);
      at += 9;
    }
  }
  return buffer;
}
