import type { AppError } from './errors';
import type { Fen } from './money';
import type { BillOutcome } from './order-status';

/**
 * The one contract every payment provider implements (the aggregate gateway of seed 001, WeChat
 * Pay APIv3, later Douyin's systems). The domain speaks only this; each provider is one adapter
 * in `server/adapters/payments/<provider>/`. Our `bill_no` is the provider's merchant order
 * number (`bill_no` at the gateway, `out_trade_no` at WeChat Pay); our `refund_no` its merchant
 * refund number (`refund_no`, `out_refund_no`).
 */

/**
 * Who a bill was opened at. Recorded on every bill, so a configuration change never strands one.
 * `douyin_guaranteed` is Douyin's 担保支付 (`/api/apps/ecpay/v1/…`), `douyin_trade` its 通用交易系统
 * (`tt.requestOrder`, `/api/trade_basic/v1/…`); payments-beyond.md, "Douyin mini-program payment".
 */
export type PaymentProviderId = 'gateway' | 'wechatpay' | 'douyin_guaranteed' | 'douyin_trade';

/**
 * How the shopper pays (the payment method), named as seed 001 names its channels: `WX_MINI`
 * inside a WeChat mini-program, `BC_WX_WAP` WeChat H5 and `ALI_APP` Alipay (the two legs of
 * Douyin's legacy cashier), and `TT_MINI` Douyin's own checkout inside a Douyin mini-program
 * (担保支付 or 通用交易系统, which offer the payer's ways to pay themselves). A provider opens the
 * methods it lists in `channels`.
 */
export type PaymentChannel = 'WX_MINI' | 'BC_WX_WAP' | 'ALI_APP' | 'TT_MINI';

/** The fields `wx.requestPayment` takes, signed by the provider (MD5/HMAC at the gateway, `RSA` at WeChat Pay). */
export interface WechatRequestPayment {
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: string;
  paySign: string;
}

/**
 * What a Douyin mini-program calls to pay a `TT_MINI` bill (payments-beyond.md, "Douyin
 * mini-program payment"): 担保支付's `tt.pay({service: 5, orderInfo: {order_id, order_token}})`
 * with what its pre-order answered, or 通用交易系统's `tt.requestOrder({data, byteAuthorization})`
 * with the order JSON text and its `SHA256-RSA2048 …` signature.
 */
export type DouyinCheckoutParams =
  | { call: 'pay'; service: 5; orderInfo: { order_id: string; order_token: string } }
  | { call: 'requestOrder'; data: string; byteAuthorization: string };

/** What the shopper's client needs to pay a bill, as the provider gave it. */
export type BillClientParams =
  | { channel: 'WX_MINI'; requestPayment: WechatRequestPayment }
  | { channel: 'BC_WX_WAP'; url: string }
  | { channel: 'ALI_APP'; orderString: string }
  | { channel: 'TT_MINI'; douyin: DouyinCheckoutParams };

export interface OpenBillRequest {
  /** Our merchant order number at the provider (`bill_no`, `out_trade_no`): unique, never reused. */
  billNo: string;
  /** The order it pays, given back by the provider where it can carry it (`optional`, `attach`). */
  orderNo: string;
  channel: PaymentChannel;
  /** Fen, ≥ 1. */
  amount: Fen;
  /** Shown to the payer. */
  title: string;
  /** When the bill stops being payable (the order's deadline). */
  expiresAt: Date;
  /** Whole seconds from now to `expiresAt` (the gateway's `bill_timeout`). */
  timeoutSeconds: number;
  /** The payer's openid under the mini-program's AppID; only `WX_MINI` takes it. */
  openid?: string;
}

/**
 * What became of a request to open a bill. `refused`: the provider answered no; nothing was
 * created. `unknown`: no readable answer (timeout, connection lost, an error page, an answer
 * without the payment fields or one whose signature fails): the bill may exist at the provider
 * without us holding its payment parameters. `error` is what the shopper is answered either way.
 */
export type BillCreation =
  | { outcome: 'created'; bill: { providerId?: string; clientParams: BillClientParams } }
  | { outcome: 'refused'; error: AppError }
  | { outcome: 'unknown'; error: AppError };

