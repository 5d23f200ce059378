import type { MerchantNotificationRecord } from '../../domain/ports';
import type { OrderStatus } from '../../domain/order-status';
import type { MerchantNotificationRepository } from '../../domain/repositories';
import { storableText } from './column-values';
import type { Queryable } from './database';

/** The `merchant_notifications` table: the outbox of notifications to the merchant. */
export class SqlMerchantNotificationRepository implements MerchantNotificationRepository {
  constructor(private readonly db: Queryable) {}

  async enqueueMerchantNotification(orderNo: string, status: OrderStatus, at: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO merchant_notifications (order_no, status, created_at, next_attempt_at) VALUES ($1, $2, $3, $3)
       ON CONFLICT (order_no, status) WHERE refund_no IS NULL DO NOTHING`,
      [orderNo, status, at],
    );
  }

  async leaseDueMerchantNotifications(
    now: Date,
    leaseUntil: Date,
    limit: number,
  ): Promise<MerchantNotificationRecord[]> {
    const { rows } = await this.db.query<{
      id: number;
      order_no: string;
      status: string;
      refund_no: string | null;
      attempts: number;
    }>(
      `UPDATE merchant_notifications SET next_attempt_at = $2
       WHERE id IN (SELECT id FROM merchant_notifications
                    WHERE delivered_at IS NULL AND next_attempt_at <= $1
                    ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING id, order_no, status, refund_no, attempts`,
      [now, leaseUntil, limit],
    );
    return rows.map((row) => ({
      id: row.id,
      orderNo: row.order_no,
      status: row.status,
      refundNo: row.refund_no ?? undefined,
      attempts: row.attempts,
    }));
  }

  async markMerchantNotificationDelivered(id: number, at: Date): Promise<void> {
    await this.db.query(
      'UPDATE merchant_notifications SET delivered_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1',
      [id, at],
    );
  }

  async rescheduleMerchantNotification(id: number, nextAttemptAt: Date, error: string): Promise<void> {
    await this.db.query(
      'UPDATE merchant_notifications SET next_attempt_at = $2, attempts = attempts + 1, last_error = $3 WHERE id = $1',
      [id, nextAttemptAt, storableText(error.slice(0, 500))],
    );
  }
}
