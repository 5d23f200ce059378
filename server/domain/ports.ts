import type { OrderStatus } from './order-status';
import type { OrderLine } from './catalog';
import type { Fen } from './money';
import type { BillClientParams, PaymentChannel, PaymentProviderId } from './payment-provider';

/** The contracts the domain needs from the outside world; adapters implement them. */

export type Clock = () => Date;

export type Platform = 'weapp' | 'tt';

export interface LoginIdentity {
  openid: string;
  /** Stays on the server, always. */
  sessionKey: string;
  unionid?: string;
}

export interface LoginCodes {
  code: string;
  /** Douyin also gives a code for the anonymous (not logged-in) user. */
  anonymousCode?: string;
}

export interface LoginProvider {
  /** Exchanges one-time login codes; throws AppError LOGIN_* / WECHAT_* / DOUYIN_* codes. */
  exchangeCode(codes: LoginCodes): Promise<LoginIdentity>;
}

/**
 * What one `orderInfo` is made of. Every time and identity in it comes from stored data, so
 * every instance, before and after a restart, sends Douyin the same `trade_time`, deadline and
 * `uid` for one order.
 */
export interface DouyinOrderInfoRequest {
  orderNo: string;
  /** The paying shopper's Douyin openid; the cashier adapter derives Douyin's `uid` from it. */
  openid: string;
  amount: Fen;
  subject: string;
  body: string;
  /** The order's creation, as stored: the `trade_time` sent for this order on every call. */
  createdAt: Date;
  /** The order's deadline, as stored: `trade_time + valid_time` lands on it. */
  expiresAt: Date;
  /** This call's time: the `timestamp` field. */
  now: Date;
  notifyUrl: string;
  /** The WeChat H5 leg's payment URL; absent when that leg could not be opened. */
  wxUrl?: string;
  /** The Alipay leg's order string; absent when that leg could not be opened. */
  alipayUrl?: string;
  clientIp?: string;
}

export type DouyinOrderInfo = Record<string, string | number>;

/** Builds and signs the `orderInfo` that `tt.pay` hands to Douyin's cashier. */
export interface DouyinCashier {
  /** Throws AppError ORDER_EXPIRED when the order's deadline is not after `now` (Douyin would refuse it). */
  orderInfo(request: DouyinOrderInfoRequest): DouyinOrderInfo;
}

export interface SessionRecord {
  tokenHash: string;
  platform: Platform;
  openid: string;
  sessionKey: string;
  unionid?: string;
  createdAt: Date;
  expiresAt: Date;
}

export interface OrderRecord {
  orderNo: string;
  /** `platform:openid` of the shopper; null for a merchant's checkout nobody has claimed yet. */
  owner: string | null;
  /** Set on orders a merchant's app created through the merchant API. */
  appUserId?: string;
  attach?: Record<string, unknown>;
  status: OrderStatus;
  amount: Fen;
  currency: 'CNY';
  items: OrderLine[];
  title: string;
  idempotencyKey?: string;
  requestHash?: string;
  createdAt: Date;
  expiresAt: Date;
  paidAt?: Date;
  /** What succeeded merchant refunds gave back of the order's payment, fen. */
  refundedAmount: Fen;
}

/**
 * `creating`: its creation was requested (stored before the request leaves) and not confirmed:
 * the request is in flight, ended without a readable answer (`error` says why), or its server
 * died; its provider is asked about it before the order gets another bill on its channel.
 * `open`: created, with the parameters the shopper pays with. `paid`, `failed`, `closed`: the
 * provider's verdict (or, `closed`, its answer to our close). `rejected`: the provider refused
 * it, or never received it. `abandoned`: the provider no longer knows it (its parameters are not
 * handed out again).
 */
export type BillStatus = 'creating' | 'open' | 'paid' | 'failed' | 'closed' | 'rejected' | 'abandoned';

