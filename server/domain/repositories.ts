import type { OrderStatus } from './order-status';
import type { Fen } from './money';
import type { PaymentChannel, PaymentProviderId } from './payment-provider';
import type {
  BillRecord,
  CheckoutTokenRecord,
  LeasedOrderCheck,
  MerchantNotificationRecord,
  OrderRecord,
  PaidVerdict,
  PaidVerdictResult,
  PaymentDisposition,
  PaymentRecord,
  PaymentWithOrder,
  RefundFinish,
  RefundRecord,
  SessionRecord,
} from './ports';

/**
 * The storage the domain needs, one repository per aggregate (a storage adapter implements them:
 * server/adapters/storage/).
 */

/** Shoppers' sessions (a token's hash, never the token). */
export interface SessionRepository {
  insertSession(session: SessionRecord): Promise<void>;
  findSession(tokenHash: string, now: Date): Promise<SessionRecord | null>;
  /** Deletes one session (log out); false if there was none. */
  deleteSession(tokenHash: string): Promise<boolean>;
  /** Deletes sessions that expired before `before`; returns how many. */
  deleteExpiredSessions(before: Date): Promise<number>;
}

/** Orders: their status, owner, and the right to ask the providers about them (leases and claims). */
export interface OrderRepository {
  /** Inserts unless (owner, idempotencyKey) exists; returns false on that conflict. */
  insertOrder(order: OrderRecord): Promise<boolean>;
  findOrderByIdempotencyKey(owner: string, idempotencyKey: string): Promise<OrderRecord | null>;
  findOrder(orderNo: string, options?: { forUpdate?: boolean }): Promise<OrderRecord | null>;
  updateOrderStatus(orderNo: string, to: OrderStatus, at: Date, onlyFrom: OrderStatus[]): Promise<boolean>;
  /** Atomically takes the right to ask the providers about this order; false if taken within the interval. */
  claimGatewayCheck(orderNo: string, now: Date, lastCheckBefore: Date, openBillBefore: Date): Promise<boolean>;
  /**
   * The sweeper's share of checks: takes the right to ask the providers (as `claimGatewayCheck`)
   * for up to `limit` pending orders with a bill open since before `openBillBefore` and no check
   * since `lastCheckBefore`, skipping rows another instance is taking at the same moment.
   */
  leaseOrdersToCheck(
    now: Date,
    lastCheckBefore: Date,
    openBillBefore: Date,
    limit: number,
  ): Promise<LeasedOrderCheck[]>;
  /**
   * Like `leaseOrdersToCheck`, for paid orders that still have a bill open at a provider (the
   * other leg of a Douyin cashier, say): money paid on it is a second payment to be found.
   */
  leasePaidOrdersWithOpenBills(
    now: Date,
    lastCheckBefore: Date,
    openBillBefore: Date,
    limit: number,
  ): Promise<LeasedOrderCheck[]>;
  /**
   * Expires up to `limit` pending orders past their deadline that have no bill in flight (nothing
   * a provider could still be paying), queueing the merchant's notification when asked.
   */
  expireUnbilledOrders(now: Date, limit: number, notifyMerchant: boolean): Promise<string[]>;
  /** Gives an unowned order to its first claimant; false when it already has an owner. */
  assignOrderOwner(orderNo: string, owner: string): Promise<boolean>;
}

/** Bills (payment attempts at the providers) and the payments the providers' verdicts recorded on them. */
export interface BillRepository {
  /** Marks the order's bills still `creating` or `open` as `closed` (their providers closed them at the deadline). */
  closeOpenBills(orderNo: string, at: Date): Promise<void>;
  /** Inserts a `creating` bill (with its provider) unless the order already has an active bill on that channel. */
  insertBill(bill: BillRecord): Promise<boolean>;
  findBill(billNo: string): Promise<BillRecord | null>;
  findActiveBill(orderNo: string, channel: PaymentChannel): Promise<BillRecord | null>;
  listBills(orderNo: string): Promise<BillRecord[]>;
  updateBill(
    billNo: string,
    patch: Partial<Pick<BillRecord, 'status' | 'providerBillId' | 'clientParams' | 'error'>>,
    at: Date,
  ): Promise<void>;
  /** Locks a bill and its order for the rest of the transaction: one verdict at a time per bill. */
  lockBillWithOrder(billNo: string): Promise<{ bill: BillRecord; order: OrderRecord } | null>;
  /**
   * Records that the bill's provider says it was paid, in one atomic statement: locks the bill
   * (only when it was opened at `verdict.provider`: found false otherwise) and its order, classifies the payment (`amount_mismatch` when the fee differs from the bill,
   * `refund_due` when the order is already paid, `applied` otherwise), inserts it unless this
   * bill already has one, marks the bill paid (unless mismatched) and the order paid (when
   * applied), and queues the merchant's notification when asked. One round trip, because this
   * is the path every webhook storm takes.
   */
  recordPaidVerdict(verdict: PaidVerdict, notifyMerchant: boolean): Promise<PaidVerdictResult>;
  listPayments(orderNo: string): Promise<PaymentRecord[]>;
  /** Payments with this disposition, newest first, with their orders (and automatic refunds). */
  listPaymentsByDisposition(
    disposition: PaymentDisposition,
    limit: number,
    offset: number,
  ): Promise<PaymentWithOrder[]>;
  /** Second payments (`refund_due`) that have no automatic refund yet. */
  listDuplicatesWithoutRefund(limit: number): Promise<PaymentRecord[]>;
}

