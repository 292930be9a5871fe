import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { SecurityStoreUnavailableError } from '../../core/errors.js';
import { SECURITY_DEFAULTS } from '../../options/security-defaults.js';
import { assertValidNonceClaim, NonceStore } from '../nonce.store.js';
import { withTimeout } from '../../core/with-timeout.js';

/** Options of `RedisNonceStore`. */
export interface RedisNonceStoreOptions {
  /** Prepended to every key. Default `nas:nonce:` (the module's `redis.keyPrefix` + `nonce:`). */
  prefix?: string;
  /** A claim not answered within this many milliseconds rejects as store-unavailable. Default 1 000. */
  commandTimeoutMs?: number;
  /** Told once per loss of the claims (see the class). Default `console`. */
  logger?: { warn(message: string): void };
}

const DEFAULT_COMMAND_TIMEOUT_MS = 1_000;

/**
 * One claim: `SET NX PX` of the claim key, unless the claims this store relied on were lost.
 *
 * KEYS[1] the claim, KEYS[2] the epoch marker (`<id>@<Redis time in ms when it was made>`, naming the
 * current set of claims; no expiry), KEYS[3] the quarantine marker. ARGV[1] ttlMs, ARGV[2] the epoch the
 * caller saw last ('' before its first answer), ARGV[3] a fresh id: the claim's value, and the new epoch's
 * id when the marker is missing. Returns `{status, pttl, epoch}`: status 1 claimed, 0 already claimed, -1
 * quarantined for `pttl` ms.
 *
 * A claim whose value is this call's own id counts as claimed: the client re-sends a command whose reply
 * was lost with a dropped connection, and that second run must not refuse the request as its own replay.
 *
 * A caller whose epoch differs from the marker's has seen another set of claims: the Redis it spoke to
 * lost them (a restart without persistence, FLUSHALL, eviction of the marker). Any claim of that set may
 * be missing, so every claim is refused until the lost ones would have expired: one TTL (the longest its
 * callers use) from the moment the new epoch was made, which is after the loss. A caller that notices the
 * change later (an idle instance) does not start the quarantine again once that moment is over.
 */
export const NONCE_CLAIM_LUA = `
local ttl = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[3] .. '@' .. string.format('%d', now)
  redis.call('SET', KEYS[2], epoch)
end
if ARGV[2] ~= '' and ARGV[2] ~= epoch then
  local born = tonumber(string.match(epoch, '@(%d+)$')) or now
  local until_lost = born + ttl - now
  if until_lost > 0 and redis.call('PTTL', KEYS[3]) < until_lost then
    redis.call('SET', KEYS[3], '1', 'PX', string.format('%d', until_lost))
  end
end
local left = redis.call('PTTL', KEYS[3])
if left > 0 then return {-1, left, epoch} end
if redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl, 'NX') or redis.call('GET', KEYS[1]) == ARGV[3] then
  return {1, 0, epoch}
end
return {0, 0, epoch}
`;

/** SHA-1 of `NONCE_CLAIM_LUA`, as `SCRIPT LOAD` answers it. */
export const NONCE_CLAIM_LUA_SHA = createHash('sha1').update(NONCE_CLAIM_LUA).digest('hex');

