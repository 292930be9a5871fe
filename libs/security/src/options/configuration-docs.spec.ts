import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { resolveSecurityOptions } from './resolve-security-options.js';
import { SECURITY_DEFAULTS } from './security-defaults.js';

// docs/configuration.md is checked against the option types, so the reference cannot drift: every option
// path of `SecurityModuleOptions` (walked with the compiler) has a row, and every row names an option that
// exists. The `knownKeys(...)` lists of the resolvers are a second source: a key they accept is an option.
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '../../../..');
const DOC = join(ROOT, 'docs/configuration.md');
const OPTIONS_FILE = join(HERE, 'security-options.ts');

// Below these paths the keys are the user's own (version names, route policy names, URL prefixes, scopes):
// the row documents the map, not its entries.
const USER_KEYED = new Set(['rateLimit.policies', 'headers.relaxedPaths', 'oauth.scopeMap', 'deprecations.versions']);

/** The option paths of `SecurityModuleOptions`, as the compiler sees the type. */
function optionPathsFromTypes(): string[] {
  const program = ts.createProgram([OPTIONS_FILE], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(OPTIONS_FILE);
  if (!source) throw new Error(`cannot read ${OPTIONS_FILE}`);
  let root: ts.Type | undefined;
  ts.forEachChild(source, (node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === 'SecurityModuleOptions') {
      root = checker.getTypeAtLocation(node);
    }
  });
  if (!root) throw new Error('SecurityModuleOptions not found');

  // The object types of a property (a union member such as `ApiKeyOptions` in `ApiKeyOptions | false`),
  // leaving out primitives, arrays and functions.
  const objectParts = (type: ts.Type): ts.Type[] =>
    (type.isUnion() ? type.types : [type]).filter(
      (part) =>
        (part.flags & ts.TypeFlags.Object) !== 0 &&
        !checker.isArrayType(part) &&
        !checker.isTupleType(part) &&
        part.getCallSignatures().length === 0 &&
        checker.typeToString(part) !== 'Date',
    );

  const paths: string[] = [];
  const walk = (type: ts.Type, prefix: string): void => {
    for (const part of objectParts(type)) {
      for (const property of checker.getPropertiesOfType(part)) {
        const path = prefix ? `${prefix}.${property.name}` : property.name;
        if (paths.includes(path)) continue;
        paths.push(path);
        if (USER_KEYED.has(path)) continue;
        const declaration = property.valueDeclaration ?? property.declarations?.[0];
        if (declaration) walk(checker.getTypeOfSymbolAtLocation(property, declaration), path);
      }
    }
  };
  walk(root, '');
  return paths;
}

/** The keys each `knownKeys(raw, 'section', [...])` call of the resolvers accepts, as option paths. */
function optionPathsFromKnownKeys(): string[] {
  const files = [
    join(HERE, 'resolve-security-options.ts'),
    join(HERE, '../oauth/oauth-options.ts'),
    join(HERE, '../sessions/session-options.ts'),
    join(HERE, '../mfa/mfa-options.ts'),
  ];
  const paths: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const lists = new Map<string, string[]>();
    // `const KEYS = [...]` lists passed by name.
    for (const match of text.matchAll(/const (\w+)\s*(?::[^=]+)?=\s*\[([^\]]*)\]/g)) {
      lists.set(
        match[1],
        [...match[2].matchAll(/'([^']+)'/g)].map((key) => key[1]),
      );
    }
    for (const match of text.matchAll(/knownKeys\(\s*\w+,\s*'([^']+)',\s*(\[[^\]]*\]|\w+)\s*\)/g)) {
      const [, section, list] = match;
      const keys = list.startsWith('[') ? [...list.matchAll(/'([^']+)'/g)].map((key) => key[1]) : lists.get(list);
      if (!keys) throw new Error(`${file}: cannot read the key list ${list} of knownKeys(…, '${section}')`);
      for (const key of keys) paths.push(`${section}.${key}`);
    }
  }
  return paths;
}

