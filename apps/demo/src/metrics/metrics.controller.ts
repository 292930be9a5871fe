import { Controller, Get, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiOperation, ApiProduces, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { RequirePermission, SecurityMetrics } from '@app/security';

/** The Prometheus scrape endpoint; scrapers authenticate like any client (a key with `metrics:read`). */
@ApiTags('monitoring')
@ApiSecurity('ApiKey')
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: SecurityMetrics,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  @Get()
  @RequirePermission('metrics:read')
  @ApiProduces('text/plain')
  @ApiOperation({ summary: 'Security metrics in the Prometheus text format' })
  async scrape(@Res({ passthrough: true }) response: unknown): Promise<string> {
    const { contentType, body } = await this.metrics.render();
    // Through the adapter, so that Express and Fastify both send the exposition's own content type.
    const adapter = this.adapterHost.httpAdapter;
    adapter.setHeader(response, 'Content-Type', contentType);
    adapter.setHeader(response, 'Cache-Control', 'no-store');
    return body;
  }
}
