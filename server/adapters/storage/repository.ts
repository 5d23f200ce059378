import type { Backlog } from '../observability/metrics';
import type {
  BillRecord,
  CheckoutRepository,
  CheckoutTokenRecord,
  MerchantNotificationRecord,
  PaidVerdict,
  PaidVerdictResult,
  PaymentDisposition,
  GatewayChannel,
  LeasedOrderCheck,
  OrderRecord,
  PaymentRecord,
  PaymentWithOrder,
  Platform,
  RefundFinish,
  RefundRecord,
  SessionRecord,
} from '../../domain/ports';
import type { OrderStatus } from '../../domain/order-status';
import { fromJsonb, safeInteger, storableKey, storableText, toJsonb } from './column-values';
import type { Database, Queryable } from './database';
import { batchWrites } from './write-batches';

/** An int8 column as the drivers give it: a number, or a bigint beyond exact JavaScript integers. */
type Int8 = number | bigint;

interface OrderRow {
  order_no: string;
  owner: string | null;
  app_user_id: string | null;
  attach: Record<string, unknown> | null;
  status: OrderStatus;
  amount: Int8;
  currency: 'CNY';
  items: OrderRecord['items'];
  title: string;
  idempotency_key: string | null;
  request_hash: string | null;
  created_at: Date;
  expires_at: Date;
  paid_at: Date | null;
  refunded_amount: Int8;
}

interface BillRow {
  bill_no: string;
  order_no: string;
  channel: GatewayChannel;
  amount: Int8;
  status: BillRecord['status'];
  payer: string | null;
  gateway_id: string | null;
  client_params: BillRecord['clientParams'] | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
}

interface PaymentRow {
  bill_no: string;
  order_no: string;
  amount: Int8;
  channel: string;
  source: PaymentRecord['source'];
  disposition: PaymentRecord['disposition'];
  gateway_trade_no: string | null;
  received_at: Date;
  detail: unknown;
}

const ORDER_COLUMNS =
  'order_no, owner, app_user_id, attach, status, amount, currency, items, title, idempotency_key, request_hash, created_at, expires_at, paid_at, refunded_amount';
const PAYMENT_COLUMNS =
  'bill_no, order_no, amount, channel, source, disposition, gateway_trade_no, received_at, detail';
const REFUND_COLUMNS =
  'refund_no, order_no, bill_no, channel, amount, reason, kind, idempotency_key, request_hash, status, submitted_at, accepted_at, gateway_id, failure, created_at, finished_at, next_check_at';
const BILL_COLUMNS =
  'bill_no, order_no, channel, amount, status, payer, gateway_id, client_params, error, created_at, updated_at';

function toOrder(row: OrderRow): OrderRecord {
  return {
    orderNo: row.order_no,
    owner: row.owner,
    appUserId: row.app_user_id ?? undefined,
    attach: fromJsonb<OrderRecord['attach'] | null>(row.attach) ?? undefined,
    status: row.status,
    amount: safeInteger(row.amount),
    currency: row.currency,
    items: fromJsonb(row.items),
    title: row.title,
    idempotencyKey: row.idempotency_key ?? undefined,
    requestHash: row.request_hash ?? undefined,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    paidAt: row.paid_at ?? undefined,
    refundedAmount: safeInteger(row.refunded_amount),
  };
}

interface RefundRow {
  refund_no: string;
  order_no: string;
  bill_no: string;
  channel: string;
  amount: Int8;
  reason: string | null;
  kind: RefundRecord['kind'];
  idempotency_key: string | null;
  request_hash: string | null;
  status: RefundRecord['status'];
  submitted_at: Date | null;
  accepted_at: Date | null;
  gateway_id: string | null;
  failure: string | null;
  created_at: Date;
  finished_at: Date | null;
  next_check_at: Date;
}

