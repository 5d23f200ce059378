import type {
  BillRecord,
  CheckoutRepository,
  CheckoutTokenRecord,
  MerchantNotificationRecord,
  PaidVerdict,
  PaidVerdictResult,
  PaymentDisposition,
  GatewayChannel,
  OrderRecord,
  PaymentRecord,
  Platform,
  SessionRecord,
} from '../../domain/ports';
import type { OrderStatus } from '../../domain/order-status';
import type { Database, Queryable } from './database';
import { batchWrites } from './write-batches';

interface OrderRow {
  order_no: string;
  owner: string | null;
  app_user_id: string | null;
  attach: Record<string, unknown> | null;
  status: OrderStatus;
  amount: number;
  currency: 'CNY';
  items: OrderRecord['items'];
  title: string;
  idempotency_key: string | null;
  request_hash: string | null;
  created_at: Date;
  expires_at: Date;
  paid_at: Date | null;
}

interface BillRow {
  bill_no: string;
  order_no: string;
  channel: GatewayChannel;
  amount: number;
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
  amount: number;
  channel: string;
  source: PaymentRecord['source'];
  disposition: PaymentRecord['disposition'];
  gateway_trade_no: string | null;
  received_at: Date;
  detail: unknown;
}

const ORDER_COLUMNS =
  'order_no, owner, app_user_id, attach, status, amount, currency, items, title, idempotency_key, request_hash, created_at, expires_at, paid_at';
const BILL_COLUMNS =
  'bill_no, order_no, channel, amount, status, payer, gateway_id, client_params, error, created_at, updated_at';

function toOrder(row: OrderRow): OrderRecord {
  return {
    orderNo: row.order_no,
    owner: row.owner,
    appUserId: row.app_user_id ?? undefined,
    attach: row.attach ?? undefined,
    status: row.status,
    amount: row.amount,
    currency: row.currency,
    items: row.items,
    title: row.title,
    idempotencyKey: row.idempotency_key ?? undefined,
    requestHash: row.request_hash ?? undefined,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    paidAt: row.paid_at ?? undefined,
  };
}

function toBill(row: BillRow): BillRecord {
  return {
    billNo: row.bill_no,
    orderNo: row.order_no,
    channel: row.channel,
    amount: row.amount,
    status: row.status,
    payer: row.payer ?? undefined,
    gatewayId: row.gateway_id ?? undefined,
    clientParams: row.client_params ?? undefined,
    error: row.error ?? undefined,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toPayment(row: PaymentRow): PaymentRecord {
  return {
    billNo: row.bill_no,
    orderNo: row.order_no,
    amount: row.amount,
    channel: row.channel,
    source: row.source,
    disposition: row.disposition,
    gatewayTradeNo: row.gateway_trade_no ?? undefined,
    receivedAt: row.received_at,
    detail: row.detail ?? undefined,
  };
}

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

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
     FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[], $8::text[],
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
      orders.map((order) => json(order.items)),
      orders.map((order) => order.title),
      orders.map((order) => order.idempotencyKey ?? null),
      orders.map((order) => order.requestHash ?? null),
      orders.map((order) => order.createdAt),
      orders.map((order) => order.expiresAt),
      orders.map((order) => order.appUserId ?? null),
      orders.map((order) => json(order.attach)),
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
     FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[], $8::text[],
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
      bills.map((bill) => bill.gatewayId ?? null),
      bills.map((bill) => json(bill.clientParams)),
      bills.map((bill) => bill.error ?? null),
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
      updates.map((update) => update.patch.gatewayId ?? null),
      updates.map((update) => json(update.patch.clientParams)),
      updates.map((update) => update.patch.error ?? null),
      updates.map((update) => update.at),
    ],
    { prepareAs: 'update_bills' },
  );
  return updates.map(() => undefined);
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
        bill_amount: number;
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
              ${ORDER_COLUMNS.split(', ').map((column) => `o.${column}`).join(', ')}
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
      bill_amount: number | null;
      disposition: PaymentDisposition | null;
    }>(
      `WITH target AS (
         SELECT b.bill_no, b.order_no, b.amount AS bill_amount, b.channel, o.status AS order_status
         FROM bills b JOIN orders o ON o.order_no = b.order_no
         WHERE b.bill_no = $1
         FOR UPDATE OF b, o
       ), inserted AS (
         INSERT INTO payments (bill_no, order_no, amount, channel, source, disposition, gateway_trade_no, received_at, detail)
         SELECT bill_no, order_no, $2, channel, $3,
                CASE WHEN $2 <> bill_amount THEN 'amount_mismatch'
                     WHEN order_status = 'paid' THEN 'refund_due'
                     ELSE 'applied' END,
                $4, $5, $6
         FROM target
         ON CONFLICT (bill_no) DO NOTHING
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
         ON CONFLICT (order_no, status) DO NOTHING
       )
       SELECT target.order_no, target.bill_amount, inserted.disposition
       FROM (SELECT 1) AS one
       LEFT JOIN target ON true
       LEFT JOIN inserted ON true`,
      [
        verdict.billNo,
        verdict.amount,
        verdict.source,
        verdict.gatewayTradeNo ?? null,
        verdict.receivedAt,
        json(verdict.detail),
        notifyMerchant,
      ],
      { prepareAs: 'record_paid_verdict' },
    );
    const row = rows[0];
    if (!row?.order_no || row.bill_amount === null) return { found: false };
    return { found: true, orderNo: row.order_no, billAmount: row.bill_amount, recorded: row.disposition };
  }

  async listPayments(orderNo: string): Promise<PaymentRecord[]> {
    const { rows } = await this.db.query<PaymentRow>(
      `SELECT bill_no, order_no, amount, channel, source, disposition, gateway_trade_no, received_at, detail
       FROM payments WHERE order_no = $1 ORDER BY received_at, bill_no`,
      [orderNo],
    );
    return rows.map(toPayment);
  }

  async insertCheckoutToken(token: CheckoutTokenRecord): Promise<void> {
    await this.db.query('INSERT INTO checkout_tokens (token_hash, order_no, expires_at) VALUES ($1, $2, $3)', [
      token.tokenHash,
      token.orderNo,
      token.expiresAt,
    ]);
  }

  async findCheckoutToken(tokenHash: string, options: { forUpdate?: boolean } = {}): Promise<CheckoutTokenRecord | null> {
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
       ON CONFLICT (order_no, status) DO NOTHING`,
      [orderNo, status, at],
    );
  }

  async leaseDueMerchantNotifications(now: Date, leaseUntil: Date, limit: number): Promise<MerchantNotificationRecord[]> {
    const { rows } = await this.db.query<{ id: number; order_no: string; status: OrderStatus; attempts: number }>(
      `UPDATE merchant_notifications SET next_attempt_at = $2
       WHERE id IN (SELECT id FROM merchant_notifications
                    WHERE delivered_at IS NULL AND next_attempt_at <= $1
                    ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING id, order_no, status, attempts`,
      [now, leaseUntil, limit],
    );
    return rows.map((row) => ({ id: row.id, orderNo: row.order_no, status: row.status, attempts: row.attempts }));
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
      [id, nextAttemptAt, error.slice(0, 500)],
    );
  }
}
