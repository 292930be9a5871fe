import { MemorySecurityChangeBus } from './adapters/memory-security-change.bus.js';

describe('SecurityChangeBus.announce', () => {
  it('never rejects: a change that cannot be broadcast is logged', async () => {
    const logger = { log: vi.fn(), warn: vi.fn() };
    const bus = new (class extends MemorySecurityChangeBus {
      override publish(): Promise<void> {
        return Promise.reject(new Error('redis is down'));
      }
    })({ logger });
    await expect(bus.announce({ kind: 'api-key', id: 'k1' })).resolves.toBeUndefined();
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(/api-key k1 applied here but not broadcast: redis is down/),
    );
  });

  it('delivers like publish when the bus works', async () => {
    const bus = new MemorySecurityChangeBus({ logger: { log: vi.fn(), warn: vi.fn() } });
    await bus.start();
    const seen: string[] = [];
    bus.subscribe((change) => seen.push(`${change.kind}:${change.id}`));
    await bus.announce({ kind: 'role', id: 'viewer' });
    expect(seen).toEqual(['role:viewer']);
    await bus.stop();
  });
});
