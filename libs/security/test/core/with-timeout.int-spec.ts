import { expect, it } from 'vitest';
import { describeWithRedis } from '../../../../test/support/services.js';
import { withTimeout } from '../../src/core/with-timeout.js';
import { useTestRedis } from '../support/test-redis.js';

/** Keeps this process busy for `ms`, as a CPU-starved instance under a burst is: no I/O is read meanwhile. */
function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy
  }
}

describeWithRedis('withTimeout after this process stalled', () => {
  const shared = useTestRedis('nas_test:with-timeout:');

  it('takes an answer that arrived during the stall, although the timer is overdue when the loop resumes', async () => {
    const redis = shared.admin();
    // Sent now; Redis answers within a millisecond, while this process cannot read the answer.
    const answer = withTimeout(redis.ping(), 50, 'no answer within 50 ms');
    stall(300);
    await expect(answer).resolves.toBe('PONG');
  });

  it('still rejects a call that gets no answer', async () => {
    await expect(withTimeout(new Promise(() => undefined), 20, 'no answer within 20 ms')).rejects.toThrow(
      'no answer within 20 ms',
    );
  });
});
