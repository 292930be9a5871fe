import { Controller, Get, Module, type DynamicModule } from '@nestjs/common';
import { InvalidCredentialsError } from '../../src/core/errors.js';
import type { HttpRequestLike } from '../../src/http/http-request.js';
import type { SecurityModuleOptions } from '../../src/options/security-options.js';
import { Authenticator } from '../../src/principals/authenticator.js';
import { CurrentPrincipal } from '../../src/principals/current-principal.decorator.js';
import type { Principal } from '../../src/principals/principal.js';
import { Public } from '../../src/principals/public.decorator.js';
import { SecurityModule } from '../../src/security.module.js';

/** One public and one protected route; the protected one echoes the principal it was given. */
@Controller()
export class FixtureController {
  @Get('public')
  @Public()
  open(): { ok: true } {
    return { ok: true };
  }

  @Get('protected')
  whoAmI(@CurrentPrincipal() principal: Principal | undefined): { principal: Principal | null } {
    return { principal: principal ?? null };
  }
}

/** An app importing `SecurityModule.forRoot(options)`. */
@Module({})
export class ForRootFixtureModule {
  static register(options: SecurityModuleOptions = {}): DynamicModule {
    return {
      module: ForRootFixtureModule,
      imports: [SecurityModule.forRoot(options)],
      controllers: [FixtureController],
    };
  }
}

/** What the async fixture's configuration provider hands to the factory, as a ConfigService would. */
export class FixtureConfig {
  constructor(readonly values: Readonly<Record<string, string>>) {}

  get(name: string): string | undefined {
    return this.values[name];
  }
}

/** The module that provides `FixtureConfig`, imported by `forRootAsync`. */
@Module({})
export class FixtureConfigModule {
  static register(values: Readonly<Record<string, string>>): DynamicModule {
    return {
      module: FixtureConfigModule,
      providers: [{ provide: FixtureConfig, useValue: new FixtureConfig(values) }],
      exports: [FixtureConfig],
    };
  }
}

/**
 * An app importing `SecurityModule.forRootAsync()` with a factory that reads `FixtureConfig`: the key
 * prefix from `KEY_PREFIX`, the problem type base from `PROBLEM_BASE` and the IP limit from `RATE_LIMIT_IP`.
 */
@Module({})
export class ForRootAsyncFixtureModule {
  static register(values: Readonly<Record<string, string>>): DynamicModule {
    return {
      module: ForRootAsyncFixtureModule,
      imports: [
        SecurityModule.forRootAsync({
          imports: [FixtureConfigModule.register(values)],
          inject: [FixtureConfig],
          useFactory: (config: FixtureConfig): SecurityModuleOptions => ({
            apiKeys: { prefix: config.get('KEY_PREFIX') },
            problems: { typeBaseUri: config.get('PROBLEM_BASE') },
            rateLimit: { policies: { ip: config.get('RATE_LIMIT_IP') } },
          }),
        }),
      ],
      controllers: [FixtureController],
    };
  }
}

/** A test authenticator reading one header: `good` authenticates, `revoked` is refused as revoked. */
export class HeaderAuthenticator extends Authenticator {
  readonly challenge = 'ApiKey realm="api"';
  readonly calls: string[] = [];

  constructor(
    readonly name: string,
    private readonly header: string,
  ) {
    super();
  }

  present(request: HttpRequestLike): boolean {
    return request.headers[this.header] !== undefined;
  }

  async authenticate(request: HttpRequestLike): Promise<Principal> {
    const value = request.headers[this.header];
    this.calls.push(String(value));
    if (value === 'revoked') throw new InvalidCredentialsError('revoked', { keyId: `${this.name}-key` });
    if (value !== 'good') throw new InvalidCredentialsError('unknown');
    return {
      id: '00000000-0000-4000-8000-000000000001',
      kind: 'service',
      roles: ['tester'],
      permissions: ['items:read'],
      attributes: { via: this.name },
      authMethod: 'test',
      keyId: `${this.name}-key`,
    };
  }
}
