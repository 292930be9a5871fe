#!/usr/bin/env node
// Checks the signing canonicalisers and verifiers of the compiled library against published test data:
//   npm run conformance -- <folder>
// <folder> holds `sigv4/` (the AWS Signature Version 4 test suite: .req .creq .sts .authz .sreq per case) and/or
// `rfc9421/` (vectors.json: RFC 9421 Appendix B), or is one of those two folders itself.
// Prints one line per check and `N passed, N failed, N skipped`; exits 1 on any failure, 2 when it cannot run.
// It imports the compiled modules by path (libs/security/dist/signing/core/*.js), so `npm run build` first.
import { createHmac, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const core = (name) => pathToFileURL(join(here, '..', 'libs', 'security', 'dist', 'signing', 'core', name)).href;

let lib;
try {
  lib = {
    ...(await import(core('signed-request.js'))),
    ...(await import(core('sigv4.js'))),
    ...(await import(core('rfc9421.js'))),
    ...(await import(core('http-canonical.js'))),
  };
} catch (error) {
  console.error(`conformance: cannot load the compiled library (run npm run build first): ${error.message}`);
  process.exit(2);
}

// The fixed inputs of the AWS suite (sigv4/README.md).
const SIGV4 = {
  accessKeyId: 'AKIDEXAMPLE',
  secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
  service: 'service',
};

const counts = { passed: 0, failed: 0, skipped: 0 };
function pass(name, note = '') {
  counts.passed++;
  console.log(`ok   ${name}${note ? ` (${note})` : ''}`);
}
function failCheck(name, message) {
  counts.failed++;
  console.log(`FAIL ${name}: ${message}`);
}
function skip(name, why) {
  counts.skipped++;
  console.log(`skip ${name}: ${why}`);
}
function check(name, run) {
  try {
    const problem = run();
    if (problem) failCheck(name, problem);
    else pass(name);
  } catch (error) {
    failCheck(name, `${error.name}${error.reason ? ` [${error.reason}]` : ''}: ${error.message}`);
  }
}
function differ(label, expected, actual) {
  return expected === actual ? undefined : `${label} differs\n--- expected\n${expected}\n--- actual\n${actual}`;
}

/**
 * Parses an HTTP/1.1 message as the test data writes it (LF line endings). A header line starting with
 * whitespace continues the previous header as one more field line (the AWS suite's multiline case).
 */
function parseHttp(text) {
  const split = text.indexOf('\n\n');
  const head = split === -1 ? text : text.slice(0, split);
  const body = Buffer.from(split === -1 ? '' : text.slice(split + 2), 'utf8');
  const [startLine, ...lines] = head.split('\n');
  const headers = {};
  let last;
  for (const line of lines) {
    if (/^[ \t]/.test(line) && last) {
      headers[last].push(line.trim());
      continue;
    }
    const colon = line.indexOf(':');
    last = line.slice(0, colon).trim().toLowerCase();
    (headers[last] ??= []).push(line.slice(colon + 1).trim());
  }
  const message = { headers, body };
  if (startLine.startsWith('HTTP/')) return { ...message, status: Number(startLine.split(' ')[1]) };
  // The target may hold a raw space (normalize-path/get-space): method is the first word, version the last.
  const method = startLine.slice(0, startLine.indexOf(' '));
  const target = startLine.slice(startLine.indexOf(' ') + 1, startLine.lastIndexOf(' '));
  const q = target.indexOf('?');
  return {
    ...message,
    method,
    path: q === -1 ? target : target.slice(0, q),
    query: q === -1 ? '' : target.slice(q + 1),
  };
}

function sigv4Cases(folder) {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name === `${basename(dir)}.req`) found.push(dir);
    }
  };
  walk(folder);
  return found;
}

function runSigV4(folder) {
  const cases = sigv4Cases(folder);
  if (cases.length === 0) failCheck(`sigv4 ${folder}`, 'no test case found');
  const material = { algorithm: 'hmac-sha256', secret: Buffer.from(SIGV4.secret, 'utf8') };
  for (const dir of cases) {
    const name = `sigv4/${relative(folder, dir)}`;
    const read = (ext) => readFileSync(join(dir, `${basename(dir)}.${ext}`), 'utf8');
    check(`${name} canonical request, string to sign, authorization`, () => {
      const request = parseHttp(read('req'));
      // The signer's view: every header of the .req is signed, as the suite's signer did.
      const signedHeaders = Object.keys(request.headers).sort(lib.compareAscii);
      const creq = lib.sigv4CanonicalRequest(request, signedHeaders, lib.sha256Hex(request.body));
      const amzDate = request.headers['x-amz-date'][0];
      const scope = `${amzDate.slice(0, 8)}/${SIGV4.region}/${SIGV4.service}/aws4_request`;
      const sts = lib.sigv4StringToSign(amzDate, scope, creq);
      const key = lib.sigv4SigningKey(SIGV4.secret, amzDate.slice(0, 8), SIGV4.region, SIGV4.service);
      const authz =
        `AWS4-HMAC-SHA256 Credential=${SIGV4.accessKeyId}/${scope}, ` +
        `SignedHeaders=${signedHeaders.join(';')}, Signature=${lib.sigv4Signature(key, sts)}`;
      return (
        differ('.creq', read('creq'), creq) ??
        differ('.sts', read('sts'), sts) ??
        differ('.authz', read('authz'), authz)
      );
    });
    if (!existsSync(join(dir, `${basename(dir)}.sreq`))) {
      skip(`${name} signed request`, 'no .sreq');
      continue;
    }
    check(`${name} signed request verified, tampered refused`, () => {
      const request = parseHttp(read('sreq'));
      const options = { sigv4: { region: SIGV4.region, service: SIGV4.service } };
      const parsed = lib.parseSignedRequest(request, options);
      if (parsed.scheme !== 'aws4-hmac-sha256' || parsed.keyId !== SIGV4.accessKeyId) return 'wrong scheme or key id';
      if (!parsed.verify(material)) return 'the .sreq signature does not verify';
      const tampered = lib.parseSignedRequest(
        { ...request, method: request.method === 'GET' ? 'PUT' : 'GET' },
        options,
      );
      if (tampered.verify(material)) return 'a changed method still verifies';
      const wrongKey = { algorithm: 'hmac-sha256', secret: Buffer.from(`${SIGV4.secret}x`) };
      return parsed.verify(wrongKey) ? 'another secret verifies' : undefined;
    });
  }
}

