import { SECURITY_ENTITIES, SECURITY_MIGRATIONS, SecurityOperationError } from '@app/security';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  POSTGRES_TARGETS,
  useMigratedDatabase,
  type PostgresTarget,
} from '../../../../libs/security/test/support/migrated-database.js';
import { DEMO_ENTITIES, DEMO_MIGRATIONS } from '../persistence.js';
import { Payments, canonicalSha256 } from './payments.service.js';

const PAYMENT = { amount: 12.5, currency: 'EUR', reference: 'invoice 42' };

describe('canonicalSha256', () => {
  it('is the SHA-256 of the fields in one order, numbers as JSON writes them', () => {
    // sha256 of {"amount":12.5,"currency":"EUR","reference":"invoice 42"}
    const expected = 'e5eb04aa12770656cdc612a5c2de97e8ca3b12d92542c6df5e37f4c88e08c425';
    expect(canonicalSha256(PAYMENT)).toBe(expected);
    expect(canonicalSha256({ reference: 'invoice 42', currency: 'EUR', amount: 12.5 })).toBe(expected);
    expect(canonicalSha256({ ...PAYMENT, amount: 12.51 })).not.toBe(expected);
  });
});

for (const target of POSTGRES_TARGETS) describePayments(target);

function describePayments({ label, open }: PostgresTarget): void {
  describe(`Payments on ${label}`, () => {
    const db = useMigratedDatabase(open, {
      entities: [...SECURITY_ENTITIES, ...DEMO_ENTITIES],
      migrations: [...SECURITY_MIGRATIONS, ...DEMO_MIGRATIONS],
    });
    let payments: Payments;
    let alice: string;
    let bob: string;

    const principal = async (username: string): Promise<string> => {
      const [row] = await db.dataSource.query(
        `INSERT INTO principals (kind, username) VALUES ('service', $1) RETURNING id`,
        [username],
      );
      return (row as { id: string }).id;
    };
    const rowsOf = async (principalId: string) =>
      db.dataSource.query(`SELECT id, idempotency_key FROM payments WHERE principal_id = $1`, [principalId]);

    beforeAll(() => {
      payments = new Payments(db.dataSource);
    });

    beforeEach(async () => {
      await db.dataSource.query('TRUNCATE payments, principals CASCADE');
      alice = await principal('alice');
      bob = await principal('bob');
    });

    it('makes a payment and answers it', async () => {
      const { payment, replayed } = await payments.create(alice, { ...PAYMENT, amount: 999_999_999.99 });

      expect(replayed).toBe(false);
      expect(payment).toEqual({
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
        amount: 999_999_999.99,
        currency: 'EUR',
        reference: 'invoice 42',
        principalId: alice,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
    });

    it('makes a new payment for each request without a key', async () => {
      const first = await payments.create(alice, PAYMENT);
      const second = await payments.create(alice, PAYMENT);

      expect(second.payment.id).not.toBe(first.payment.id);
      expect(await rowsOf(alice)).toHaveLength(2);
    });

    it('answers a retry with the same key and body with the first payment', async () => {
      const first = await payments.create(alice, PAYMENT, 'key-1');
      // The same request: fields in another order, the amount written otherwise.
      const retry = await payments.create(alice, { reference: 'invoice 42', currency: 'EUR', amount: 12.5 }, 'key-1');

      expect(first.replayed).toBe(false);
      expect(retry).toEqual({ payment: first.payment, replayed: true });
      expect(await rowsOf(alice)).toEqual([{ id: first.payment.id, idempotency_key: 'key-1' }]);
    });

    it('refuses the same key with another body as a conflict, and changes nothing', async () => {
      const first = await payments.create(alice, PAYMENT, 'key-1');

      for (const other of [
        { ...PAYMENT, amount: 12.51 },
        { ...PAYMENT, currency: 'USD' },
        { ...PAYMENT, reference: 'invoice 43' },
      ]) {
        const refusal = payments.create(alice, other, 'key-1');
        await expect(refusal).rejects.toBeInstanceOf(SecurityOperationError);
        await expect(refusal).rejects.toMatchObject({ kind: 'conflict', code: 'ERR_SECURITY_IDEMPOTENCY_KEY_REUSED' });
      }
      expect(await rowsOf(alice)).toEqual([{ id: first.payment.id, idempotency_key: 'key-1' }]);
      expect(await payments.create(alice, PAYMENT, 'key-1')).toMatchObject({ payment: first.payment, replayed: true });
    });

    it('keeps keys apart per principal, and keys apart from each other', async () => {
      const mine = await payments.create(alice, PAYMENT, 'shared');
      const theirs = await payments.create(bob, { ...PAYMENT, amount: 1 }, 'shared');
      const another = await payments.create(alice, PAYMENT, 'Shared');

      expect(theirs).toMatchObject({ replayed: false, payment: { principalId: bob, amount: 1 } });
      expect(another.replayed).toBe(false);
      expect(new Set([mine.payment.id, theirs.payment.id, another.payment.id]).size).toBe(3);
    });

    it('makes one payment of 20 concurrent first requests with one key', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, () => payments.create(alice, PAYMENT, 'concurrent')),
      );

      expect(new Set(results.map((r) => r.payment.id)).size).toBe(1);
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
      expect(await rowsOf(alice)).toHaveLength(1);
    });

    it('of concurrent requests with one key and different bodies, the winner is paid and the rest conflict', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => payments.create(alice, { ...PAYMENT, amount: i + 1 }, 'race')),
      );

      const paid = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      expect(paid).toHaveLength(1);
      expect(paid[0]!.replayed).toBe(false);
      expect(results.filter((r) => r.status === 'rejected').map((r) => r.reason)).toEqual(
        Array.from({ length: 9 }, () => expect.objectContaining({ kind: 'conflict' })),
      );
      expect(await rowsOf(alice)).toHaveLength(1);
    });

    it('refuses at the table what the DTO lets through by mistake', async () => {
      await expect(payments.create(alice, { ...PAYMENT, amount: 0 })).rejects.toThrow(/payments_amount_check/);
      await expect(payments.create(alice, { ...PAYMENT, currency: 'eur' })).rejects.toThrow(/payments_currency_check/);
    });
  });
}
