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
