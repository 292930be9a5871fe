import { Controller, Get, Header, Module, type DynamicModule } from '@nestjs/common';
import { SecurityHeaders } from '../../src/headers/security-headers.decorator.js';
import type { SecurityModuleOptions } from '../../src/options/security-options.js';
import { Public } from '../../src/principals/public.decorator.js';
import { SecurityModule } from '../../src/security.module.js';

/** Routes with the preset as it is, with Nest's own `@Header()`, and an unexpected error. */
@Controller()
@Public()
export class PlainController {
  @Get('plain') plain(): { ok: true } {
    return { ok: true };
  }

  @Get('cached') @Header('Cache-Control', 'public, max-age=300') cached(): { ok: true } {
    return { ok: true };
  }

  @Get('boom') boom(): never {
    throw new Error('boom');
  }

  @Get('docs/page') docs(): string {
    return '<!doctype html><title>docs</title>';
  }
}

/** `@SecurityHeaders()` on a controller, and on one of its routes (whose own keys win). */
@Controller('report')
@Public()
@SecurityHeaders({ cacheControl: 'private, max-age=60', frameOptions: 'SAMEORIGIN' })
export class ReportController {
  @Get('inherit') inherit(): { ok: true } {
    return { ok: true };
  }

  @Get('html')
  @SecurityHeaders({ contentSecurityPolicy: "default-src 'self'; frame-ancestors 'self'", frameOptions: false })
  html(): string {
    return '<!doctype html><title>report</title>';
  }
}

/** A route that needs credentials: its refusal must carry its overrides too (the guard runs first). */
@Controller('private')
export class PrivateController {
  @Get() @SecurityHeaders({ cacheControl: 'private, no-cache', referrerPolicy: 'no-referrer' }) read(): { ok: true } {
    return { ok: true };
  }
}

/** An app with the security module (no database, no rate limits) and the controllers above. */
@Module({})
export class HeadersFixtureModule {
  static register(options: SecurityModuleOptions = {}): DynamicModule {
    return {
      module: HeadersFixtureModule,
      imports: [
        SecurityModule.forRoot({
          environment: 'test',
          rateLimit: false,
          anomalies: false,
          audit: { log: false },
          ...options,
        }),
      ],
      controllers: [PlainController, ReportController, PrivateController],
    };
  }
}