/** Option paths in the first column of the reference tables of docs/configuration.md. */
function documentedPaths(): string[] {
  const text = readFileSync(DOC, 'utf8');
  const start = text.indexOf('<!-- options:start -->');
  const end = text.indexOf('<!-- options:end -->');
  if (start < 0 || end < start) throw new Error('docs/configuration.md lacks the <!-- options:start/end --> markers');
  const paths: string[] = [];
  for (const line of text.slice(start, end).split('\n')) {
    const match = /^\| `([A-Za-z0-9_.]+)` \|/.exec(line);
    if (match) paths.push(match[1]);
  }
  return paths;
}

describe('docs/configuration.md', () => {
  const fromTypes = optionPathsFromTypes();
  const fromKnownKeys = optionPathsFromKnownKeys();
  const documented = documentedPaths();

  it('reads a plausible set of option paths from the types and the resolvers', () => {
    expect(fromTypes).toContain('apiKeys.staleIfError');
    expect(fromTypes).toContain('rateLimit.storeTimeout');
    expect(fromTypes).toContain('oauth.introspection.clientSecret');
    expect(fromTypes).toContain('sessions.loginBackoff.after');
    expect(fromTypes.length).toBeGreaterThan(80);
    expect(fromKnownKeys).toContain('apiKeys.lookupTimeout');
    expect(documented.length).toBeGreaterThan(80);
  });

  it('documents every option of SecurityModuleOptions', () => {
    expect(fromTypes.filter((path) => !documented.includes(path))).toEqual([]);
  });

  it('documents every key the resolvers accept', () => {
    expect([...new Set(fromKnownKeys)].filter((path) => !documented.includes(path))).toEqual([]);
  });

  it('documents no option that does not exist (no stale rows)', () => {
    expect(documented.filter((path) => !fromTypes.includes(path))).toEqual([]);
  });

  it('documents no option twice', () => {
    expect(documented.filter((path, index) => documented.indexOf(path) !== index)).toEqual([]);
  });

  it('has a row for every section of the resolved defaults', () => {
    // resolveSecurityOptions({}) and SECURITY_DEFAULTS: every section they fill is a documented option.
    const resolved = Object.keys(resolveSecurityOptions({})).filter((key) => key !== 'warnings');
    const defaults = Object.entries(SECURITY_DEFAULTS).flatMap(([section, value]) =>
      section === 'redisKeyPrefix'
        ? ['redis.keyPrefix']
        : [section, ...Object.keys(value as object).map((key) => `${section}.${key}`)],
    );
    expect([...resolved, ...defaults].filter((path) => !documented.includes(path))).toEqual([]);
  });

  it('states the defaults of SECURITY_DEFAULTS as they are', () => {
    const text = readFileSync(DOC, 'utf8');
    const rowOf = (path: string): string =>
      text.split('\n').find((line) => line.startsWith(`| \`${path}\` |`)) ?? `(no row for ${path})`;
    const scalars: [string, unknown][] = [];
    for (const [section, value] of Object.entries(SECURITY_DEFAULTS)) {
      if (typeof value !== 'object') continue;
      for (const [key, entry] of Object.entries(value as object)) {
        if (typeof entry === 'string' || typeof entry === 'number' || typeof entry === 'boolean') {
          scalars.push([`${section}.${key}`, entry]);
        }
      }
    }
    expect(scalars.length).toBeGreaterThan(20);
    for (const [path, value] of scalars) {
      const row = rowOf(path);
      const written = typeof value === 'string' ? [`\`'${value}'\``, `\`"${value}"\``] : [`\`${String(value)}\``];
      expect(
        written.some((text) => row.includes(text)),
        `${path}: the row should state the default ${written.join(' or ')}: ${row}`,
      ).toBe(true);
    }
  });
});
