import type { PaymentChannel, PaymentProviderId } from '../../domain/payment-provider';
import type { RefundFinish, RefundRecord } from '../../domain/ports';
import type { RefundRepository } from '../../domain/repositories';
import { safeInteger, storableText, toJsonb } from './column-values';
import type { Queryable } from './database';
import { REFUND_COLUMNS, toRefund, type Int8, type RefundRow } from './rows';

/** The `refunds` table. */
export class SqlRefundRepository implements RefundRepository {
  constructor(private readonly db: Queryable) {}

  async insertRefund(refund: RefundRecord): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `INSERT INTO refunds (${REFUND_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
       ON CONFLICT DO NOTHING`,
      [
        refund.refundNo,
        refund.orderNo,
        refund.billNo,
        refund.channel,
        refund.provider,
        refund.amount,
        refund.reason ?? null,
        refund.kind,
        refund.idempotencyKey ?? null,
        refund.requestHash ?? null,
        refund.status,
        refund.submittedAt ?? null,
        refund.acceptedAt ?? null,
        storableText(refund.providerRefundId ?? null),
        storableText(refund.failure ?? null),
        refund.createdAt,
        refund.finishedAt ?? null,
        refund.nextCheckAt,
      ],
    );
    return rowCount === 1;
  }

  async findRefund(refundNo: string): Promise<RefundRecord | null> {
    const { rows } = await this.db.query<RefundRow>(`SELECT ${REFUND_COLUMNS} FROM refunds WHERE refund_no = $1`, [
      refundNo,
    ]);
    return rows[0] ? toRefund(rows[0]) : null;
  }

  async findRefundByIdempotencyKey(orderNo: string, idempotencyKey: string): Promise<RefundRecord | null> {
    const { rows } = await this.db.query<RefundRow>(
      `SELECT ${REFUND_COLUMNS} FROM refunds WHERE order_no = $1 AND idempotency_key = $2`,
      [orderNo, idempotencyKey],
    );
    return rows[0] ? toRefund(rows[0]) : null;
  }

  async listRefunds(orderNo: string): Promise<RefundRecord[]> {
    const { rows } = await this.db.query<RefundRow>(
      `SELECT ${REFUND_COLUMNS} FROM refunds WHERE order_no = $1 ORDER BY created_at, refund_no`,
      [orderNo],
    );
    return rows.map(toRefund);
  }

  async refundBalance(orderNo: string): Promise<{
    paid: number;
    reserved: number;
    bill?: { billNo: string; channel: PaymentChannel; provider: PaymentProviderId };
  }> {
    const { rows } = await this.db.query<{
      paid: Int8;
      reserved: Int8;
      bill_no: string | null;
      channel: PaymentChannel | null;
      provider: PaymentProviderId | null;
    }>(
      `WITH applied AS (SELECT id, bill_no, amount FROM payments WHERE order_no = $1 AND disposition = 'applied')
       SELECT (SELECT COALESCE(SUM(amount), 0) FROM applied)::bigint AS paid,
              (SELECT COALESCE(SUM(amount), 0) FROM refunds
                WHERE order_no = $1 AND kind = 'merchant' AND status IN ('pending', 'succeeded'))::bigint AS reserved,
              first.bill_no, bills.channel, bills.provider
       FROM (SELECT 1) AS one
       LEFT JOIN (SELECT bill_no FROM applied ORDER BY id LIMIT 1) AS first ON true
       LEFT JOIN bills ON bills.bill_no = first.bill_no`,
      [orderNo],
    );
    const row = rows[0];
    return {
      paid: safeInteger(row.paid),
      reserved: safeInteger(row.reserved),
      bill:
        row.bill_no && row.channel && row.provider
          ? { billNo: row.bill_no, channel: row.channel, provider: row.provider }
          : undefined,
    };
  }

  async claimRefundSubmission(refundNo: string, at: Date, renumberTo?: string): Promise<RefundRecord | null> {
    const { rows } = await this.db.query<RefundRow>(
      `UPDATE refunds SET submitted_at = $2, refund_no = COALESCE($3, refund_no)
       WHERE refund_no = $1 AND submitted_at IS NULL AND status = 'pending'
       RETURNING ${REFUND_COLUMNS}`,
      [refundNo, at, renumberTo ?? null],
    );
    return rows[0] ? toRefund(rows[0]) : null;
  }

  async markRefundAccepted(refundNo: string, providerRefundId: string | undefined, at: Date): Promise<void> {
    await this.db.query(
      'UPDATE refunds SET accepted_at = COALESCE(accepted_at, $3), gateway_id = COALESCE($2, gateway_id) WHERE refund_no = $1',
      [refundNo, storableText(providerRefundId ?? null), at],
    );
  }

  async unsubmitRefund(refundNo: string, retryAt: Date, note: string): Promise<void> {
    await this.db.query(
      `UPDATE refunds SET submitted_at = NULL, next_check_at = $2, failure = $3
       WHERE refund_no = $1 AND status = 'pending' AND accepted_at IS NULL`,
      [refundNo, retryAt, storableText(note.slice(0, 500))],
    );
  }

  async finishRefund(refundNo: string, finish: RefundFinish, notifyMerchant: boolean): Promise<RefundRecord | null> {
    const { rows } = await this.db.query<RefundRow>(
      `WITH done AS (
         UPDATE refunds SET status = $2, finished_at = $3, failure = CASE WHEN $2 = 'failed' THEN $4 ELSE NULL END,
                            detail = COALESCE($5::jsonb, detail)
         WHERE refund_no = $1 AND status = 'pending'
         RETURNING ${REFUND_COLUMNS}
       ), refunded AS (
         UPDATE orders SET refunded_amount = refunded_amount + done.amount
         FROM done WHERE orders.order_no = done.order_no AND done.kind = 'merchant' AND done.status = 'succeeded'
       ), returned AS (
         UPDATE payments SET disposition = 'refunded'
         FROM done WHERE payments.bill_no = done.bill_no AND payments.disposition = 'refund_due'
           AND done.kind = 'duplicate' AND done.status = 'succeeded'
       ), notice AS (
         INSERT INTO merchant_notifications (order_no, status, refund_no, created_at, next_attempt_at)
         SELECT order_no, status, refund_no, $3, $3 FROM done WHERE $6::boolean
         ON CONFLICT (refund_no) WHERE refund_no IS NOT NULL DO NOTHING
       )
       SELECT * FROM done`,
      [
        refundNo,
        finish.status,
        finish.at,
        storableText(finish.failure?.slice(0, 500) ?? null),
        toJsonb(finish.detail),
        notifyMerchant,
      ],
    );
    return rows[0] ? toRefund(rows[0]) : null;
  }

  async leaseDueRefunds(now: Date, leaseUntil: Date, limit: number): Promise<RefundRecord[]> {
    const { rows } = await this.db.query<RefundRow>(
      `UPDATE refunds SET next_check_at = $2
       WHERE refund_no IN (SELECT refund_no FROM refunds
                           WHERE status = 'pending' AND next_check_at <= $1
                           ORDER BY next_check_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING ${REFUND_COLUMNS}`,
      [now, leaseUntil, limit],
    );
    return rows.map(toRefund);
  }
}
