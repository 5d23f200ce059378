import type { AppError } from './errors';
import type { BillOutcome, OrderStatus } from './order-status';
import type { OrderLine } from './catalog';
import type { Fen } from './money';

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

/** `WX_MINI` pays inside WeChat; Douyin's cashier uses WeChat H5 (`BC_WX_WAP`) and Alipay (`ALI_APP`). */
export type GatewayChannel = 'WX_MINI' | 'BC_WX_WAP' | 'ALI_APP';

/** The fields `wx.requestPayment` takes, as the gateway signed them. */
export interface WechatRequestPayment {
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: string;
  paySign: string;
}

export interface CreateBillRequest {
  billNo: string;
  channel: GatewayChannel;
  amount: Fen;
  title: string;
  notifyUrl: string;
  timeoutSeconds: number;
  openid?: string;
  optional?: Record<string, string>;
}

/** What the shopper's client needs to pay a bill, as the gateway gave it. */
export type BillClientParams =
  | { channel: 'WX_MINI'; requestPayment: WechatRequestPayment }
  | { channel: 'BC_WX_WAP'; url: string }
  | { channel: 'ALI_APP'; orderString: string };

export interface CreatedBill {
  gatewayId: string;
  clientParams: BillClientParams;
}

/**
 * What became of a request to create a bill. `refused`: the gateway answered no with a result
 * code; nothing was created. `unknown`: no readable answer (timeout, connection lost, an HTTP
 * error page, an answer without the channel's payment fields): the bill may exist at the gateway
 * without us holding its payment parameters. `error` is what the shopper is answered either way.
 */
export type BillCreation =
  | { outcome: 'created'; bill: CreatedBill }
  | { outcome: 'refused'; error: AppError }
  | { outcome: 'unknown'; error: AppError };

/** The gateway's answer to our own query about a bill: the truth, unlike anything a message claims. */
export interface GatewayBillState {
  billNo: string;
  /** `paid` when the gateway says so; `failed`/`closed` only from the channel's verdict it reports. */
  outcome: BillOutcome;
  /** The bill's `total_fee`, fen. */
  amount: Fen;
  channel: string;
  gatewayTradeNo?: string;
  detail?: unknown;
}

/**
 * A verified gateway message, reduced to the small vocabulary the domain acts on. The gateway
 * sends messages only for successes (seed 001 §3.1, §3.4.2), and its signature covers only
 * `transaction_id`, `transaction_type`, `channel_type` and `transaction_fee` (§3.3.1): nothing
 * else in a message may move money or an order.
 */
export type GatewayEvent =
  | {
      type: 'payment.succeeded';
      /** The `bill_no` the gateway claims was paid. */
      billNo: string;
      /** The signed `transaction_fee`, fen. */
      amount: Fen;
      channel: string;
      gatewayTradeNo?: string;
      detail: unknown;
    }
  | {
      type: 'refund.succeeded';
      refundNo: string;
      /** The signed `transaction_fee` (the refund's `refund_fee`), fen. */
      amount: Fen;
      detail: unknown;
    }
  | {
      /**
       * Verified but nothing here can act on it: a kind this checkout never makes (a transfer), or a
       * signed `transaction_id`/`transaction_type` that can be none of ours (e.g. it holds NUL).
       */
      type: 'not_ours';
      transactionType: string;
      transactionId: string;
      amount: Fen;
      /** Why, for the person who reviews it. */
      reason: string;
      detail: unknown;
    };

export interface CreateRefundRequest {
  /** `YYYYMMDD` (the day it is sent, China time) + 3–24 letters/digits (seed 001 §4.3.1). */
  refundNo: string;
  billNo: string;
  /** Fen; at most what the bill can still refund. */
  amount: Fen;
  notifyUrl: string;
  optional?: Record<string, string>;
}

/**
 * What became of a refund request. `refused`: the gateway answered no (nothing was created, the
 * reason is its own; `retryable` when it only asks to wait, e.g. another refund of the bill is in
 * progress). `unknown`: no readable answer (timeout, network, a proxy's error page): the refund
 * may exist, so it is settled by query and never sent again.
 */
export type RefundSubmission =
  | { outcome: 'accepted'; gatewayId?: string }
  | { outcome: 'refused'; reason: string; retryable: boolean }
  | { outcome: 'unknown'; reason: string };

/** The gateway's answer to our query about a refund. */
export type GatewayRefundState =
  { found: false } | { found: true; state: 'pending' | 'succeeded' | 'failed'; reason?: string; detail?: unknown };

export interface PaymentGateway {
  /** Asks the gateway to open a bill. Never throws for an upstream failure: see `BillCreation`. */
  createBill(request: CreateBillRequest): Promise<BillCreation>;
  /** What the gateway knows about a bill now; null when it has no such bill. Throws AppError GATEWAY_*. */
  queryBill(billNo: string): Promise<GatewayBillState | null>;
  /** Verifies and parses a webhook body; throws AppError WEBHOOK_* when it is forged or malformed. */
  parseWebhook(rawBody: string): GatewayEvent;
  /** Asks the gateway to refund part or all of a paid bill. Never throws for an upstream failure. */
  createRefund(request: CreateRefundRequest): Promise<RefundSubmission>;
  /**
   * What the gateway knows about a refund now. `billChannel` (e.g. `WX_MINI`) decides how to ask:
   * channels that send no refund callback have a status query of their own. Throws AppError GATEWAY_*.
   */
  queryRefund(refundNo: string, billChannel: string): Promise<GatewayRefundState>;
}

export interface DouyinOrderInfoRequest {
  orderNo: string;
  uid: string;
  amount: Fen;
  subject: string;
  body: string;
  tradeTime: Date;
  now: Date;
  validSeconds: number;
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
 * died; the gateway is asked about it before the order gets another bill on its channel.
 * `open`: created, with the parameters the shopper pays with. `paid`, `failed`, `closed`: the
 * gateway's verdict. `rejected`: the gateway refused it, or never received it. `abandoned`: the
 * gateway no longer knows it (its parameters are not handed out again).
 */
export type BillStatus = 'creating' | 'open' | 'paid' | 'failed' | 'closed' | 'rejected' | 'abandoned';

export interface BillRecord {
  billNo: string;
  orderNo: string;
  channel: GatewayChannel;
  amount: Fen;
  status: BillStatus;
  payer?: string;
  gatewayId?: string;
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
  channel: string;
  source: 'webhook' | 'query';
  disposition: PaymentDisposition;
  gatewayTradeNo?: string;
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
  /** That bill's gateway channel, e.g. `WX_MINI`. */
  channel: string;
  /** Fen. */
  amount: Fen;
  reason?: string;
  kind: RefundKind;
  idempotencyKey?: string;
  requestHash?: string;
  status: RefundStatus;
  /** Set just before the request leaves for the gateway; never sent again after that. */
  submittedAt?: Date;
  acceptedAt?: Date;
  gatewayId?: string;
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
  gatewayTradeNo?: string;
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

/** A pending order the sweeper took the right to ask about, with what the check needs. */
export interface LeasedOrderCheck {
  orderNo: string;
  /** `paid` orders are leased while a bill of theirs is still open: a second payment may come. */
  status: 'pending' | 'paid';
  expiresAt: Date;
  /** Its bills still awaiting a verdict (`creating` or `open`), oldest first. */
  billNos: string[];
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