function runRfc9421(folder) {
  const vectorsPath = join(folder, 'vectors.json');
  if (!existsSync(vectorsPath)) {
    failCheck(`rfc9421 ${folder}`, 'no vectors.json');
    return;
  }
  const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8'));
  const keys = vectors.keys;
  const hmacKey = Buffer.from(keys['test-shared-secret'].base64, 'base64');
  const publicKeyOf = (id) => createPublicKey(keys[id].public_pem);

  for (const [id, vector] of Object.entries(vectors.cases)) {
    const name = `rfc9421/${id} (${vector.algorithm})`;
    const message = parseHttp(vectors.messages[vector.message]);
    const headers = {
      ...message.headers,
      'signature-input': [vector.signature_input_header],
      signature: [vector.signature_header],
    };
    const full = { ...message, headers };
    let entry;
    check(`${name} signature base`, () => {
      entry = lib.parseRfc9421Signatures(headers).find((signature) => signature.label === vector.label);
      if (!entry) return `no signature labelled ${vector.label}`;
      return differ('signature base', vector.signature_base, lib.rfc9421SignatureBase(full, entry.input));
    });
    if (!entry) continue;
    let material;
    if (vector.algorithm === 'hmac-sha256') material = { algorithm: 'hmac-sha256', secret: hmacKey };
    else if (vector.algorithm === 'ed25519') material = { algorithm: 'ed25519', publicKey: publicKeyOf(vector.keyid) };
    if (!material) {
      skip(`${name} signature`, `${vector.algorithm} unsupported, skipped (hmac-sha256 and ed25519 are)`);
      continue;
    }
    check(`${name} signature verified, tampered refused`, () => {
      const base = lib.rfc9421SignatureBase(full, entry.input);
      if (!lib.rfc9421VerifySignature(base, entry.signature, material)) return 'the signature does not verify';
      const tampered = base.replace('example.com', 'example.org');
      if (tampered === base) return 'the tamper check changed nothing';
      return lib.rfc9421VerifySignature(tampered, entry.signature, material)
        ? 'a changed base still verifies'
        : undefined;
    });
    if (vector.deterministic) {
      check(`${name} signature reproduced exactly`, () => {
        const base = Buffer.from(vector.signature_base, 'utf8');
        const produced =
          vector.algorithm === 'hmac-sha256'
            ? createHmac('sha256', hmacKey).update(base).digest('base64')
            : sign(null, base, createPrivateKey(keys[vector.keyid].private_pem)).toString('base64');
        return differ('signature', vector.signature_b64, produced);
      });
    }
  }

  const transform = vectors.transform;
  if (!transform) return;
  const material = { algorithm: transform.algorithm, publicKey: publicKeyOf(transform.keyid) };
  transform.messages.forEach((vector, index) => {
    const valid = vector.expected.startsWith('valid');
    check(`rfc9421/B.4 ${vector.file}: ${vector.expected}`, () => {
      const message = parseHttp(vector.message);
      const [entry] = lib.parseRfc9421Signatures(message.headers);
      if (!entry) return 'no signature found';
      const base = lib.rfc9421SignatureBase(message, entry.input);
      if (index === 0) {
        const problem = differ('signature base', transform.signature_base, base);
        if (problem) return problem;
      }
      const verified = lib.rfc9421VerifySignature(base, entry.signature, material);
      return verified === valid ? undefined : `verify gave ${verified}, expected ${valid}`;
    });
  });
}

const argument = process.argv[2];
if (!argument) {
  console.error('usage: npm run conformance -- <folder holding sigv4/ and/or rfc9421/>');
  process.exit(2);
}
const root = resolve(argument);
if (!existsSync(root) || !statSync(root).isDirectory()) {
  console.error(`conformance: ${argument} is not a folder`);
  process.exit(2);
}
let ran = false;
if (existsSync(join(root, 'sigv4'))) {
  runSigV4(join(root, 'sigv4'));
  ran = true;
}
if (existsSync(join(root, 'rfc9421'))) {
  runRfc9421(join(root, 'rfc9421'));
  ran = true;
}
if (!ran && existsSync(join(root, 'vectors.json'))) {
  runRfc9421(root);
  ran = true;
}
if (!ran && sigv4Cases(root).length > 0) {
  runSigV4(root);
  ran = true;
}
if (!ran) {
  console.error(`conformance: ${argument} holds neither sigv4/ nor rfc9421/ test data`);
  process.exit(2);
}
console.log(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
process.exit(counts.failed > 0 ? 1 : 0);
