/**
 * Settles like `promise`, or rejects with `Error(message)` when it has not settled within `ms`
 * milliseconds. The timer is cleared either way. For calls to a server that may hang (Redis).
 * @example await withTimeout(redis.ping(), 250, 'no answer from Redis within 250 ms')
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