/** The provider's answer to our own query about a bill: the truth, unlike anything a message claims. */
export interface ProviderBillState {
  billNo: string;
  /** `paid` when the provider says so; `failed`/`closed` only from its verdict; `unknown` while payable. */
  outcome: BillOutcome;
  /** What was paid (the gateway's `total_fee`, WeChat Pay's `amount.total`), fen. */
  amount: Fen;
  /** The provider's own number for the payment (gateway `trade_no`, WeChat Pay `transaction_id`). */
  tradeNo?: string;
  detail?: unknown;
}

/** What a provider said when asked to close a bill. */
export type BillClosing = 'closed' | 'paid';

export interface CreateRefundRequest {
  /** Our merchant refund number (`refund_no`, `out_refund_no`). */
  refundNo: string;
  billNo: string;
  /** The bill's channel, e.g. `WX_MINI` (how the gateway asks about refunds depends on it). */
  channel: PaymentChannel;
  /** This refund, fen; at most what the bill can still refund. */
  amount: Fen;
  /** What the bill was paid, fen (WeChat Pay checks `amount.total`). */
  billAmount: Fen;
  reason?: string;
  /** The order, given back where the provider can carry it. */
  orderNo: string;
}

/**
 * What became of a refund request. `refused`: the provider answered no (nothing was created;
 * `retryable` when it only asks to wait). `unknown`: no readable answer: the refund may exist, so
 * it is settled by query and never sent again with other parameters (see
 * `PaymentProvider.idempotentRefunds` for whether it is sent again with the same ones). `error`
 * is the failure as the provider's other operations would throw it: GATEWAY_UNAVAILABLE when the
 * provider could not be heard or asked to wait, GATEWAY_ERROR when it refused or answered nothing
 * usable (what the upstream metrics count it as).
 */
export type RefundSubmission =
  | { outcome: 'accepted'; providerId?: string }
  | { outcome: 'refused'; reason: string; retryable: boolean; error: AppError }
  | { outcome: 'unknown'; reason: string; error: AppError };

/** The provider's answer to our query about a refund. */
export type ProviderRefundState =
  { found: false } | { found: true; state: 'pending' | 'succeeded' | 'failed'; reason?: string; detail?: unknown };

/**
 * A notification as it reached us: the exact bytes and the headers (lower-case names) that sign
 * them. A header sent more than once is the list of its values, in the order they came, never
 * joined: a verifier must be able to tell two signatures from one.
 */
