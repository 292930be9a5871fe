import { Body, Controller, Post, Req, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiHeader, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import {
  CurrentPrincipal,
  RequirePermission,
  SecurityEvents,
  Signed,
  summarizeRequest,
  type HttpRequestLike,
  type Principal,
} from '@app/security';
import { idempotencyKeyOf } from './idempotency-key.js';
import { PaymentDto } from './payment.dto.js';
import { Payments, type Payment } from './payments.service.js';

/** Payments: signed requests only, with `payments:write`; `Idempotency-Key` makes retries safe. */
@ApiTags('payments')
@ApiSecurity('Signature')
@Controller('payments')
export class PaymentsController {
  constructor(
    private readonly payments: Payments,
    private readonly events: SecurityEvents,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  @Post()
  @Signed()
  @RequirePermission('payments:write')
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      '1 to 255 printable ASCII characters. A retry with the same key and body answers the first payment ' +
      '(with `Idempotent-Replayed: true`); the same key with another body answers 409.',
  })
  @ApiOperation({ summary: 'Make a payment (signed requests only)' })
  async create(
    @Body() body: PaymentDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: HttpRequestLike,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<Payment> {
    const { payment, replayed } = await this.payments.create(principal.id, body, idempotencyKeyOf(request));
    if (replayed) {
      this.adapterHost.httpAdapter.setHeader(response, 'Idempotent-Replayed', 'true');
    } else {
      // Like @Audited(), but for a payment actually made: a replay changes nothing.
      void this.events.record({
        type: 'DATA_CHANGED',
        outcome: 'success',
        principalId: principal.id,
        keyId: principal.keyId,
        request: summarizeRequest(request),
        details: { entity: 'payment', entityId: payment.id, action: 'create', before: null, after: payment },
      });
    }
    return payment;
  }
}
