/**
 * Settles like `promise`, or rejects with `Error(message)` when it has not settled within `ms`
 * milliseconds. The timer is cleared either way. For calls to a server that may hang (Redis). When the timer
 * fires, the rejection waits for the poll phase of that event-loop turn (`setImmediate`): after a stall of
 * this process the timer runs first, while the answer may already be waiting in the socket; it wins then.
 * @example await withTimeout(redis.ping(), 250, 'no answer from Redis within 250 ms')
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => setImmediate(() => reject(new Error(message))), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