export interface ProviderMessage {
  rawBody: string;
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/**
 * A verified provider notification, reduced to the small vocabulary the domain acts on. Only
 * what the provider signed (or encrypted with a key only it and we hold) may be in here.
 */
export type ProviderEvent =
  | {
      type: 'payment.succeeded';
      billNo: string;
      /** The signed amount paid, fen. */
      amount: Fen;
      tradeNo?: string;
      detail: unknown;
    }
  | {
      /**
       * The provider says a bill of ours closed unpaid (Douyin's `CANCEL`). Only acknowledged:
       * what becomes of the bill is what the provider's query says, as for every other bill.
       */
      type: 'payment.closed';
      billNo: string;
      detail: unknown;
    }
  | {
      type: 'refund.succeeded';
      refundNo: string;
      /** Signed, fen. */
      amount: Fen;
      /** The bill the provider says it refunded, where its message names it: it must be the refund's own. */
      billNo?: string;
      /**
       * The provider's own number of the bill it says it refunded (Douyin's `order_id`), where its
       * message names it: it must be a number the refund's bill is known by here (its id from the
       * provider, or the `tradeNo` of its payment).
       */
      billTradeNo?: string;
      detail: unknown;
    }
  | {
      type: 'refund.failed';
      refundNo: string;
      reason: string;
      /** As for `refund.succeeded`. */
      billNo?: string;
      /** As for `refund.succeeded`. */
      billTradeNo?: string;
      detail: unknown;
    }
  | {
      /** Verified, but nothing here can act on it (a kind this checkout never makes, a number that can be none of ours). */
      type: 'not_ours';
      kind: string;
      reference: string;
      amount: Fen;
      /** Why, for the person who reviews it. */
      reason: string;
      detail: unknown;
    };

/**
 * The kind a payment or refund message nothing here can apply is kept under (the unmatched
 * messages' `transaction_type`), the same for every provider so that one query finds them all:
 * the gateway's `transaction_type` words (seed 001 §3.3.1), where the table began, and
 * `REFUND_FAILED` for the failure only other providers send. A message of a kind this checkout
 * never acts on keeps its provider's own name instead (the gateway's `TRANSFER`, WeChat Pay's
 * `event_type`).
 */
export const KEPT_KINDS = {
  'payment.succeeded': 'PAY',
  'payment.closed': 'CLOSED',
  'refund.succeeded': 'REFUND',
  'refund.failed': 'REFUND_FAILED',
} as const satisfies Record<Exclude<ProviderEvent['type'], 'not_ours'>, string>;

/** One payment in a provider's list of a day, for 对账. */
export interface ProviderTransaction {
  billNo: string;
  tradeNo?: string;
  /** Fen. */
  amount: Fen;
  paidAt?: Date;
  /** `refunded` when the provider reports refunds against it. */
  state: 'paid' | 'refunded';
}

/** A payment provider, as the domain uses it. Errors: see each method. */
export interface PaymentProvider {
  readonly id: PaymentProviderId;
  /** The payment methods it opens bills for. */
  readonly channels: ReadonlySet<PaymentChannel>;
  /** Opens a bill. Never throws for an upstream failure: see `BillCreation`. */
  openBill(request: OpenBillRequest): Promise<BillCreation>;
  /**
   * The parameters of an open bill, made fit to hand out again (a second Pay tap), without asking
   * the provider: absent when what was handed out stays good (a prepay id). Douyin's 通用交易系统
   * signs a timestamp and counts the payment window from the client's call, so it signs again
   * with the time left to `expiresAt`. Never rejects: what cannot be signed again comes back as
   * it was.
   */
  reissueClientParams?(params: BillClientParams, expiresAt: Date): Promise<BillClientParams>;
  /**
   * Set where the payer's side makes the provider's order from what was handed out, rather than
   * we at `openBill` (Douyin 通用交易系统: the mini-program's `tt.requestOrder` with our signed
   * `data`). A bill the provider does not know yet may then still be made and paid, so it is never
   * given up for that (it is handed out again instead), and an order past its deadline is not
   * expired until `payableBeyondDeadlineMs` (ms) later: the longest what was handed out before the
   * deadline may still be paid. Unset: the provider's order exists from `openBill` on and ends by
   * the order's deadline.
   */
  readonly payerMadeBills?: { readonly payableBeyondDeadlineMs: number };
  /**
   * How long what `openBill` hands the client stays usable, ms, counted from the bill's creation;
   * absent when it lasts as long as the bill. Past it the parameters are not handed out again: the
   * bill is closed where the provider can close it and a new one opens (WeChat Pay: a `prepay_id`
   * is valid two hours, "JSAPI下单").
   */
  readonly clientParamsValidMs?: number;
  /** What the provider knows about a bill now; null when it has no such bill. Throws AppError GATEWAY_*. */
  queryBill(billNo: string, channel: PaymentChannel): Promise<ProviderBillState | null>;
  /**
   * Closes an unpaid bill so it can no longer be paid; `paid` when it was paid meanwhile (query
   * it). Absent when the provider has no such operation (the gateway's online bills end only at
   * their `bill_timeout`). Throws AppError GATEWAY_* when it cannot be told.
   */
  closeBill?(billNo: string, channel: PaymentChannel): Promise<BillClosing>;
  /**
   * Whether a refund request whose outcome is unknown may be sent again, identically (same refund
   * number, bill and amount), for as long as the provider's query does not know the refund: true
   * when the provider refunds a refund number at most once however often it is asked (WeChat
   * Pay's "申请退款": 同一退款单号多次请求只退一笔, and after a system error or timeout, send again
   * with the same number and parameters). False (the gateway, which does not promise that): such a
   * refund is only asked about, and failed once the provider still has none after the grace.
   */
  readonly idempotentRefunds: boolean;
  /** Asks for part or all of a paid bill back. Never throws for an upstream failure. */
  createRefund(request: CreateRefundRequest): Promise<RefundSubmission>;
  /** What the provider knows about a refund now. Throws AppError GATEWAY_*. */
  queryRefund(refundNo: string, channel: PaymentChannel): Promise<ProviderRefundState>;
  /** Verifies and reads a notification; throws AppError WEBHOOK_* when it is forged, stale or malformed. */
  readNotification(message: ProviderMessage): Promise<ProviderEvent>;
  /** The successful payments of a day (China time, `YYYY-MM-DD`), for 对账. Throws AppError GATEWAY_*. */
  listTransactions(day: string): Promise<ProviderTransaction[]>;
}