/**
 * Replay store shared by every instance: one `SET <prefix><key> <id> NX PX <ttlMs>` per claim (in a script),
 * which Redis runs atomically, so of any number of concurrent claims of one key, on any instances, exactly
 * one wins. Expiry is Redis's own (the TTL is relative), so instance clocks do not matter here.
 *
 * When Redis does not answer within `commandTimeoutMs` (or the client refuses the command, e.g. while
 * disconnected), `claim` rejects with `SecurityStoreUnavailableError`: the request is refused, never
 * accepted without its replay check.
 *
 * **A Redis that comes back empty.** A Redis restarted without persistence (or flushed) has forgotten every
 * claim, so a signature accepted just before could be accepted again. The store notices it: `<prefix>~epoch`
 * names the set of claims, and a store that saw another epoch before knows the claims were lost. Every
 * store sharing the prefix then refuses every claim (`SecurityStoreUnavailableError`, with the time left as
 * retry-after) for one claim TTL (`<prefix>~lost`), until the lost claims would have expired; a Redis
 * that returns with its data (a partition, a restart with AOF/RDB) is used again at once. Not noticed: a
 * loss while no instance runs (the first store to answer starts a new epoch), and the last writes a
 * replica had not received before a failover. Nonce keys must not be evicted: `maxmemory-policy noeviction`.
 *
 * The client is the caller's (for example the module's shared one) and is not closed by this store.
 * @example
 * const nonces = new RedisNonceStore(redis, { prefix: 'api:nonce:' });
 */
export class RedisNonceStore extends NonceStore {
  readonly kind = 'redis';
  /** Prepended to every key. */
  readonly prefix: string;
  private readonly commandTimeoutMs: number;
  private readonly logger: { warn(message: string): void };
  private readonly epochKey: string;
  private readonly lostKey: string;
  /** The epoch of the set of claims this store relies on; '' until Redis first answers. */
  private epoch = '';

  constructor(
    private readonly client: Redis,
    {
      prefix = `${SECURITY_DEFAULTS.redisKeyPrefix}nonce:`,
      commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS,
      logger = console,
    }: RedisNonceStoreOptions = {},
  ) {
    super();
    if (!Number.isSafeInteger(commandTimeoutMs) || commandTimeoutMs < 1) {
      throw new TypeError(`RedisNonceStore: commandTimeoutMs must be an integer >= 1, got ${commandTimeoutMs}`);
    }
    this.prefix = prefix;
    this.commandTimeoutMs = commandTimeoutMs;
    this.logger = logger;
    this.epochKey = `${prefix}~epoch`;
    this.lostKey = `${prefix}~lost`;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    assertValidNonceClaim(key, ttlMs);
    let reply: [number, number, string];
    try {
      reply = await this.withTimeout(this.run([`${this.prefix}${key}`, this.epochKey, this.lostKey], ttlMs));
    } catch (error) {
      throw new SecurityStoreUnavailableError('nonce', 1, { cause: error });
    }
    const [status, leftMs, epoch] = reply;
    if (this.epoch !== '' && epoch !== this.epoch) {
      this.logger.warn(
        `nonce store: Redis lost the claims of signed requests (restarted without persistence, or flushed); ` +
          `signed requests are refused (503) until the lost claims have expired`,
      );
    }
    this.epoch = epoch;
    if (status === -1) {
      const cause = new Error(`the nonce claims were lost; refusing claims for ${leftMs} ms more`);
      throw new SecurityStoreUnavailableError('nonce', Math.max(1, Math.ceil(leftMs / 1000)), { cause });
    }
    return status === 1;
  }

  private async run(keys: string[], ttlMs: number): Promise<[number, number, string]> {
    const args = [...keys, String(ttlMs), this.epoch, randomBytes(12).toString('base64url')];
    let reply: unknown;
    try {
      reply = await this.client.evalsha(NONCE_CLAIM_LUA_SHA, keys.length, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      // EVAL also caches the script, so the next EVALSHA finds it.
      reply = await this.client.eval(NONCE_CLAIM_LUA, keys.length, ...args);
    }
    if (
      !Array.isArray(reply) ||
      typeof reply[0] !== 'number' ||
      typeof reply[1] !== 'number' ||
      typeof reply[2] !== 'string'
    ) {
      throw new Error(`unexpected reply from the nonce script: ${String(reply).slice(0, 100)}`);
    }
    return reply as [number, number, string];
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    return withTimeout(promise, this.commandTimeoutMs, `no answer from Redis within ${this.commandTimeoutMs} ms`);
  }
}
