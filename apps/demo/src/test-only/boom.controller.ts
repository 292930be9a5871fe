import { Controller, Get, Query } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { setTimeout as sleep } from 'node:timers/promises';
import { Public } from '@app/security';

/** Registered only with NODE_ENV=test: routes that exercise the error path and graceful shutdown. */
@ApiExcludeController()
@Controller('__test')
export class BoomController {
  /** Proves that an unexpected error answers a 500 with no internals. */
  @Get('boom')
  @Public()
  boom(): never {
    throw new Error('boom: internal detail at /srv/app/secret.ts that must never reach a client');
  }

  /** A slow request, to prove that SIGTERM lets in-flight requests finish. */
  @Get('slow')
  @Public()
  async slow(@Query('ms') ms = '500'): Promise<{ waitedMs: number }> {
    const waitedMs = Math.min(Math.max(Number(ms) || 0, 0), 5_000);
    await sleep(waitedMs);
    return { waitedMs };
  }
}
