import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecurityConfigError } from '../core/errors.js';
import { generateMasterKey, openSecret, parseMasterKeys, sealSecret } from './core/secret-box.js';
import { loadOrCreateMasterKeyFile, resolveMasterKeyRing } from './master-keys.js';

const ID = 'NASAAAAAAAAAAAAAAAAA';

describe('loadOrCreateMasterKeyFile', () => {
  let root: string;
  const logger = () => ({ warn: vi.fn<(message: string) => void>() });

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'nas-master-keys-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('generates v1 into a new 0600 file in a new 0700 directory, and warns', async () => {
    const path = join(root, 'data', 'signing-master-keys');
    const log = logger();

    const loaded = await loadOrCreateMasterKeyFile(path, { production: false, logger: log });

    expect(loaded).toMatchObject({ generated: true, path });
    expect(loaded.ring.current).toBe('v1');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, 'data'))).mode & 0o777).toBe(0o700);
    expect(await readFile(path, 'utf8')).toMatch(/^v1:[A-Za-z0-9+/]{43}=\n$/);
    expect(log.warn).toHaveBeenCalledOnce();
    expect(log.warn.mock.calls[0]![0]).toMatch(
      /generated a signing master key into .*signing-master-keys.*SIGNING_MASTER_KEYS/,
    );
  });

  it('keeps the 0600 mode whatever the umask', async () => {
    const previous = process.umask(0o000);
    try {
      await loadOrCreateMasterKeyFile(join(root, 'k'), { production: false });
    } finally {
      process.umask(previous);
    }

    expect((await stat(join(root, 'k'))).mode & 0o777).toBe(0o600);
  });

  it('reads the same key back on the next start: what it sealed still opens', async () => {
    const path = join(root, 'k');
    const first = await loadOrCreateMasterKeyFile(path, { production: false });
    const sealed = sealSecret(first.ring, 'secret', ID);
    const log = logger();

    const second = await loadOrCreateMasterKeyFile(path, { production: false, logger: log });

    expect(second.generated).toBe(false);
    expect(openSecret(second.ring, sealed, ID).toString()).toBe('secret');
    expect(log.warn).not.toHaveBeenCalled();
  });

  it('lets exactly one of two simultaneous starters generate the key', async () => {
    const path = join(root, 'race');

    const both = await Promise.all([
      loadOrCreateMasterKeyFile(path, { production: false }),
      loadOrCreateMasterKeyFile(path, { production: false }),
    ]);

    expect(both.filter((loaded) => loaded.generated)).toHaveLength(1);
    const sealed = sealSecret(both[0].ring, 'x', ID);
    expect(openSecret(both[1].ring, sealed, ID).toString()).toBe('x');
  });

  it('reads a ring written by hand, and restricts a file others can read to 0600, with a warning', async () => {
    const path = join(root, 'ring');
    await writeFile(path, `${generateMasterKey('v2')},${generateMasterKey('v1')}\n`);
    await chmod(path, 0o644);
    const log = logger();

    const loaded = await loadOrCreateMasterKeyFile(path, { production: false, logger: log });

    expect(loaded.ring.versions).toEqual(['v2', 'v1']);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(log.warn).toHaveBeenCalledWith(expect.stringContaining('had mode 644: restricted to 600'));
  });

  it('refuses a file that holds no ring, naming the file and not its content', async () => {
    const path = join(root, 'bad');
    await writeFile(path, 'hunter2-not-a-ring\n', { mode: 0o600 });

    const loading = loadOrCreateMasterKeyFile(path, { production: false });

    await expect(loading).rejects.toBeInstanceOf(SecurityConfigError);
    await expect(loading).rejects.toMatchObject({
      code: 'ERR_SECURITY_CONFIG_INVALID_MASTER_KEYS',
      message: expect.stringContaining(path),
    });
    await expect(loading).rejects.not.toMatchObject({ message: expect.stringContaining('hunter2') });
  });

  it('refuses in production with ERR_SECURITY_CONFIG_GENERATED_MASTER_KEY, writing nothing', async () => {
    const path = join(root, 'prod-key');

    const loading = loadOrCreateMasterKeyFile(path, { production: true });

    await expect(loading).rejects.toBeInstanceOf(SecurityConfigError);
    await expect(loading).rejects.toMatchObject({
      code: 'ERR_SECURITY_CONFIG_GENERATED_MASTER_KEY',
      message: expect.stringContaining('SIGNING_MASTER_KEYS'),
    });
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('resolveMasterKeyRing', () => {
  const V1 = generateMasterKey('v1');
  const V2 = generateMasterKey('v2');

  it('prefers masterKeys to a key file', async () => {
    const ring = await resolveMasterKeyRing(
      { masterKeys: `${V2},${V1}`, masterKeyFile: '/nonexistent/never-written' },
      { production: true },
    );

    expect(ring?.versions).toEqual(['v2', 'v1']);
  });

  it('uses the key file when there are no masterKeys', async () => {
    const root = await mkdtemp(join(tmpdir(), 'nas-master-keys-'));
    try {
      const ring = await resolveMasterKeyRing(
        { masterKeys: undefined, masterKeyFile: join(root, 'k') },
        { production: false },
      );
      expect(ring?.current).toBe('v1');
      expect(parseMasterKeys((await readFile(join(root, 'k'), 'utf8')).trim()).current).toBe('v1');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('makes a key for this process only outside production, with a warning', async () => {
    const warn = vi.fn<(message: string) => void>();

    const ring = await resolveMasterKeyRing(
      { masterKeys: undefined, masterKeyFile: false },
      { production: false, logger: { warn } },
    );

    expect(ring?.current).toBe('v1');
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('for this process only'));
  });

  it('has none in production without masterKeys, and none when signing is off', async () => {
    expect(
      await resolveMasterKeyRing({ masterKeys: undefined, masterKeyFile: false }, { production: true }),
    ).toBeNull();
    expect(await resolveMasterKeyRing(false, { production: false })).toBeNull();
  });
});
