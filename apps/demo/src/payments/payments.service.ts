import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { SecurityOperationError } from '@app/security';

/** What a payment is made of, as validated by `PaymentDto`. */
export interface PaymentInput {
  readonly amount: number;
  readonly currency: string;
  readonly reference: string;
}

/** A payment as the API answers it. */
export interface Payment {
  readonly id: string;
  readonly amount: number;
  readonly currency: string;
  readonly reference: string;
  readonly principalId: string;
  readonly createdAt: string;
}

/** The outcome of `Payments.create`: `replayed` when an earlier request with the same key made it. */
export interface PaymentResult {
  readonly payment: Payment;
  readonly replayed: boolean;
}

interface PaymentRow {
  id: string;
  principal_id: string;
  amount: string;
  currency: string;
  reference: string;
  request_sha256: string | null;
  created_at: Date;
}

const COLUMNS = 'id, principal_id, amount, currency, reference, request_sha256, created_at';

/**
 * Creates the demo's payments, honouring `Idempotency-Key` as Stripe does: per principal, the first
 * request with a key makes the payment; a retry with the same body gets that payment back; the same key
 * with another body is a conflict. Keys do not expire.
 */
@Injectable()
export class Payments {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async create(principalId: string, input: PaymentInput, idempotencyKey?: string): Promise<PaymentResult> {
    const requestSha256 = idempotencyKey === undefined ? null : canonicalSha256(input);
    // One statement decides the race: of concurrent first requests with one key, exactly one inserts;
    // the others insert nothing (NULL keys never conflict) and read the winner's row below.
    const inserted: PaymentRow[] = await this.dataSource.query(
      `INSERT INTO payments (principal_id, amount, currency, reference, idempotency_key, request_sha256)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (principal_id, idempotency_key) DO NOTHING
       RETURNING ${COLUMNS}`,
      [principalId, input.amount.toFixed(2), input.currency, input.reference, idempotencyKey ?? null, requestSha256],
    );
    if (inserted[0]) return { payment: view(inserted[0]), replayed: false };

    const [existing]: PaymentRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM payments WHERE principal_id = $1 AND idempotency_key = $2`,
      [principalId, idempotencyKey],
    );
    // Only a deleted principal (whose payments cascade away) can take the row between the two statements.
    if (!existing) throw new Error('the payment of this Idempotency-Key disappeared');
    if (existing.request_sha256 !== requestSha256) {
      throw new SecurityOperationError(
        'ERR_SECURITY_IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was already used with a different request body',
        'conflict',
      );
    }
    return { payment: view(existing), replayed: true };
  }
}

/**
 * Hex SHA-256 of the validated body in a fixed form: fields in one order, numbers as JSON writes them,
 * so `10.50` and `10.5`, or fields in another order, are the same request.
 */
export function canonicalSha256(input: PaymentInput): string {
  const canonical = JSON.stringify({ amount: input.amount, currency: input.currency, reference: input.reference });
  return createHash('sha256').update(canonical).digest('hex');
}

function view(row: PaymentRow): Payment {
  return {
    id: row.id,
    amount: Number(row.amount),
    currency: row.currency,
    reference: row.reference,
    principalId: row.principal_id,
    createdAt: row.created_at.toISOString(),
  };
}