/** Refunds: the merchant's, and the automatic return of second payments. */
export interface RefundRepository {
  /** Inserts a refund; false when its idempotency key (per order) or its duplicate payment already has one. */
  insertRefund(refund: RefundRecord): Promise<boolean>;
  findRefund(refundNo: string): Promise<RefundRecord | null>;
  findRefundByIdempotencyKey(orderNo: string, idempotencyKey: string): Promise<RefundRecord | null>;
  listRefunds(orderNo: string): Promise<RefundRecord[]>;
  /**
   * Fen of applied payments of the order, and of its merchant refunds that are pending or
   * succeeded; `bill`: the bill of its first applied payment, which refunds go back from.
   */
  refundBalance(orderNo: string): Promise<{
    paid: Fen;
    reserved: Fen;
    bill?: { billNo: string; channel: PaymentChannel; provider: PaymentProviderId };
  }>;
  /**
   * Marks a never-sent refund as being sent now (renumbering it to `refundNo` when given: a
   * `refund_no` must carry the day it is sent). Null when it was already submitted.
   */
  claimRefundSubmission(refundNo: string, at: Date, renumberTo?: string): Promise<RefundRecord | null>;
  markRefundAccepted(refundNo: string, providerRefundId: string | undefined, at: Date): Promise<void>;
  /** A refusal that only asks to wait: the refund counts as never sent and is tried again at `retryAt`. */
  unsubmitRefund(refundNo: string, retryAt: Date, note: string): Promise<void>;
  /**
   * Settles a pending refund once, in one transaction: its status, the order's refunded amount
   * (merchant refunds), the returned payment's disposition (duplicates), and the merchant's
   * notification when asked. Null when it was not pending (already settled).
   */
  finishRefund(refundNo: string, finish: RefundFinish, notifyMerchant: boolean): Promise<RefundRecord | null>;
  /** Leases up to `limit` pending refunds due for a send or a query, until `leaseUntil`. */
  leaseDueRefunds(now: Date, leaseUntil: Date, limit: number): Promise<RefundRecord[]>;
}

/** Verified provider messages nothing here can apply, kept for a person. */
export interface UnmatchedMessageRepository {
  /**
   * Keeps a verified message nothing here can apply, once per (provider, kind, reference,
   * amount): `transactionType` is its kind (`KEPT_KINDS` for a payment or refund, whatever the
   * provider; else the provider's own, the gateway's `transaction_type` or WeChat Pay's
   * `event_type`), `transactionId` the number it names.
   */
  recordUnmatchedMessage(message: {
    provider: PaymentProviderId;
    transactionType: string;
    transactionId: string;
    amount: Fen;
    reason: string;
    receivedAt: Date;
    body: unknown;
  }): Promise<void>;
}

/** The one-time tokens a merchant's app launches the mini-program with. */
export interface CheckoutTokenRepository {
  insertCheckoutToken(token: CheckoutTokenRecord): Promise<void>;
  findCheckoutToken(tokenHash: string, options?: { forUpdate?: boolean }): Promise<CheckoutTokenRecord | null>;
  markCheckoutTokenClaimed(tokenHash: string, owner: string, at: Date): Promise<void>;
}

/** The outbox of notifications to the merchant's URL. */
export interface MerchantNotificationRepository {
  /** Records that the merchant must hear of this final state (once per order and state). */
  enqueueMerchantNotification(orderNo: string, status: OrderStatus, at: Date): Promise<void>;
  /** Leases up to `limit` due notifications until `leaseUntil`, so no other instance sends them meanwhile. */
  leaseDueMerchantNotifications(now: Date, leaseUntil: Date, limit: number): Promise<MerchantNotificationRecord[]>;
  markMerchantNotificationDelivered(id: number, at: Date): Promise<void>;
  rescheduleMerchantNotification(id: number, nextAttemptAt: Date, error: string): Promise<void>;
}

/** Every repository, bound to one database client (a transaction's, or the pool's). */
export interface Repositories {
  sessions: SessionRepository;
  orders: OrderRepository;
  bills: BillRepository;
  refunds: RefundRepository;
  unmatchedMessages: UnmatchedMessageRepository;
  checkoutTokens: CheckoutTokenRepository;
  merchantNotifications: MerchantNotificationRepository;
}

/**
 * The repositories per aggregate, and transactions that span several of them: `transaction` hands
 * `work` the same repositories bound to one client, committed when `work` resolves and rolled back
 * when it throws.
 */
export interface UnitOfWork extends Repositories {
  transaction<T>(work: (tx: Repositories) => Promise<T>): Promise<T>;
  /**
   * Runs reads that must agree with each other (an order, its payments and its refunds) on one
   * snapshot of the database: a read-only REPEATABLE READ transaction, so a verdict or a refund
   * committed between two of them cannot show in one and not the other.
   */
  snapshot<T>(work: (tx: Repositories) => Promise<T>): Promise<T>;
}
