import type { Backlog, BacklogSource } from '../observability/metrics';
import type { Queryable } from './database';

/** The metrics' read of the background work (see `Backlog`). */
export class SqlBacklog implements BacklogSource {
  constructor(private readonly db: Queryable) {}

  /**
   * For the metrics, in one statement: the merchant notifications not yet delivered and when the
   * oldest was queued, and among pending orders with a bill in flight the oldest last gateway check
   * (a bill's last change stands in for an order never asked about). Both read partial indexes.
   */
  async backlog(): Promise<Backlog> {
    const { rows } = await this.db.query<{ depth: number; oldest_outbox: Date | null; oldest_check: Date | null }>(
      `SELECT (SELECT count(*)::int FROM merchant_notifications WHERE delivered_at IS NULL) AS depth,
              (SELECT min(created_at) FROM merchant_notifications WHERE delivered_at IS NULL) AS oldest_outbox,
              (SELECT min(coalesce(o.gateway_checked_at, b.updated_at))
               FROM orders o JOIN bills b ON b.order_no = o.order_no AND b.status IN ('creating', 'open')
               WHERE o.status = 'pending') AS oldest_check`,
    );
    const [row] = rows;
    return { outboxDepth: row.depth, oldestOutboxAt: row.oldest_outbox, oldestCheckAt: row.oldest_check };
  }
}
