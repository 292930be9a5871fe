import { redactSecrets } from './redact.js';

describe('redactSecrets', () => {
  it('replaces values of secret-looking keys at any depth', () => {
    expect(redactSecrets({ password: 'p', nested: { apiKey: 'k', list: [{ token: 't', ok: 1 }] }, name: 'n' })).toEqual(
      {
        password: '[REDACTED]',
        nested: { apiKey: '[REDACTED]', list: [{ token: '[REDACTED]', ok: 1 }] },
        name: 'n',
      },
    );
  });

  it('makes strings storable in jsonb: no NUL, no lone surrogate, even when cutting a long one', () => {
    const out = redactSecrets({ a: 'x\u0000y', b: 'lone \uD83D end', c: `${'a'.repeat(2047)}😀😀` }) as Record<
      string,
      string
    >;
    expect(out.a).toBe('x\uFFFDy');
    expect(out.b).toBe('lone \uFFFD end');
    expect(out.c).toBe(`${'a'.repeat(2047)}😀…`);
    for (const value of Object.values(out)) expect(value.isWellFormed()).toBe(true);
  });

  it('cuts deep nesting and long arrays', () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 20; i++) deep = { d: deep };
    expect(JSON.stringify(redactSecrets(deep))).toContain('[TRUNCATED]');
    expect((redactSecrets(Array.from({ length: 500 }, (_, i) => i)) as unknown[]).length).toBe(100);
  });
});
