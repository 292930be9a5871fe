import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SecurityConfigError } from '../core/errors.js';
import type { ResolvedSigningOptions } from '../options/security-options.js';
import { generateMasterKey, parseMasterKeys, type MasterKeyRing } from './core/secret-box.js';

/** Injection token of the parsed `SIGNING_MASTER_KEYS` ring (`MasterKeyRing`), or `null` when there is none. */
export const SIGNING_MASTER_KEY_RING = Symbol.for('nest-api-security.signingMasterKeyRing');

/** Where warnings go; Nest's `Logger` fits. */
export interface MasterKeyLogger {
  warn(message: string): void;
}

/** What `loadOrCreateMasterKeyFile` found or made. */
export interface MasterKeyFile {
  readonly ring: MasterKeyRing;
  /** True when the file was missing and a key was generated into it now. */
  readonly generated: boolean;
  readonly path: string;
}

const FILE_MODE = 0o600;
const DIRECTORY_MODE = 0o700;

/**
 * Reads the master key ring from `path`, generating `v1:<base64 of 32 random bytes>` into a new file of mode
 * 0600 (directory 0700) when it is missing, with a warning. A file readable by others is restricted to 0600,
 * with a warning. For development only: in production it throws `SecurityConfigError`
 * `ERR_SECURITY_CONFIG_GENERATED_MASTER_KEY` (set `SIGNING_MASTER_KEYS` there).
 * @example
 * const { ring } = await loadOrCreateMasterKeyFile(join(dataDir, 'signing-master-keys'), { production: false });
 */
export async function loadOrCreateMasterKeyFile(
  path: string,
  { production, logger }: { production: boolean; logger?: MasterKeyLogger },
): Promise<MasterKeyFile> {
  if (production) {
    throw new SecurityConfigError(
      'ERR_SECURITY_CONFIG_GENERATED_MASTER_KEY',
      'signing.masterKeyFile',
      'a generated master key is refused in production; set signing.masterKeys (SIGNING_MASTER_KEYS) to a key kept in a secret store',
    );
  }
  let generated = false;
  await mkdir(dirname(path), { recursive: true, mode: DIRECTORY_MODE });
  try {
    // 'wx' creates or fails: two processes starting at once cannot both write a key.
    await writeFile(path, `${generateMasterKey('v1')}\n`, { mode: FILE_MODE, flag: 'wx' });
    generated = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // The umask may have taken bits from 0600 at creation; an older file may be wider.
  const mode = (await stat(path)).mode & 0o777;
  if (mode !== FILE_MODE) {
    await chmod(path, FILE_MODE);
    if (!generated) {
      logger?.warn(`signing master key file ${path} had mode ${mode.toString(8)}: restricted to 600`);
    }
  }
  const text = (await readFile(path, 'utf8')).trim();
  let ring: MasterKeyRing;
  try {
    ring = parseMasterKeys(text);
  } catch (error) {
    if (!(error instanceof SecurityConfigError)) throw error;
    throw new SecurityConfigError(
      'ERR_SECURITY_CONFIG_INVALID_MASTER_KEYS',
      'signing.masterKeyFile',
      `${path} does not hold a master key ring (${error.message}); fix or delete the file (deleting it makes every HMAC signing key unusable)`,
    );
  }
  if (generated) {
    logger?.warn(
      `generated a signing master key into ${path} (mode 600) for development: HMAC signing secrets are encrypted ` +
        'with it, so keep the file; production refuses a generated key (set SIGNING_MASTER_KEYS)',
    );
  }
  return { ring, generated, path };
}

/**
 * The master key ring the `signing` options call for, for the `SIGNING_MASTER_KEY_RING` provider:
 * `masterKeys` when set; else the `masterKeyFile` (see `loadOrCreateMasterKeyFile`); else, outside
 * production, a key for this process only (with a warning: HMAC keys created now stop working at restart);
 * else `null` (production without master keys: HMAC keys cannot be created or used, ed25519 keys work).
 * @example
 * { provide: SIGNING_MASTER_KEY_RING, inject: [SECURITY_OPTIONS],
 *   useFactory: (o) => resolveMasterKeyRing(o.signing, { production: o.environment === 'production', logger }) }
 */
export async function resolveMasterKeyRing(
  signing: Pick<ResolvedSigningOptions, 'masterKeys' | 'masterKeyFile'> | false,
  { production, logger }: { production: boolean; logger?: MasterKeyLogger },
): Promise<MasterKeyRing | null> {
  if (!signing) return null;
  if (signing.masterKeys !== undefined) return parseMasterKeys(signing.masterKeys);
  if (signing.masterKeyFile !== false) {
    return (await loadOrCreateMasterKeyFile(signing.masterKeyFile, { production, logger })).ring;
  }
  if (production) return null;
  logger?.warn(
    'signing: no master keys, so HMAC signing secrets are encrypted with a key for this process only and stop ' +
      'working at restart; set signing.masterKeys (SIGNING_MASTER_KEYS) or signing.masterKeyFile',
  );
  return parseMasterKeys(generateMasterKey('v1'));
}
