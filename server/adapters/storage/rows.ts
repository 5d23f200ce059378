import type { PaymentChannel, PaymentProviderId } from '../../domain/payment-provider';
import type { BillRecord, OrderRecord, PaymentRecord, RefundRecord } from '../../domain/ports';
import type { OrderStatus } from '../../domain/order-status';
import { fromJsonb, safeInteger } from './column-values';

/** Rows as the drivers give them, their column lists, and how they become domain records. */

/** An int8 column as the drivers give it: a number, or a bigint beyond exact JavaScript integers. */
export type Int8 = number | bigint;

/** A row of `orders`. */
export interface OrderRow {
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

/** A row of `bills`. */
export interface BillRow {
  bill_no: string;
  order_no: string;
  channel: PaymentChannel;
  provider: PaymentProviderId;
  amount: Int8;
  status: BillRecord['status'];
  payer: string | null;
  gateway_id: string | null;
  client_params: BillRecord['clientParams'] | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
}

/** A row of `payments`. */
export interface PaymentRow {
  bill_no: string;
  order_no: string;
  amount: Int8;
  channel: PaymentChannel;
  source: PaymentRecord['source'];
  disposition: PaymentRecord['disposition'];
  gateway_trade_no: string | null;
  received_at: Date;
  detail: unknown;
}

/** The columns each table's row type holds, in its order, for SELECT and RETURNING lists. */
export const ORDER_COLUMNS =
  'order_no, owner, app_user_id, attach, status, amount, currency, items, title, idempotency_key, request_hash, created_at, expires_at, paid_at, refunded_amount';
export const PAYMENT_COLUMNS =
  'bill_no, order_no, amount, channel, source, disposition, gateway_trade_no, received_at, detail';
export const REFUND_COLUMNS =
  'refund_no, order_no, bill_no, channel, provider, amount, reason, kind, idempotency_key, request_hash, status, submitted_at, accepted_at, gateway_id, failure, created_at, finished_at, next_check_at';
export const BILL_COLUMNS =
  'bill_no, order_no, channel, provider, amount, status, payer, gateway_id, client_params, error, created_at, updated_at';

/** An `orders` row as the domain's record (int8 checked to be an exact integer, jsonb parsed). */
export function toOrder(row: OrderRow): OrderRecord {
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

/** A row of `refunds`. */
export interface RefundRow {
  refund_no: string;
  order_no: string;
  bill_no: string;
  channel: PaymentChannel;
  provider: PaymentProviderId;
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

/** A `refunds` row as the domain's record. */
export function toRefund(row: RefundRow): RefundRecord {
  return {
    refundNo: row.refund_no,
    orderNo: row.order_no,
    billNo: row.bill_no,
    channel: row.channel,
    provider: row.provider,
    amount: safeInteger(row.amount),
    reason: row.reason ?? undefined,
    kind: row.kind,
    idempotencyKey: row.idempotency_key ?? undefined,
    requestHash: row.request_hash ?? undefined,
    status: row.status,
    submittedAt: row.submitted_at ?? undefined,
    acceptedAt: row.accepted_at ?? undefined,
    providerRefundId: row.gateway_id ?? undefined,
    failure: row.failure ?? undefined,
    createdAt: row.created_at,
    finishedAt: row.finished_at ?? undefined,
    nextCheckAt: row.next_check_at,
  };
}

/** A `bills` row as the domain's record. */
export function toBill(row: BillRow): BillRecord {
  return {
    billNo: row.bill_no,
    orderNo: row.order_no,
    channel: row.channel,
    provider: row.provider,
    amount: safeInteger(row.amount),
    status: row.status,
    payer: row.payer ?? undefined,
    providerBillId: row.gateway_id ?? undefined,
    clientParams: fromJsonb<BillRecord['clientParams'] | null>(row.client_params) ?? undefined,
    error: row.error ?? undefined,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** A `payments` row as the domain's record. */
export function toPayment(row: PaymentRow): PaymentRecord {
  return {
    billNo: row.bill_no,
    orderNo: row.order_no,
    amount: safeInteger(row.amount),
    channel: row.channel,
    source: row.source,
    disposition: row.disposition,
    tradeNo: row.gateway_trade_no ?? undefined,
    receivedAt: row.received_at,
    detail: fromJsonb(row.detail) ?? undefined,
  };
}
