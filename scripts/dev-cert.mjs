#!/usr/bin/env node
// `npm run dev-cert [-- --force] [-- extra-host ...]`: writes a self-signed certificate and its key for local
// HTTPS to DATA_DIR/tls/cert.pem and DATA_DIR/tls/key.pem (DATA_DIR defaults to ./.data), then prints the
// TLS_CERT and TLS_KEY lines to use. For development only: clients must be told to trust it (curl --cacert).
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, open, rm, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { generate } from 'selfsigned';

const VALID_DAYS = 90;
const DEFAULT_HOSTS = ['localhost', '127.0.0.1', '::1'];

const args = process.argv.slice(2);
const force = args.includes('--force');
const extraHosts = args.filter((arg) => arg !== '--force');
for (const host of extraHosts) {
  if (host.startsWith('-') || !/^[A-Za-z0-9.:-]+$/.test(host)) {
    fail(`"${host}" is not a host name or IP address (usage: npm run dev-cert -- [--force] [host ...])`);
  }
}

const dataDir = resolve(process.env.DATA_DIR?.trim() || './.data');
const dir = join(dataDir, 'tls');
const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');

// The same modes as the embedded database's directory: only this user reads the data directory.
await mkdir(dataDir, { recursive: true, mode: 0o700 });
await mkdir(dir, { recursive: true, mode: 0o700 });
await chmod(dir, 0o700);

if (!force && ((await exists(certFile)) || (await exists(keyFile)))) {
  fail(`${certFile} or ${keyFile} already exists; run with --force to replace them`);
}

const hosts = [...new Set([...DEFAULT_HOSTS, ...extraHosts])];
const notBeforeDate = new Date();
const notAfterDate = new Date(notBeforeDate.getTime() + VALID_DAYS * 86_400_000);
// RSA 2048 with SHA-256: accepted by every client a developer might point at it (curl, browsers, old JDKs).
const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
  keyType: 'rsa',
  keySize: 2048,
  algorithm: 'sha256',
  notBeforeDate,
  notAfterDate,
  extensions: [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: hosts.map((host) => (isIP(host) === 0 ? { type: 2, value: host } : { type: 7, ip: host })),
    },
  ],
});

// The key is created with mode 0600 (never briefly world-readable); a replaced one is removed first so
// that the new file gets that mode too.
await writeNew(keyFile, pems.private, 0o600);
await writeNew(certFile, pems.cert, 0o644);

const certificate = new X509Certificate(pems.cert);
process.stdout.write(
  `Self-signed development certificate for ${hosts.join(', ')}, valid until ${certificate.validTo}\n` +
    `SHA-256 fingerprint ${certificate.fingerprint256}\n\n` +
    `TLS_CERT=${certFile}\nTLS_KEY=${keyFile}\n\n` +
    `Clients must trust it explicitly, e.g. curl --cacert ${certFile} https://localhost:3000/health\n`,
);

async function writeNew(file, text, mode) {
  if (force) await rm(file, { force: true });
  const handle = await open(file, 'wx', mode);
  try {
    await handle.writeFile(text);
    // The umask may have removed bits from `mode`, never added any; this makes the mode exact.
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

async function exists(file) {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

function fail(message) {
  process.stderr.write(`dev-cert: ${message}\n`);
  process.exit(1);
}
