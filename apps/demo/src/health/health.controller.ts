import { Controller, Get, HttpCode } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public, SecurityHealth, SecurityStoreUnavailableError, type SecurityHealthReport } from '@app/security';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly health: SecurityHealth) {}

  @Get()
  @Public()
  @ApiOperation({ summary: 'Liveness and the state of the database and Redis' })
  check(): Promise<SecurityHealthReport> {
    return this.health.check();
  }

  @Get('ready')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Readiness: 503 while the database is down' })
  async ready(): Promise<SecurityHealthReport> {
    const report = await this.health.check();
    if (report.database === 'down') throw new SecurityStoreUnavailableError('database', 5);
    return report;
  }
}
