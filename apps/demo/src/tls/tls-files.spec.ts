import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SECURE_TLS_CIPHERS } from '@app/security';
import { testCertificate, type TestCertificate } from '../../../../test/support/tls.js';
import { DemoConfigError, readDemoConfig } from '../config/demo-config.js';
import { readTlsOptions } from './tls-files.js';

describe('readTlsOptions', () => {
  let dir: string;
  let pair: TestCertificate;
  let other: TestCertificate;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nas-tls-files-'));
    [pair, other] = await Promise.all([testCertificate('ec'), testCertificate('ec')]);
    await writeFile(join(dir, 'cert.pem'), pair.cert);
    await writeFile(join(dir, 'key.pem'), pair.key, { mode: 0o600 });
    await writeFile(join(dir, 'other-key.pem'), other.key, { mode: 0o600 });
    await writeFile(join(dir, 'open-key.pem'), pair.key);
    await chmod(join(dir, 'open-key.pem'), 0o644);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const configOf = (cert: string, key: string, env: NodeJS.ProcessEnv = {}) =>
    readDemoConfig({ TLS_CERT: join(dir, cert), TLS_KEY: join(dir, key), ...env });
  const logger = () => ({ warn: vi.fn() });

  it('returns the secure options for the pair, the handshake limited by HTTP_HEADERS_TIMEOUT', async () => {
    const log = logger();
    const options = await readTlsOptions(configOf('cert.pem', 'key.pem', { HTTP_HEADERS_TIMEOUT: '4s' }), log);
    expect(options).toMatchObject({ minVersion: 'TLSv1.2', ciphers: SECURE_TLS_CIPHERS, handshakeTimeout: 4_000 });
    expect(options.cert.toString()).toBe(pair.cert);
    expect(log.warn).not.toHaveBeenCalled();
  });

  it('names the variable of a file it cannot read', async () => {
    await expect(readTlsOptions(configOf('missing.pem', 'key.pem'), logger())).rejects.toThrow(
      new DemoConfigError(`TLS_CERT ${join(dir, 'missing.pem')} cannot be read: ENOENT`),
    );
    await expect(readTlsOptions(configOf('cert.pem', 'missing.pem'), logger())).rejects.toThrow(/^TLS_KEY .* ENOENT$/);
  });

  it('refuses a key that does not belong to the certificate, naming both variables', async () => {
    await expect(readTlsOptions(configOf('cert.pem', 'other-key.pem'), logger())).rejects.toThrow(
      /^TLS_CERT .* and TLS_KEY .* cannot be used: .*key values mismatch/,
    );
  });

  it('warns when the key file is readable by other users', async () => {
    const log = logger();
    await readTlsOptions(configOf('cert.pem', 'open-key.pem'), log);
    expect(log.warn).toHaveBeenCalledWith(
      expect.stringMatching(/TLS_KEY .* is readable by other users \(mode 644\); chmod 600 it/),
    );
  });

  it('warns when the certificate expires within 14 days, or has expired', async () => {
    const validTo = Date.parse(new (await import('node:crypto')).X509Certificate(pair.cert).validTo);
    const soon = logger();
    await readTlsOptions(configOf('cert.pem', 'key.pem'), soon, new Date(validTo - 86_400_000));
    expect(soon.warn).toHaveBeenCalledWith(expect.stringMatching(/expires on .*; renew it$/));
    const late = logger();
    await readTlsOptions(configOf('cert.pem', 'key.pem'), late, new Date(validTo + 1_000));
    expect(late.warn).toHaveBeenCalledWith(expect.stringMatching(/expired on .*; clients will refuse it$/));
  });
});
