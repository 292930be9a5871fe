import 'reflect-metadata';
import { ConsoleLogger, Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { once } from 'node:events';
import { userInfo } from 'node:os';
import { DataSource } from 'typeorm';
import {
  ApiKeys,
  AuditEventStore,
  DeprecationUsage,
  Grants,
  SECURITY_ENTITIES,
  SECURITY_MIGRATIONS,
  EMBEDDED_POOL_SIZE,
  Principals,
  SecurityOperationError,
  SecurityHealth,
  SecurityModule,
  SigningKeys,
  runMigrationsExclusively,
  securityDataSourceOptions,
  startEmbeddedPostgres,
  parseLimit,
  verifyAuditChain,
  type AuditChainHead,
  type EmbeddedPostgres,
  type StoredAuditEvent,
} from '@app/security';
import { readDemoConfig, signingOptionsOf, type DemoConfig } from './config/demo-config.js';
import { DemoSeeder } from './seed.js';
import { DEMO_ENTITIES, DEMO_MIGRATIONS } from './persistence.js';

/**
 * Administration from the shell: `npm run cli -- <noun> <verb> [--json]`.
 * Exit 0 on success, 1 when the operation was refused or failed, 2 when it could not run at all.
 * With `--json`, exactly one JSON object on one line on stdout; logs go to stderr.
 */

/** An operation that ran and was refused or failed (exit 1), as opposed to one that could not run (exit 2). */
class OperationFailed extends Error {
  constructor(
    message: string,
    readonly result: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Who acts, for the audit trail. */
export const cliActor = (): string => `cli:${safeUserName()}`;

@Module({})
class CliModule {
  static forRoot(config: DemoConfig, url: string, poolSize: number, embedded: boolean): DynamicModule {
    return {
      module: CliModule,
      providers: [DemoSeeder],
      imports: [
        TypeOrmModule.forRoot({
          ...securityDataSourceOptions({ url, poolSize }),
          entities: [...SECURITY_ENTITIES, ...DEMO_ENTITIES],
          migrations: [...SECURITY_MIGRATIONS, ...DEMO_MIGRATIONS],
          migrationsRun: false,
          retryAttempts: 0,
        }),
        SecurityModule.forRoot({
          environment: config.nodeEnv === 'production' ? 'production' : 'development',
          redis: config.redisUrl ?? false,
          // stdout is reserved for the command's result.
          audit: { log: false },
          apiKeys: { pepper: config.apiKeyPepper },
          // The CLI publishes its changes itself, on the transport the running instances listen to.
          changes: { transport: config.changesTransport ?? (embedded ? 'polling' : 'auto') },
          // The same master keys as the running demo (app.module.ts), so secrets it seals there open here.
          signing: signingOptionsOf(config),
        }),
      ],
    };
  }
}

interface Context {
  readonly app: INestApplicationContext;
  readonly embedded?: EmbeddedPostgres;
}

async function openContext(config: DemoConfig): Promise<Context> {
  let embedded: EmbeddedPostgres | undefined;
  let url = config.databaseUrl;
  let poolSize = 2;
  if (!url) {
    // While the demo runs it owns the data directory; this connects through its server instead.
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, logger: stderrLogger });
    url = embedded.url;
    poolSize = EMBEDDED_POOL_SIZE;
  }
  try {
    const app = await NestFactory.createApplicationContext(CliModule.forRoot(config, url, poolSize, !!embedded), {
      logger: new StderrLogger({ logLevels: ['error', 'warn'] }),
      abortOnError: false,
    });
    return { app, embedded };
  } catch (error) {
    await embedded?.close();
    throw error;
  }
}

async function withContext<T>(run: (context: Context) => Promise<T>): Promise<T> {
  const context = await openContext(readDemoConfig());
  try {
    return await run(context);
  } finally {
    await context.app.close();
    await context.embedded?.close();
  }
}

async function migrate(direction: string): Promise<Record<string, unknown>> {
  return withContext(async ({ app }) => {
    const dataSource = app.get(DataSource);
    if (direction === 'up') {
      const applied = await runMigrationsExclusively(dataSource);
      return { applied: applied.map((m) => m.name), pending: [] };
    }
    if (direction === 'down') {
      const before = await executedMigrations(dataSource);
      if (before.length === 0) throw new OperationFailed('no migration to revert', { reverted: null });
      await dataSource.undoLastMigration({ transaction: 'each' });
      return { reverted: before[before.length - 1] };
    }
    const executed = await executedMigrations(dataSource);
    const pending = dataSource.migrations
      .map((m) => m.name ?? m.constructor.name)
      .filter((name) => !executed.includes(name));
    return { executed, pending };
  });
}

async function executedMigrations(dataSource: DataSource): Promise<string[]> {
  const table = dataSource.options.migrationsTableName ?? 'migrations';
  const exists: Array<{ present: boolean }> = await dataSource.query('SELECT to_regclass($1) IS NOT NULL AS present', [
    table,
  ]);
  if (!exists[0]?.present) return [];
  const rows: Array<{ name: string }> = await dataSource.query(`SELECT name FROM "${table}" ORDER BY id`);
  return rows.map((row) => row.name);
}

async function health(): Promise<Record<string, unknown>> {
  return withContext(async ({ app }) => {
    const report = await app.get(SecurityHealth).check();
    if (report.status !== 'ok') throw new OperationFailed('degraded', { ...report });
    return { ...report };
  });
}

function print(json: boolean, result: Record<string, unknown>, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${text}\n`);
}

function describe(result: Record<string, unknown>): string {
  return Object.entries(result)
    .map(([key, value]) => `${key}: ${Array.isArray(value) ? listText(value) : text(value)}`)
    .join('\n');
}

// Plain values on one line; objects (the routes of `deprecations report`) one JSON per line.
function listText(values: readonly unknown[]): string {
  if (values.length === 0) return '-';
  if (values.some((value) => typeof value === 'object' && value !== null)) {
    return values.map((value) => `\n  ${text(value)}`).join('');
  }
  return values.join(', ');
}

// Nested objects (e.g. `firstBad` of `audit verify`) as JSON rather than [object Object].
function text(value: unknown): string {
  if (value instanceof Date) return String(value);
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value as string | number | boolean | bigint | null | undefined);
}

/** Nest's console logger writes below-error levels to stdout, which belongs to the command's result. */
class StderrLogger extends ConsoleLogger {
  protected override printMessages(...args: Parameters<ConsoleLogger['printMessages']>): void {
    const [messages, context, logLevel, , errorStack, params] = args;
    super.printMessages(messages, context, logLevel, 'stderr', errorStack, params);
  }
}

const stderrLogger = {
  log: (message: string) => process.stderr.write(`${message}\n`),
  warn: (message: string) => process.stderr.write(`${message}\n`),
};

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  const program = new Command('cli')
    .description('nest-api-security demo administration')
    .exitOverride()
    .configureOutput({
      writeErr: (text) => process.stderr.write(text),
      writeOut: (text) => process.stderr.write(text),
    });
  let exitCode = 0;
  const action = (work: () => Promise<Record<string, unknown>>) => async () => {
    try {
      const result = await work();
      print(json, { ok: true, ...result }, describe(result));
    } catch (error) {
      if (error instanceof SecurityOperationError) {
        print(json, { ok: false, error: error.message, code: error.code }, `refused: ${error.message}`);
        exitCode = 1;
        return;
      }
      if (error instanceof OperationFailed) {
        print(
          json,
          { ok: false, error: error.message, ...error.result },
          `failed: ${error.message}\n${describe(error.result)}`,
        );
        exitCode = 1;
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      print(json, { ok: false, error: message }, `could not run: ${message}`);
      exitCode = 2;
    }
  };
  program
    .command('migrate')
    .description('apply (up, the default), revert the last (down) or list (status) the security migrations')
    .argument('[direction]', 'up | down | status', 'up')
    .option('--json', 'print one JSON object')
    .action(async (direction: string) => {
      if (!['up', 'down', 'status'].includes(direction)) {
        print(
          json,
          { ok: false, error: `unknown direction "${direction}"` },
          `unknown direction "${direction}"; use up, down or status`,
        );
        exitCode = 2;
        return;
      }
      await action(() => migrate(direction))();
    });
  program
    .command('health')
    .description('check the database and Redis: {status, database, redis}')
    .option('--json', 'print one JSON object')
    .action(action(health));
  addIdentityCommands(program, action);
  addSigningKeyCommands(program, action);
  addAuthorizationCommands(program, action);
  addAuditCommands(program, action, (code) => (exitCode = code));
  addDeprecationCommands(program, action);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0;
      if (json) print(true, { ok: false, error: error.message }, '');
      return 2;
    }
    throw error;
  }
  return exitCode;
}

type Action = (work: () => Promise<Record<string, unknown>>) => () => Promise<void>;

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
const list = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
const limit = (value: string): string => {
  if (parseLimit(value) === undefined) throw new InvalidArgumentError('expected count/window such as 5000/60s');
  return value;
};

/** `users …` and `keys …`: the same operations as /admin/keys and /users, audited as `cli:<os user>`. */
function addIdentityCommands(program: Command, action: Action): void {
  const actor = () => ({ label: cliActor() });
  const users = program.command('users').description('principals (users and services)');
  users
    .command('create')
    .requiredOption('--username <username>')
    .option('--email <email>')
    .option('--password <password>', 'visible to other local users in the process list; prefer --password-stdin')
    .option('--password-stdin', 'read the password from standard input')
    .option('--department <department>')
    .option('--role <role>', 'repeatable', collect)
    .option('--kind <kind>', 'user or service', 'user')
    .option('--rate-limit <limit>', "the principal's own rate limit, e.g. 5000/60s (its rateLimit attribute)", limit)
    .option('--json')
    .action((options: Record<string, any>) =>
      action(() =>
        withContext(async ({ app }) => {
          const password = options.passwordStdin ? (await readStdin()).replace(/\r?\n$/, '') : options.password;
          const created = await app.get(Principals).create(
            {
              username: options.username,
              email: options.email,
              password,
              kind: options.kind,
              roles: options.role ?? [],
              attributes: {
                ...(options.department ? { department: options.department } : {}),
                ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
              },
            },
            actor(),
          );
          return { id: created.id, username: created.username, roles: created.roles };
        }),
      )(),
    );
  users
    .command('disable')
    .argument('<id>')
    .option('--json')
    .action((id: string) =>
      action(() =>
        withContext(async ({ app }) => {
          const disabled = await app.get(Principals).disable(id, actor());
          return {
            id: disabled.id,
            disabledAt: disabled.disabledAt,
            revokedKeys: disabled.revokedKeys,
            revokedSigningKeys: disabled.revokedSigningKeys,
          };
        }),
      )(),
    );

  const keys = program.command('keys').description('API keys');
  keys
    .command('create')
    .requiredOption('--owner <id>')
    .requiredOption('--name <name>')
    .option('--scopes <a,b>', 'comma-separated permissions', list)
    .option('--expires-in <duration>', 'e.g. 30d')
    .option('--environment <env>', 'live or test')
    .option('--allowed-cidrs <a,b>', 'comma-separated addresses or CIDRs', list)
    .option('--rate-limit <limit>', "the key's own rate limit, counted per key, e.g. 5000/60s")
    .option('--json')
    .action((options: Record<string, any>) =>
      action(() =>
        withContext(async ({ app }) => ({
          ...(await app.get(ApiKeys).create(
            {
              ownerId: options.owner,
              name: options.name,
              scopes: options.scopes,
              expiresIn: options.expiresIn,
              environment: options.environment,
              allowedCidrs: options.allowedCidrs,
              rateLimit: options.rateLimit,
            },
            actor(),
          )),
        })),
      )(),
    );
  keys
    .command('list')
    .option('--owner <id>')
    .option('--json')
    .action((options: Record<string, any>) =>
      action(() =>
        withContext(async ({ app }) => ({ keys: await app.get(ApiKeys).list({ ownerId: options.owner }) })),
      )(),
    );
  keys
    .command('rotate')
    .argument('<keyId>')
    .option('--grace <duration>', 'how long the old key keeps working (default 24h; 0 = stop at once)')
    .option('--json')
    .action((keyId: string, options: Record<string, any>) =>
      action(() =>
        withContext(async ({ app }) => ({
          ...(await app.get(ApiKeys).rotate(keyId, { grace: options.grace }, actor())),
        })),
      )(),
    );
  keys
    .command('revoke')
    .argument('<keyId>')
    .option('--json')
    .action((keyId: string) =>
      action(() => withContext(async ({ app }) => ({ ...(await app.get(ApiKeys).revoke(keyId, actor())) })))(),
    );
}

/** `signing-keys …`: request-signing credentials, audited as `cli:<os user>` and broadcast to running instances. */
function addSigningKeyCommands(program: Command, action: Action): void {
  const actor = () => ({ label: cliActor() });
  const algorithm = (value: string): 'hmac-sha256' | 'ed25519' => {
    if (value !== 'hmac-sha256' && value !== 'ed25519')
      throw new InvalidArgumentError('expected hmac-sha256 or ed25519');
    return value;
  };
  const signingKeys = program.command('signing-keys').description('request-signing keys (@Signed() routes)');
  signingKeys
    .command('create')
    .description('print {accessKeyId, secret} (hmac-sha256) or {accessKeyId, privateKey} (ed25519), shown once')
    .requiredOption('--owner <id>')
    .option('--name <name>')
    .option('--algorithm <algorithm>', 'hmac-sha256 (default) or ed25519', algorithm)
    .option('--json')
    .action((options: Record<string, any>) =>
      action(() =>
        withContext(async ({ app }) => ({
          ...(await app
            .get(SigningKeys)
            .create({ ownerId: options.owner, name: options.name, algorithm: options.algorithm }, actor())),
        })),
      )(),
    );
  signingKeys
    .command('list')
    .option('--owner <id>')
    .option('--json')
    .action((options: Record<string, any>) =>
      action(() => withContext(async ({ app }) => ({ keys: await app.get(SigningKeys).list(options.owner) })))(),
    );
  signingKeys
    .command('revoke')
    .argument('<accessKeyId>')
    .option('--json')
    .action((accessKeyId: string) =>
      action(() =>
        withContext(async ({ app }) => ({ ...(await app.get(SigningKeys).revoke(accessKeyId, actor())) })),
      )(),
    );
}

/** `roles …` and `grants …`: the same operations as /admin/roles and document sharing, audited as `cli:<os user>`. */
function addAuthorizationCommands(program: Command, action: Action): void {
  const actor = () => ({ label: cliActor() });
  const roles = program.command('roles').description('roles and their members');
  roles
    .command('list')
    .option('--json')
    .action(() => action(() => withContext(async ({ app }) => ({ roles: await app.get(Principals).listRoles() })))());
  for (const verb of ['assign', 'revoke'] as const) {
    roles
      .command(verb)
      .requiredOption('--principal <id>')
      .requiredOption('--role <role>')
      .option('--json')
      .action((options: Record<string, string>) =>
        action(() =>
          withContext(async ({ app }) => {
            const principals = app.get(Principals);
            if (!(await principals.get(options.principal!))) {
              throw new SecurityOperationError('ERR_SECURITY_UNKNOWN_PRINCIPAL', 'No such principal', 'not_found');
            }
            const changed =
              verb === 'assign'
                ? await principals.assignRole(options.principal!, options.role!, actor())
                : await principals.revokeRole(options.principal!, options.role!, actor());
            return {
              principalId: options.principal,
              role: options.role,
              [verb === 'assign' ? 'assigned' : 'revoked']: changed,
            };
          }),
        )(),
      );
  }
  const grants = program.command('grants').description('explicit grants of an action on one resource');
  for (const verb of ['add', 'remove'] as const) {
    grants
      .command(verb)
      .requiredOption('--principal <id>')
      .requiredOption('--type <type>', 'resource type, e.g. document')
      .requiredOption('--id <id>', 'resource id')
      .requiredOption('--action <action>', 'e.g. read, write, or *')
      .option('--json')
      .action((options: Record<string, string>) =>
        action(() =>
          withContext(async ({ app }) => {
            const grant = {
              principalId: options.principal!,
              resourceType: options.type!,
              resourceId: options.id!,
              action: options.action!,
            };
            const result =
              verb === 'add' ? await app.get(Grants).add(grant, actor()) : await app.get(Grants).remove(grant, actor());
            return { ...grant, ...result };
          }),
        )(),
      );
  }
}

/** `deprecations report`: who still calls deprecated routes (`deprecated_calls`). Reading only. */
function addDeprecationCommands(program: Command, action: Action): void {
  const deprecations = program.command('deprecations').description('calls to deprecated API versions and routes');
  deprecations
    .command('report')
    .description('print {routes: [{version, method, path, callers: [{principalId, keyId, count, refused, …}]}]}')
    .option('--json', 'print one JSON object')
    .action(
      action(() =>
        withContext(async ({ app }) => {
          const report = await app.get(DeprecationUsage).report();
          return { routes: report.routes };
        }),
      ),
    );
}

/** `audit …`: check the hash chain, export the trail. Reading only: nothing here is audited. */
function addAuditCommands(program: Command, action: Action, exitWith: (code: number) => void): void {
  const audit = program.command('audit').description('the tamper-evident audit trail (audit_events)');
  audit
    .command('verify')
    .description('recompute the hash chain: exit 0 when intact, 1 naming the first altered, inserted or missing row')
    .option('--head <seq:hash>', 'a chain head from the security log ("audit chain head"): detects removed newest rows')
    .option('--json', 'print one JSON object: {ok, checked, firstBad}')
    .action((options: Record<string, string | undefined>) =>
      action(async () => {
        const head = options.head === undefined ? undefined : parseHead(options.head);
        return withContext(async ({ app }) => {
          const result = await verifyAuditChain(auditRows(app.get(AuditEventStore)), { head });
          if (result.firstBad) {
            throw new OperationFailed(`audit chain broken at seq ${result.firstBad.seq} (${result.firstBad.reason})`, {
              checked: result.checked,
              firstBad: result.firstBad,
            });
          }
          return { checked: result.checked, firstBad: null };
        });
      })(),
    );
  audit
    .command('export')
    .description('write the events as JSON lines on stdout, one per line, in seq order')
    .option('--since <instant>', 'only events at or after this ISO 8601 instant')
    .option('--until <instant>', 'only events before this ISO 8601 instant')
    .option('--json', 'accepted for symmetry: the output is always JSON lines')
    .action(async (options: Record<string, string | undefined>) => {
      try {
        const since = options.since === undefined ? undefined : parseInstant(options.since, '--since');
        const until = options.until === undefined ? undefined : parseInstant(options.until, '--until');
        await withContext(async ({ app }) => {
          const store = app.get(AuditEventStore);
          // `at` is when the event happened, not its place in the chain: every row is looked at.
          let lines = '';
          for await (const row of auditRows(store)) {
            if ((since && row.at < since) || (until && row.at >= until)) continue;
            lines += `${JSON.stringify(row)}\n`;
            if (lines.length >= 64 * 1024) {
              await writeOut(lines);
              lines = '';
            }
          }
          await writeOut(lines);
        });
      } catch (error) {
        // stdout holds JSON lines only; what went wrong goes to stderr.
        process.stderr.write(`could not run: ${error instanceof Error ? error.message : String(error)}\n`);
        exitWith(2);
      }
    });
}

/** Every row, ascending, a page at a time. */
async function* auditRows(store: AuditEventStore): AsyncIterable<StoredAuditEvent> {
  let after = '0';
  for (;;) {
    const page = await store.range(after, 1_000);
    if (page.length === 0) return;
    yield* page;
    after = page[page.length - 1]!.seq;
  }
}

function parseHead(text: string): AuditChainHead {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  if (!match) throw new Error(`--head must be SEQ:HASH (a seq and 64 hex digits), got "${text}"`);
  return { seq: match[1]!, hash: match[2]! };
}

function parseInstant(text: string, option: string): Date {
  const instant = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? new Date(text) : undefined;
  if (!instant || Number.isNaN(instant.getTime())) {
    throw new Error(`${option} must be an ISO 8601 instant such as 2026-01-31T00:00:00Z, got "${text}"`);
  }
  return instant;
}

async function writeOut(text: string): Promise<void> {
  if (text && !process.stdout.write(text)) await once(process.stdout, 'drain');
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runCli(process.argv.slice(2));
}
