import { ADAPTERS, startDemo } from './support/demo-app.js';
import { SIGNING_MASTER_KEYS } from './support/signing.js';

/** The demo in production: the boot-time lint refuses what only a waiver may allow. */
describe.each(ADAPTERS)('the security lint of the demo in production on %s', (adapter) => {
  const production = { NODE_ENV: 'production', SIGNING_MASTER_KEYS, API_KEY_PEPPER: 'p'.repeat(40) };

  it('refuses to boot with signatures on and no Redis (nonces not shared), naming the rule', async () => {
    const boot = startDemo(adapter, production);
    await expect(boot).rejects.toMatchObject({ code: 'ERR_SECURITY_CONFIG_LINT_SIGNING_NONCES_NOT_SHARED' });
    await expect(boot).rejects.toThrow(/API2:2023/);
  });

  it('boots when that rule is waived on purpose (SECURITY_LINT_ALLOW)', async () => {
    const server = await startDemo(adapter, { ...production, SECURITY_LINT_ALLOW: 'signing-nonces-not-shared' });
    try {
      expect((await fetch(`${server.baseUrl}/health`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('refuses an unknown rule id in the waivers', async () => {
    await expect(startDemo(adapter, { ...production, SECURITY_LINT_ALLOW: 'no-such-rule' })).rejects.toMatchObject({
      code: 'ERR_SECURITY_CONFIG_UNKNOWN_LINT_RULE',
    });
  });
});
