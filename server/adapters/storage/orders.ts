import type { PaymentChannel, PaymentProviderId } from '../../domain/payment-provider';
import type { LeasedOrderCheck, OrderRecord } from '../../domain/ports';
import type { OrderStatus } from '../../domain/order-status';
import type { OrderRepository } from '../../domain/repositories';
import { toJsonb } from './column-values';
import type { Queryable } from './database';
import { ORDER_COLUMNS, toOrder, type OrderRow } from './rows';

/** Many new orders in one statement; true for each one inserted, false where its idempotency key was taken. */
export async function insertOrders(db: Queryable, orders: readonly OrderRecord[]): Promise<boolean[]> {
  const { rows } = await db.query<{ order_no: string }>(
    `INSERT INTO orders (order_no, owner, status, amount, currency, items, title, idempotency_key, request_hash,
                         created_at, expires_at, status_changed_at, app_user_id, attach)
     SELECT order_no, owner, status, amount, currency, items::jsonb, title, idempotency_key, request_hash,
            created_at, expires_at, created_at, app_user_id, attach::jsonb
     FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
                 $9::text[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::text[])
       AS o(order_no, owner, status, amount, currency, items, title, idempotency_key, request_hash,
            created_at, expires_at, app_user_id, attach)
     ON CONFLICT (owner, idempotency_key) DO NOTHING
     RETURNING order_no`,
    [
      orders.map((order) => order.orderNo),
      orders.map((order) => order.owner),
      orders.map((order) => order.status),
      orders.map((order) => order.amount),
      orders.map((order) => order.currency),
      orders.map((order) => toJsonb(order.items)),
      orders.map((order) => order.title),
      orders.map((order) => order.idempotencyKey ?? null),
      orders.map((order) => order.requestHash ?? null),
      orders.map((order) => order.createdAt),
      orders.map((order) => order.expiresAt),
      orders.map((order) => order.appUserId ?? null),
      orders.map((order) => toJsonb(order.attach)),
    ],
    { prepareAs: 'insert_orders' },
  );
  const inserted = new Set(rows.map((row) => row.order_no));
  return orders.map((order) => inserted.has(order.orderNo));
}

/**
 * Which orders a sweeper lease takes ($2: last check before, $3: bill open since before, $4:
 * limit). Pending orders come in the order an index serves; paid ones are found through their
 * open bills (few), not through the paid orders (all of history).
 */
const LEASE_SELECTIONS: Record<LeasedOrderCheck['status'], string> = {
  pending: `SELECT o.order_no FROM orders o
            WHERE o.status = 'pending'
              AND (o.gateway_checked_at IS NULL OR o.gateway_checked_at <= $2)
              AND EXISTS (SELECT 1 FROM bills b
                          WHERE b.order_no = o.order_no AND b.status IN ('creating', 'open') AND b.updated_at <= $3)
            ORDER BY o.gateway_checked_at NULLS FIRST, o.expires_at
            LIMIT $4
            FOR UPDATE SKIP LOCKED`,
  paid: `SELECT o.order_no FROM orders o
         WHERE o.status = 'paid'
           AND (o.gateway_checked_at IS NULL OR o.gateway_checked_at <= $2)
           AND o.order_no IN (SELECT b.order_no FROM bills b
                              WHERE b.status IN ('creating', 'open') AND b.updated_at <= $3)
         LIMIT $4
         FOR UPDATE SKIP LOCKED`,
};

/** Takes the right to ask the providers about the selected orders ($1: now), with their open bills and their providers. */
async function leaseChecks(
  db: Queryable,
  status: LeasedOrderCheck['status'],
  params: [Date, Date, Date, number],
): Promise<LeasedOrderCheck[]> {
  const { rows } = await db.query<{
    order_no: string;
    expires_at: Date;
    bill_nos: string[] | null;
    providers: PaymentProviderId[] | null;
    channels: PaymentChannel[] | null;
  }>(
    `WITH leased AS (
       UPDATE orders SET gateway_checked_at = $1
       WHERE order_no IN (${LEASE_SELECTIONS[status]})
       RETURNING order_no, expires_at
     )
     SELECT l.order_no, l.expires_at,
            array_agg(b.bill_no ORDER BY b.created_at, b.bill_no) FILTER (WHERE b.bill_no IS NOT NULL) AS bill_nos,
            array_agg(b.provider ORDER BY b.created_at, b.bill_no) FILTER (WHERE b.bill_no IS NOT NULL) AS providers,
            array_agg(b.channel ORDER BY b.created_at, b.bill_no) FILTER (WHERE b.bill_no IS NOT NULL) AS channels
     FROM leased l
     LEFT JOIN bills b ON b.order_no = l.order_no AND b.status IN ('creating', 'open')
     GROUP BY l.order_no, l.expires_at`,
    params,
    { prepareAs: `lease_${status}_orders_to_check` },
  );
  return rows.map((row) => ({
    orderNo: row.order_no,
    status,
    expiresAt: row.expires_at,
    bills: (row.bill_nos ?? []).map((billNo, index) => ({
      billNo,
      provider: row.providers![index],
      channel: row.channels![index],
    })),
  }));
}

