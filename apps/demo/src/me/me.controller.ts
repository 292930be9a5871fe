import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal } from '@app/security';

@ApiTags('identity')
@Controller('me')
export class MeController {
  @Get()
  @ApiSecurity('ApiKey')
  @ApiOperation({ summary: 'Who the caller is and what it may do' })
  me(@CurrentPrincipal() principal: Principal) {
    return {
      principalId: principal.id,
      kind: principal.kind,
      roles: principal.roles,
      permissions: principal.permissions,
      keyId: principal.keyId ?? null,
      authMethod: principal.authMethod,
      // Only for bearer tokens: the OAuth client acting for the user.
      ...(principal.clientId !== undefined ? { clientId: principal.clientId } : {}),
    };
  }
}
