import type { ExecutionContext } from '@nestjs/common';
import { SecurityPipelineGuard } from './security-pipeline.guard.js';

type Answer = boolean | 'async-true' | 'async-false' | 'throw' | 'reject';

/** Eleven steps that log their position and answer as told; the guard is built from them in order. */
function pipeline(answers: Partial<Record<number, Answer>> = {}) {
  const calls: number[] = [];
  const steps = Array.from({ length: 11 }, (_, index) => ({
    canActivate: (): boolean | Promise<boolean> => {
      calls.push(index);
      const answer = answers[index] ?? true;
      if (answer === 'throw') throw new Error(`step ${index} refused`);
      if (answer === 'reject') return Promise.reject(new Error(`step ${index} refused later`));
      if (answer === 'async-true') return Promise.resolve(true);
      if (answer === 'async-false') return Promise.resolve(false);
      return answer;
    },
  }));
  const guard = new (SecurityPipelineGuard as unknown as new (...args: unknown[]) => SecurityPipelineGuard)(...steps);
  return { guard, calls };
}

const context = {} as ExecutionContext;

describe('SecurityPipelineGuard', () => {
  it('runs every step in the order it was given and answers synchronously when none waits', () => {
    const { guard, calls } = pipeline();
    expect(guard.canActivate(context)).toBe(true);
    expect(calls).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('waits for a step that returns a promise before running the next ones', async () => {
    const { guard, calls } = pipeline({ 3: 'async-true', 6: 'async-true' });
    const result = guard.canActivate(context);
    expect(result).toBeInstanceOf(Promise);
    expect(calls).toEqual([0, 1, 2, 3]);
    await expect(result).resolves.toBe(true);
    expect(calls).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('stops at the first refusal, synchronous or not, and runs nothing after it', async () => {
    const thrown = pipeline({ 4: 'throw' });
    expect(() => thrown.guard.canActivate(context)).toThrow('step 4 refused');
    expect(thrown.calls).toEqual([0, 1, 2, 3, 4]);

    const rejected = pipeline({ 3: 'async-true', 6: 'reject' });
    await expect(rejected.guard.canActivate(context)).rejects.toThrow('step 6 refused later');
    expect(rejected.calls).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('denies when a step answers false, and skips the rest', async () => {
    const sync = pipeline({ 2: false });
    expect(sync.guard.canActivate(context)).toBe(false);
    expect(sync.calls).toEqual([0, 1, 2]);

    const later = pipeline({ 8: 'async-false' });
    await expect(later.guard.canActivate(context)).resolves.toBe(false);
    expect(later.calls).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
