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

export interface GatewayBillState {
  billNo: string;
  paid: boolean;
  amount: Fen;
  channel: string;
  gatewayTradeNo?: string;
}

/** A verified gateway message, reduced to what the domain acts on. */
export interface GatewayEvent {
  transactionType: 'PAY' | 'REFUND' | 'OTHER';
  /** `bill_no` for payments. */
  transactionId: string;
  amount: Fen;
  outcome: BillOutcome;
  channel: string;
  gatewayTradeNo?: string;
  detail: unknown;
}

export interface PaymentGateway {
  /** Throws AppError GATEWAY_UNAVAILABLE (network) or GATEWAY_ERROR (the gateway said no). */
  createBill(request: CreateBillRequest): Promise<CreatedBill>;
  /** What the gateway knows about a bill now; null when it has no such bill. */
  queryBill(billNo: string): Promise<GatewayBillState | null>;
  /** Verifies and parses a webhook body; throws AppError WEBHOOK_* when it is forged or malformed. */
  parseWebhook(rawBody: string): GatewayEvent;
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
}

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
 * already paid by another bill. `amount_mismatch`: the fee differs from the bill; never applied.
 */
export type PaymentDisposition = 'applied' | 'refund_due' | 'amount_mismatch';

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
  status: OrderStatus;
  attempts: number;
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
  | { found: false }
  | { found: true; orderNo: string; billAmount: Fen; recorded: PaymentDisposition | null };

export interface CheckoutRepository {
  insertSession(session: SessionRecord): Promise<void>;
  findSession(tokenHash: string, now: Date): Promise<SessionRecord | null>;
  /** Deletes sessions that expired before `before`; returns how many. */
  deleteExpiredSessions(before: Date): Promise<number>;

  /** Inserts unless (owner, idempotencyKey) exists; returns false on that conflict. */
  insertOrder(order: OrderRecord): Promise<boolean>;
  findOrderByIdempotencyKey(owner: string, idempotencyKey: string): Promise<OrderRecord | null>;
  findOrder(orderNo: string, options?: { forUpdate?: boolean }): Promise<OrderRecord | null>;
  updateOrderStatus(orderNo: string, to: OrderStatus, at: Date, onlyFrom: OrderStatus[]): Promise<boolean>;
  /** Atomically takes the right to ask the gateway about this order; false if taken within the interval. */
  claimGatewayCheck(orderNo: string, now: Date, lastCheckBefore: Date, openBillBefore: Date): Promise<boolean>;

  /** Inserts a `creating` bill unless the order already has an active bill on that channel. */
  insertBill(bill: BillRecord): Promise<boolean>;
  findActiveBill(orderNo: string, channel: GatewayChannel): Promise<BillRecord | null>;
  listBills(orderNo: string): Promise<BillRecord[]>;
  updateBill(
    billNo: string,
    patch: Partial<Pick<BillRecord, 'status' | 'gatewayId' | 'clientParams' | 'error'>>,
    at: Date,
  ): Promise<void>;

  /** Locks a bill and its order for the rest of the transaction: one verdict at a time per bill. */
  lockBillWithOrder(billNo: string): Promise<{ bill: BillRecord; order: OrderRecord } | null>;
  /**
   * Records that the gateway says this bill was paid, in one atomic statement: locks the bill and
   * its order, classifies the payment (`amount_mismatch` when the fee differs from the bill,
   * `refund_due` when the order is already paid, `applied` otherwise), inserts it unless this
   * bill already has one, marks the bill paid (unless mismatched) and the order paid (when
   * applied), and queues the merchant's notification when asked. One round trip, because this
   * is the path every webhook storm takes.
   */
  recordPaidVerdict(verdict: PaidVerdict, notifyMerchant: boolean): Promise<PaidVerdictResult>;
  listPayments(orderNo: string): Promise<PaymentRecord[]>;

  insertCheckoutToken(token: CheckoutTokenRecord): Promise<void>;
  findCheckoutToken(tokenHash: string, options?: { forUpdate?: boolean }): Promise<CheckoutTokenRecord | null>;
  markCheckoutTokenClaimed(tokenHash: string, owner: string, at: Date): Promise<void>;
  /** Gives an unowned order to its first claimant; false when it already has an owner. */
  assignOrderOwner(orderNo: string, owner: string): Promise<boolean>;

  /** Records that the merchant must hear of this final state (once per order and state). */
  enqueueMerchantNotification(orderNo: string, status: OrderStatus, at: Date): Promise<void>;
  /** Leases up to `limit` due notifications until `leaseUntil`, so no other instance sends them meanwhile. */
  leaseDueMerchantNotifications(now: Date, leaseUntil: Date, limit: number): Promise<MerchantNotificationRecord[]>;
  markMerchantNotificationDelivered(id: number, at: Date): Promise<void>;
  rescheduleMerchantNotification(id: number, nextAttemptAt: Date, error: string): Promise<void>;

  transaction<T>(work: (repository: CheckoutRepository) => Promise<T>): Promise<T>;
}