function toRefund(row: RefundRow): RefundRecord {
  return {
    refundNo: row.refund_no,
    orderNo: row.order_no,
    billNo: row.bill_no,
    channel: row.channel,
    amount: safeInteger(row.amount),
    reason: row.reason ?? undefined,
    kind: row.kind,
    idempotencyKey: row.idempotency_key ?? undefined,
    requestHash: row.request_hash ?? undefined,
    status: row.status,
    submittedAt: row.submitted_at ?? undefined,
    acceptedAt: row.accepted_at ?? undefined,
    gatewayId: row.gateway_id ?? undefined,
    failure: row.failure ?? undefined,
    createdAt: row.created_at,
    finishedAt: row.finished_at ?? undefined,
    nextCheckAt: row.next_check_at,
  };
}

function toBill(row: BillRow): BillRecord {
  return {
    billNo: row.bill_no,
    orderNo: row.order_no,
    channel: row.channel,
    amount: safeInteger(row.amount),
    status: row.status,
    payer: row.payer ?? undefined,
    gatewayId: row.gateway_id ?? undefined,
    clientParams: fromJsonb<BillRecord['clientParams'] | null>(row.client_params) ?? undefined,
    error: row.error ?? undefined,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toPayment(row: PaymentRow): PaymentRecord {
  return {
    billNo: row.bill_no,
    orderNo: row.order_no,
    amount: safeInteger(row.amount),
    channel: row.channel,
    source: row.source,
    disposition: row.disposition,
    gatewayTradeNo: row.gateway_trade_no ?? undefined,
    receivedAt: row.received_at,
    detail: fromJsonb(row.detail) ?? undefined,
  };
}

type BillPatch = Partial<Pick<BillRecord, 'status' | 'gatewayId' | 'clientParams' | 'error'>>;

interface BillUpdate {
  billNo: string;
  patch: BillPatch;
  at: Date;
}

/** Many new orders in one statement; true for each one inserted, false where its idempotency key was taken. */
async function insertOrders(db: Queryable, orders: readonly OrderRecord[]): Promise<boolean[]> {
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

/** Many new bills in one statement; false for each one whose order already has an active bill on its channel. */
async function insertBills(db: Queryable, bills: readonly BillRecord[]): Promise<boolean[]> {
  const { rows } = await db.query<{ bill_no: string }>(
    `INSERT INTO bills (${BILL_COLUMNS})
     SELECT bill_no, order_no, channel, amount, status, payer, gateway_id, client_params::jsonb, error, created_at, updated_at
     FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
                 $9::text[], $10::timestamptz[], $11::timestamptz[])
       AS b(${BILL_COLUMNS})
     ON CONFLICT (order_no, channel) WHERE status IN ('creating', 'open') DO NOTHING
     RETURNING bill_no`,
    [
      bills.map((bill) => bill.billNo),
      bills.map((bill) => bill.orderNo),
      bills.map((bill) => bill.channel),
      bills.map((bill) => bill.amount),
      bills.map((bill) => bill.status),
      bills.map((bill) => bill.payer ?? null),
      bills.map((bill) => storableText(bill.gatewayId ?? null)),
      bills.map((bill) => toJsonb(bill.clientParams)),
      bills.map((bill) => storableText(bill.error ?? null)),
      bills.map((bill) => bill.createdAt),
      bills.map((bill) => bill.updatedAt),
    ],
    { prepareAs: 'insert_bills' },
  );
  const inserted = new Set(rows.map((row) => row.bill_no));
  return bills.map((bill) => inserted.has(bill.billNo));
}

/** Patches many bills in one statement (fields left out of a patch keep their value). */
async function updateBills(db: Queryable, updates: readonly BillUpdate[]): Promise<void[]> {
  await db.query(
    `UPDATE bills SET
       status = COALESCE(u.status, bills.status),
       gateway_id = COALESCE(u.gateway_id, bills.gateway_id),
       client_params = COALESCE(u.client_params::jsonb, bills.client_params),
       error = COALESCE(u.error, bills.error),
       updated_at = u.updated_at
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
       AS u(bill_no, status, gateway_id, client_params, error, updated_at)
     WHERE bills.bill_no = u.bill_no`,
    [
      updates.map((update) => update.billNo),
      updates.map((update) => update.patch.status ?? null),
      updates.map((update) => storableText(update.patch.gatewayId ?? null)),
      updates.map((update) => toJsonb(update.patch.clientParams)),
      updates.map((update) => storableText(update.patch.error ?? null)),
      updates.map((update) => update.at),
    ],
    { prepareAs: 'update_bills' },
  );
  return updates.map(() => undefined);
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

/** Takes the right to ask the gateway about the selected orders ($1: now), with their open bills. */
async function leaseChecks(
  db: Queryable,
  status: LeasedOrderCheck['status'],
  params: [Date, Date, Date, number],
): Promise<LeasedOrderCheck[]> {
  const { rows } = await db.query<{ order_no: string; expires_at: Date; bill_nos: string[] | null }>(
    `WITH leased AS (
       UPDATE orders SET gateway_checked_at = $1
       WHERE order_no IN (${LEASE_SELECTIONS[status]})
       RETURNING order_no, expires_at
     )
     SELECT l.order_no, l.expires_at,
            array_agg(b.bill_no ORDER BY b.created_at, b.bill_no) FILTER (WHERE b.bill_no IS NOT NULL) AS bill_nos
     FROM leased l
     LEFT JOIN bills b ON b.order_no = l.order_no AND b.status IN ('creating', 'open')
     GROUP BY l.order_no, l.expires_at`,
    params,
    { prepareAs: `lease_${status}_orders_to_check` },
  );
  return rows.map((row) => ({ orderNo: row.order_no, status, expiresAt: row.expires_at, billNos: row.bill_nos ?? [] }));
}

export class SqlCheckoutRepository implements CheckoutRepository {
  constructor(
    private readonly db: Queryable,
    private readonly root: Database,
    /** Outside transactions, the checkout's hot writes from concurrent requests share statements. */
    private readonly batched?: {
      insertOrder(order: OrderRecord): Promise<boolean>;
      insertBill(bill: BillRecord): Promise<boolean>;
      updateBill(update: BillUpdate): Promise<void>;
    },
  ) {}

  static over(db: Database): SqlCheckoutRepository {
    return new SqlCheckoutRepository(db, db, {
      insertOrder: batchWrites({ many: (orders) => insertOrders(db, orders) }),
      insertBill: batchWrites({ many: (bills) => insertBills(db, bills) }),
      updateBill: batchWrites({
        many: (updates) => updateBills(db, updates),
        // Two patches of one bill must apply in order, not in one statement.
        canShare: (updates) => new Set(updates.map((update) => update.billNo)).size === updates.length,
      }),
    });
  }

  transaction<T>(work: (repository: CheckoutRepository) => Promise<T>): Promise<T> {
    return this.root.transaction((tx) => work(new SqlCheckoutRepository(tx, this.root)));
  }

  async insertSession(session: SessionRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO sessions (token_hash, platform, openid, session_key, unionid, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        session.tokenHash,
        session.platform,
        session.openid,
        session.sessionKey,
        session.unionid ?? null,
        session.createdAt,
        session.expiresAt,
      ],
    );
  }

  async findSession(tokenHash: string, now: Date): Promise<SessionRecord | null> {
    const { rows } = await this.db.query<{
      token_hash: string;
      platform: Platform;
      openid: string;
      session_key: string;
      unionid: string | null;
      created_at: Date;
      expires_at: Date;
    }>(
      `SELECT token_hash, platform, openid, session_key, unionid, created_at, expires_at
       FROM sessions WHERE token_hash = $1 AND expires_at > $2`,
      [tokenHash, now],
      { prepareAs: 'find_session' },
    );
    const row = rows[0];
    if (!row) return null;
    return {
      tokenHash: row.token_hash,
      platform: row.platform,
      openid: row.openid,
      sessionKey: row.session_key,
      unionid: row.unionid ?? undefined,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    };
  }

  async deleteSession(tokenHash: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
    return rowCount > 0;
  }

  async deleteExpiredSessions(before: Date): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM sessions WHERE expires_at < $1', [before]);
    return rowCount;
  }

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

  async closeOpenBills(orderNo: string, at: Date): Promise<void> {
    await this.db.query(
      `UPDATE bills SET status = 'closed', updated_at = $2 WHERE order_no = $1 AND status IN ('creating', 'open')`,
      [orderNo, at],
    );
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

  async insertBill(bill: BillRecord): Promise<boolean> {
    return this.batched ? this.batched.insertBill(bill) : (await insertBills(this.db, [bill]))[0];
  }

  async findActiveBill(orderNo: string, channel: GatewayChannel): Promise<BillRecord | null> {
    const { rows } = await this.db.query<BillRow>(
      `SELECT ${BILL_COLUMNS} FROM bills WHERE order_no = $1 AND channel = $2 AND status IN ('creating', 'open')`,
      [orderNo, channel],
      { prepareAs: 'find_active_bill' },
    );
    return rows[0] ? toBill(rows[0]) : null;
  }

  async listBills(orderNo: string): Promise<BillRecord[]> {
    const { rows } = await this.db.query<BillRow>(
      `SELECT ${BILL_COLUMNS} FROM bills WHERE order_no = $1 ORDER BY created_at, bill_no`,
      [orderNo],
      { prepareAs: 'list_bills' },
    );
    return rows.map(toBill);
  }

  async updateBill(billNo: string, patch: BillPatch, at: Date): Promise<void> {
    const update = { billNo, patch, at };
    if (this.batched) await this.batched.updateBill(update);
    else await updateBills(this.db, [update]);
  }

  async lockBillWithOrder(billNo: string): Promise<{ bill: BillRecord; order: OrderRecord } | null> {
    const { rows } = await this.db.query<
      OrderRow & {
        bill_no: string;
        channel: BillRow['channel'];
        bill_amount: Int8;
        bill_status: BillRow['status'];
        payer: string | null;
        gateway_id: string | null;
        client_params: BillRow['client_params'];
        error: string | null;
        bill_created_at: Date;
        bill_updated_at: Date;
      }
    >(
      `SELECT b.bill_no, b.channel, b.amount AS bill_amount, b.status AS bill_status, b.payer, b.gateway_id,
              b.client_params, b.error, b.created_at AS bill_created_at, b.updated_at AS bill_updated_at,
              ${ORDER_COLUMNS.split(', ')
                .map((column) => `o.${column}`)
                .join(', ')}
       FROM bills b JOIN orders o ON o.order_no = b.order_no
       WHERE b.bill_no = $1
       FOR UPDATE OF b, o`,
      [billNo],
    );
    const row = rows[0];
    if (!row) return null;
    const bill = toBill({
      bill_no: row.bill_no,
      order_no: row.order_no,
      channel: row.channel,
      amount: row.bill_amount,
      status: row.bill_status,
      payer: row.payer,
      gateway_id: row.gateway_id,
      client_params: row.client_params,
      error: row.error,
      created_at: row.bill_created_at,
      updated_at: row.bill_updated_at,
    });
    return { bill, order: toOrder(row) };
  }

  async recordPaidVerdict(verdict: PaidVerdict, notifyMerchant: boolean): Promise<PaidVerdictResult> {
    const { rows } = await this.db.query<{
      order_no: string | null;
      bill_amount: Int8 | null;
      disposition: PaymentDisposition | null;
    }>(
      `WITH target AS (
         SELECT b.bill_no, b.order_no, b.amount AS bill_amount, b.channel, o.status AS order_status
         FROM bills b JOIN orders o ON o.order_no = b.order_no
         WHERE b.bill_no = $1
         FOR UPDATE OF b, o
       ), inserted AS (
         INSERT INTO payments (bill_no, order_no, amount, channel, source, disposition, gateway_trade_no, received_at, detail)
         SELECT bill_no, order_no, $2::bigint, channel, $3,
                CASE WHEN $2::bigint <> bill_amount THEN 'amount_mismatch'
                     WHEN order_status = 'paid' THEN 'refund_due'
                     ELSE 'applied' END,
                $4, $5, $6
         FROM target
         -- Either unique index: the bill's counted payment, or this very mismatch, is already there.
         ON CONFLICT DO NOTHING
         RETURNING bill_no, order_no, disposition
       ), bill AS (
         UPDATE bills SET status = 'paid', updated_at = $5
         WHERE bill_no IN (SELECT bill_no FROM inserted WHERE disposition <> 'amount_mismatch')
       ), paid AS (
         UPDATE orders SET status = 'paid', status_changed_at = $5, paid_at = $5
         WHERE status <> 'paid' AND order_no IN (SELECT order_no FROM inserted WHERE disposition = 'applied')
         RETURNING order_no
       ), notice AS (
         INSERT INTO merchant_notifications (order_no, status, created_at, next_attempt_at)
         SELECT order_no, 'paid', $5, $5 FROM paid WHERE $7::boolean
         ON CONFLICT (order_no, status) WHERE refund_no IS NULL DO NOTHING
       )
       SELECT target.order_no, target.bill_amount, inserted.disposition
       FROM (SELECT 1) AS one
       LEFT JOIN target ON true
       LEFT JOIN inserted ON true`,
      [
        verdict.billNo,
        verdict.amount,
        verdict.source,
        storableText(verdict.gatewayTradeNo ?? null),
        verdict.receivedAt,
        toJsonb(verdict.detail),
        notifyMerchant,
      ],
      { prepareAs: 'record_paid_verdict' },
    );
    const row = rows[0];
    if (!row?.order_no || row.bill_amount === null) return { found: false };
    return { found: true, orderNo: row.order_no, billAmount: safeInteger(row.bill_amount), recorded: row.disposition };
  }

  async listPayments(orderNo: string): Promise<PaymentRecord[]> {
    const { rows } = await this.db.query<PaymentRow>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE order_no = $1 ORDER BY received_at, id`,
      [orderNo],
    );
    return rows.map(toPayment);
  }

  async listPaymentsByDisposition(
    disposition: PaymentDisposition,
    limit: number,
    offset: number,
  ): Promise<PaymentWithOrder[]> {
    const { rows } = await this.db.query<{ payment: PaymentRow; ord: OrderRow; refund: RefundRow | null }>(
      `SELECT to_jsonb(p) AS payment, to_jsonb(o) AS ord, to_jsonb(r) AS refund
       FROM payments p
       JOIN orders o ON o.order_no = p.order_no
       LEFT JOIN refunds r ON r.bill_no = p.bill_no AND r.kind = 'duplicate'
       WHERE p.disposition = $1
       ORDER BY p.received_at DESC, p.id DESC
       LIMIT $2 OFFSET $3`,
      [disposition, limit, offset],
    );
    // to_jsonb renders timestamps as text: turn them back into dates.
    const dates = <Row extends object>(row: Row, columns: string[]): Row => {
      const copy: Record<string, unknown> = { ...(row as Record<string, unknown>) };
      for (const column of columns)
        if (typeof copy[column] === 'string') copy[column] = new Date(copy[column] as string);
      return copy as Row;
    };
    return rows.map((row) => ({
      ...toPayment(dates(row.payment, ['received_at'])),
      order: toOrder(dates(row.ord, ['created_at', 'expires_at', 'paid_at'])),
      refund: row.refund
        ? toRefund(dates(row.refund, ['submitted_at', 'accepted_at', 'created_at', 'finished_at', 'next_check_at']))
        : undefined,
    }));
  }

  async listDuplicatesWithoutRefund(limit: number): Promise<PaymentRecord[]> {
    const { rows } = await this.db.query<PaymentRow>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments p
       WHERE p.disposition = 'refund_due'
         AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.bill_no = p.bill_no AND r.kind = 'duplicate')
       ORDER BY p.received_at LIMIT $1`,
      [limit],
    );
    return rows.map(toPayment);
  }

  async insertRefund(refund: RefundRecord): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `INSERT INTO refunds (${REFUND_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
       ON CONFLICT DO NOTHING`,
      [
        refund.refundNo,
        refund.orderNo,
        refund.billNo,
        refund.channel,
        refund.amount,
        refund.reason ?? null,
        refund.kind,
        refund.idempotencyKey ?? null,
        refund.requestHash ?? null,
        refund.status,
        refund.submittedAt ?? null,
        refund.acceptedAt ?? null,
        storableText(refund.gatewayId ?? null),
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

  async refundBalance(orderNo: string): Promise<{ paid: number; reserved: number; billNo?: string; channel?: string }> {
    const { rows } = await this.db.query<{
      paid: Int8;
      reserved: Int8;
      bill_no: string | null;
      channel: string | null;
    }>(
      `WITH applied AS (SELECT id, bill_no, amount FROM payments WHERE order_no = $1 AND disposition = 'applied')
       SELECT (SELECT COALESCE(SUM(amount), 0) FROM applied)::bigint AS paid,
              (SELECT COALESCE(SUM(amount), 0) FROM refunds
                WHERE order_no = $1 AND kind = 'merchant' AND status IN ('pending', 'succeeded'))::bigint AS reserved,
              first.bill_no, bills.channel
       FROM (SELECT 1) AS one
       LEFT JOIN (SELECT bill_no FROM applied ORDER BY id LIMIT 1) AS first ON true
       LEFT JOIN bills ON bills.bill_no = first.bill_no`,
      [orderNo],
    );
    const row = rows[0];
    return {
      paid: safeInteger(row.paid),
      reserved: safeInteger(row.reserved),
      billNo: row.bill_no ?? undefined,
      channel: row.channel ?? undefined,
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

  async markRefundAccepted(refundNo: string, gatewayId: string | undefined, at: Date): Promise<void> {
    await this.db.query(
      'UPDATE refunds SET accepted_at = COALESCE(accepted_at, $3), gateway_id = COALESCE($2, gateway_id) WHERE refund_no = $1',
      [refundNo, storableText(gatewayId ?? null), at],
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

  async recordUnmatchedMessage(message: {
    transactionType: string;
    transactionId: string;
    amount: number;
    reason: string;
    receivedAt: Date;
    body: unknown;
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO unmatched_gateway_messages (transaction_type, transaction_id, amount, reason, received_at, body)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [
        storableKey(message.transactionType),
        storableKey(message.transactionId),
        message.amount,
        storableText(message.reason),
        message.receivedAt,
        toJsonb(message.body),
      ],
    );
  }

  async insertCheckoutToken(token: CheckoutTokenRecord): Promise<void> {
    await this.db.query('INSERT INTO checkout_tokens (token_hash, order_no, expires_at) VALUES ($1, $2, $3)', [
      token.tokenHash,
      token.orderNo,
      token.expiresAt,
    ]);
  }

  async findCheckoutToken(
    tokenHash: string,
    options: { forUpdate?: boolean } = {},
  ): Promise<CheckoutTokenRecord | null> {
    const { rows } = await this.db.query<{
      token_hash: string;
      order_no: string;
      expires_at: Date;
      claimed_by: string | null;
      claimed_at: Date | null;
    }>(
      `SELECT token_hash, order_no, expires_at, claimed_by, claimed_at FROM checkout_tokens
       WHERE token_hash = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
      [tokenHash],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      tokenHash: row.token_hash,
      orderNo: row.order_no,
      expiresAt: row.expires_at,
      claimedBy: row.claimed_by ?? undefined,
      claimedAt: row.claimed_at ?? undefined,
    };
  }

  async markCheckoutTokenClaimed(tokenHash: string, owner: string, at: Date): Promise<void> {
    await this.db.query('UPDATE checkout_tokens SET claimed_by = $2, claimed_at = $3 WHERE token_hash = $1', [
      tokenHash,
      owner,
      at,
    ]);
  }

  async assignOrderOwner(orderNo: string, owner: string): Promise<boolean> {
    const { rowCount } = await this.db.query('UPDATE orders SET owner = $2 WHERE order_no = $1 AND owner IS NULL', [
      orderNo,
      owner,
    ]);
    return rowCount === 1;
  }

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