export interface BillRecord {
  billNo: string;
  orderNo: string;
  channel: PaymentChannel;
  /**
   * The provider it was opened at: everything about this bill (queries, closing, refunds) goes
   * there, whatever the configuration opens new bills at now.
   */
  provider: PaymentProviderId;
  amount: Fen;
  status: BillStatus;
  payer?: string;
  /** The provider's own id of the bill, when it gave one (stored as `gateway_id`). */
  providerBillId?: string;
  clientParams?: BillClientParams;
  error?: string;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * `applied`: the payment that made the order paid. `refund_due`: money for an order that was
 * already paid by another bill, to be returned. `refunded`: such money, returned.
 * `amount_mismatch`: the fee differs from the bill; never applied, kept for a person.
 */
export type PaymentDisposition = 'applied' | 'refund_due' | 'refunded' | 'amount_mismatch';

export interface PaymentRecord {
  billNo: string;
  orderNo: string;
  amount: Fen;
  channel: PaymentChannel;
  source: 'webhook' | 'query';
  disposition: PaymentDisposition;
  /** The provider's number for the payment (gateway `trade_no`, WeChat Pay `transaction_id`; stored as `gateway_trade_no`). */
  tradeNo?: string;
  receivedAt: Date;
  detail?: unknown;
}

export interface CheckoutTokenRecord {
  tokenHash: string;
  orderNo: string;
  expiresAt: Date;
  claimedBy?: string;
  claimedAt?: Date;
}

export interface MerchantNotificationRecord {
  id: number;
  orderNo: string;
  /** The order's final status, or the refund's for a refund notification. */
  status: string;
  /** Set for a `refund.final` notification. */
  refundNo?: string;
  attempts: number;
}

export type RefundStatus = 'pending' | 'succeeded' | 'failed';

/** `merchant`: asked through the merchant API. `duplicate`: the automatic return of a second payment. */
export type RefundKind = 'merchant' | 'duplicate';

export interface RefundRecord {
  refundNo: string;
  orderNo: string;
  /** The paid bill the money goes back from. */
  billNo: string;
  /** That bill's channel, e.g. `WX_MINI`. */
  channel: PaymentChannel;
  /** That bill's provider: the refund is asked for and about there. */
  provider: PaymentProviderId;
  /** Fen. */
  amount: Fen;
  reason?: string;
  kind: RefundKind;
  idempotencyKey?: string;
  requestHash?: string;
  status: RefundStatus;
  /** Set just before the request leaves for the provider; never sent again after that. */
  submittedAt?: Date;
  acceptedAt?: Date;
  /** The provider's own id of the refund, when it gave one (stored as `gateway_id`). */
  providerRefundId?: string;
  failure?: string;
  createdAt: Date;
  finishedAt?: Date;
  /** When a sweeper next sends or asks about it. */
  nextCheckAt: Date;
}

/** A payment and the order it belongs to, for the operators' lists. */
export interface PaymentWithOrder extends PaymentRecord {
  order: OrderRecord;
  /** The automatic refund of a second payment, when one was made. */
  refund?: RefundRecord;
}

export interface PaidVerdict {
  billNo: string;
  amount: Fen;
  source: PaymentRecord['source'];
  /** Only a provider's verdict on its own bills counts: a bill opened elsewhere is not found. */
  provider: PaymentProviderId;
  tradeNo?: string;
  receivedAt: Date;
  detail?: unknown;
}

export type PaidVerdictResult =
  { found: false } | { found: true; orderNo: string; billAmount: Fen; recorded: PaymentDisposition | null };

export interface RefundFinish {
  status: 'succeeded' | 'failed';
  at: Date;
  failure?: string;
  detail?: unknown;
}

/** A bill awaiting a verdict, as much of it as asking its provider needs. */
export interface LeasedBill {
  billNo: string;
  provider: PaymentProviderId;
  channel: PaymentChannel;
}

/** A pending order the sweeper took the right to ask about, with what the check needs. */
export interface LeasedOrderCheck {
  orderNo: string;
  /** `paid` orders are leased while a bill of theirs is still open: a second payment may come. */
  status: 'pending' | 'paid';
  expiresAt: Date;
  /** Its bills still awaiting a verdict (`creating` or `open`), oldest first, with where each was opened. */
  bills: LeasedBill[];
}

/**
 * What remembers recent orders and their statuses between requests (the status read model, fed
 * also by the change feed): the domain tells it of every change it makes, so this instance never
 * answers a stale status from memory.
 */
export interface OrderMemory {
  /** An order this instance has just created: the client asks to pay for it at once, which then needs no read. */
  rememberCreated(order: OrderRecord): void;
  /** That order as created, while remembered and unchanged at `at`; undefined otherwise. */
  recentlyCreated(orderNo: string, at: Date): OrderRecord | undefined;
  /** An order's status or owner changed: stop answering it from memory. */
  forgetOrder(orderNo: string): void;
}
