// Redis helpers shared by the benchmarks that write keys: every run writes under its own prefix and
// deletes only those keys at the end (never FLUSHALL: the machine's Redis may be shared).

/** Deletes every key matching `pattern` (SCAN + UNLINK); returns how many were deleted. */
export async function deleteMatching(redis, pattern) {
  if (redis.status !== 'ready') return 0;
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length > 0) deleted += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

/**
 * Connects to `url` (one retry per command, errors after the first answered by the caller), or throws an
 * Error naming the address without its password and `hint`. Registers, through `onCleanup`, the deletion
 * of every key under `prefix` (reported with `progress`) and the disconnection.
 */
export async function connectBenchRedis(url, { prefix, hint, onCleanup, progress, redactUrl }) {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (error) {
    throw new Error(`cannot connect to Redis at ${redactUrl(url)} (${error.message}); ${hint}`);
  }
  onCleanup(async () => {
    const deleted = await deleteMatching(redis, `${prefix}*`);
    progress(`deleted ${deleted.toLocaleString('en-US')} Redis keys under ${prefix}`);
    redis.disconnect();
  });
  return redis;
}
