import type {
  BillRecord,
  OrderRecord,
  PaidVerdict,
  PaidVerdictResult,
  PaymentDisposition,
  PaymentRecord,
  PaymentWithOrder,
} from '../../domain/ports';
import type { PaymentChannel } from '../../domain/payment-provider';
import type { BillRepository } from '../../domain/repositories';
import { safeInteger, storableText, toJsonb } from './column-values';
import type { Queryable } from './database';
import {
  ORDER_COLUMNS,
  PAYMENT_COLUMNS,
  BILL_COLUMNS,
  toOrder,
  toRefund,
  toBill,
  toPayment,
  type Int8,
  type OrderRow,
  type BillRow,
  type PaymentRow,
  type RefundRow,
} from './rows';

type BillPatch = Partial<Pick<BillRecord, 'status' | 'providerBillId' | 'clientParams' | 'error'>>;

/** One bill's patch, as the batched writer takes it. */
export interface BillUpdate {
  billNo: string;
  patch: BillPatch;
  at: Date;
}

/** Many new bills in one statement; false for each one whose order already has an active bill on its channel. */
export async function insertBills(db: Queryable, bills: readonly BillRecord[]): Promise<boolean[]> {
  const { rows } = await db.query<{ bill_no: string }>(
    `INSERT INTO bills (${BILL_COLUMNS})
     SELECT bill_no, order_no, channel, provider, amount, status, payer, gateway_id, client_params::jsonb, error,
            created_at, updated_at
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],
                 $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[])
       AS b(${BILL_COLUMNS})
     ON CONFLICT (order_no, channel) WHERE status IN ('creating', 'open') DO NOTHING
     RETURNING bill_no`,
    [
      bills.map((bill) => bill.billNo),
      bills.map((bill) => bill.orderNo),
      bills.map((bill) => bill.channel),
      bills.map((bill) => bill.provider),
      bills.map((bill) => bill.amount),
      bills.map((bill) => bill.status),
      bills.map((bill) => bill.payer ?? null),
      bills.map((bill) => storableText(bill.providerBillId ?? null)),
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
export async function updateBills(db: Queryable, updates: readonly BillUpdate[]): Promise<void[]> {
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
      updates.map((update) => storableText(update.patch.providerBillId ?? null)),
      updates.map((update) => toJsonb(update.patch.clientParams)),
      updates.map((update) => storableText(update.patch.error ?? null)),
      updates.map((update) => update.at),
    ],
    { prepareAs: 'update_bills' },
  );
  return updates.map(() => undefined);
}

/** The `bills` and `payments` tables: payment attempts and the verdicts recorded on them. */
export class SqlBillRepository implements BillRepository {
  constructor(
    private readonly db: Queryable,
    /** Outside transactions, bill writes from concurrent requests share statements. */
    private readonly batched?: {
      insertBill(bill: BillRecord): Promise<boolean>;
      updateBill(update: BillUpdate): Promise<void>;
    },
  ) {}

  async closeOpenBills(orderNo: string, at: Date): Promise<void> {
    await this.db.query(
      `UPDATE bills SET status = 'closed', updated_at = $2 WHERE order_no = $1 AND status IN ('creating', 'open')`,
      [orderNo, at],
    );
  }

  async insertBill(bill: BillRecord): Promise<boolean> {
    return this.batched ? this.batched.insertBill(bill) : (await insertBills(this.db, [bill]))[0];
  }

  async findBill(billNo: string): Promise<BillRecord | null> {
    const { rows } = await this.db.query<BillRow>(`SELECT ${BILL_COLUMNS} FROM bills WHERE bill_no = $1`, [billNo], {
      prepareAs: 'find_bill',
    });
    return rows[0] ? toBill(rows[0]) : null;
  }

  async findActiveBill(orderNo: string, channel: PaymentChannel): Promise<BillRecord | null> {
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
        provider: BillRow['provider'];
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
      `SELECT b.bill_no, b.channel, b.provider, b.amount AS bill_amount, b.status AS bill_status, b.payer, b.gateway_id,
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
      provider: row.provider,
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
         WHERE b.bill_no = $1 AND b.provider = $8
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
        storableText(verdict.tradeNo ?? null),
        verdict.receivedAt,
        toJsonb(verdict.detail),
        notifyMerchant,
        verdict.provider,
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
}