/** The `orders` table, with the sweeper's leases and the provider-check claims kept on it. */
export class SqlOrderRepository implements OrderRepository {
  constructor(
    private readonly db: Queryable,
    /** Outside transactions, new orders from concurrent requests share statements. */
    private readonly batched?: { insertOrder(order: OrderRecord): Promise<boolean> },
  ) {}

  async insertOrder(order: OrderRecord): Promise<boolean> {
    return this.batched ? this.batched.insertOrder(order) : (await insertOrders(this.db, [order]))[0];
  }

  async findOrderByIdempotencyKey(owner: string, idempotencyKey: string): Promise<OrderRecord | null> {
    const { rows } = await this.db.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS} FROM orders WHERE owner = $1 AND idempotency_key = $2`,
      [owner, idempotencyKey],
      { prepareAs: 'find_order_by_idempotency_key' },
    );
    return rows[0] ? toOrder(rows[0]) : null;
  }

  async findOrder(orderNo: string, options: { forUpdate?: boolean } = {}): Promise<OrderRecord | null> {
    const { rows } = await this.db.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS} FROM orders WHERE order_no = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
      [orderNo],
      { prepareAs: options.forUpdate ? 'find_order_for_update' : 'find_order' },
    );
    return rows[0] ? toOrder(rows[0]) : null;
  }

  async updateOrderStatus(orderNo: string, to: OrderStatus, at: Date, onlyFrom: OrderStatus[]): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE orders
       SET status = $2, status_changed_at = $3, paid_at = CASE WHEN $2 = 'paid' THEN $3 ELSE paid_at END
       WHERE order_no = $1 AND status = ANY($4::text[])`,
      [orderNo, to, at, onlyFrom],
      { prepareAs: 'update_order_status' },
    );
    return rowCount === 1;
  }

  async claimGatewayCheck(orderNo: string, now: Date, lastCheckBefore: Date, openBillBefore: Date): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE orders SET gateway_checked_at = $2
       WHERE order_no = $1 AND status = 'pending'
         AND (gateway_checked_at IS NULL OR gateway_checked_at <= $3)
         AND EXISTS (SELECT 1 FROM bills
                     WHERE bills.order_no = $1 AND bills.status IN ('creating', 'open') AND bills.updated_at <= $4)`,
      [orderNo, now, lastCheckBefore, openBillBefore],
      { prepareAs: 'claim_gateway_check' },
    );
    return rowCount === 1;
  }

  async leaseOrdersToCheck(
    now: Date,
    lastCheckBefore: Date,
    openBillBefore: Date,
    limit: number,
  ): Promise<LeasedOrderCheck[]> {
    return leaseChecks(this.db, 'pending', [now, lastCheckBefore, openBillBefore, limit]);
  }

  async leasePaidOrdersWithOpenBills(
    now: Date,
    lastCheckBefore: Date,
    openBillBefore: Date,
    limit: number,
  ): Promise<LeasedOrderCheck[]> {
    return leaseChecks(this.db, 'paid', [now, lastCheckBefore, openBillBefore, limit]);
  }

  async expireUnbilledOrders(now: Date, limit: number, notifyMerchant: boolean): Promise<string[]> {
    const { rows } = await this.db.query<{ order_no: string }>(
      `WITH expired AS (
         UPDATE orders SET status = 'expired', status_changed_at = $1
         WHERE order_no IN (
           SELECT o.order_no FROM orders o
           WHERE o.status IN ('pending', 'failed', 'closed') AND o.expires_at <= $1
             AND NOT EXISTS (SELECT 1 FROM bills b WHERE b.order_no = o.order_no AND b.status IN ('creating', 'open'))
           ORDER BY o.expires_at
           LIMIT $2
           FOR UPDATE SKIP LOCKED)
         AND status IN ('pending', 'failed', 'closed')
         RETURNING order_no
       ), notice AS (
         INSERT INTO merchant_notifications (order_no, status, created_at, next_attempt_at)
         SELECT order_no, 'expired', $1, $1 FROM expired WHERE $3::boolean
         ON CONFLICT (order_no, status) WHERE refund_no IS NULL DO NOTHING
       )
       SELECT order_no FROM expired`,
      [now, limit, notifyMerchant],
    );
    return rows.map((row) => row.order_no);
  }

  async assignOrderOwner(orderNo: string, owner: string): Promise<boolean> {
    const { rowCount } = await this.db.query('UPDATE orders SET owner = $2 WHERE order_no = $1 AND owner IS NULL', [
      orderNo,
      owner,
    ]);
    return rowCount === 1;
  }
}
