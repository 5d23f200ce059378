import type { Catalog, OrderLine } from './catalog';
import { RecentCache } from './recent-cache';
import { AppError } from './errors';
import { hashRequest, newBillNo, newOrderNo } from './identifiers';
import { canStartPayment, ORDER_STATUS_CODES, OrderStatus, OrderStatusCode } from './order-status';
import type {
  BillClientParams,
  BillRecord,
  CheckoutRepository,
  Clock,
  DouyinCashier,
  DouyinOrderInfo,
  GatewayChannel,
  LeasedOrderCheck,
  OrderRecord,
  PaymentDisposition,
  PaymentGateway,
  WechatRequestPayment,
} from './ports';
import type { Shopper } from './sessions';
import type { Fen } from './money';
import type { CheckoutEvents, Logger } from './observability';

export interface CheckoutSettings {
  /** Where the gateway sends its webhook. */
  notifyUrl: string;
  /** How long a shopper has to pay an order. */
  orderTtlSeconds: number;
  /** Below this much time left, no new payment is started: the shopper could not finish it. */
  minimumPayWindowSeconds: number;
  /** At most one gateway query per order per this interval, across every poller, sweeper and instance. */
  gatewayCheckIntervalMs: number;
  /** How long after opening a bill the webhook counts as late and the gateway is asked. */
  webhookGraceMs: number;
  /**
   * Until a `creating` bill is this old its request may still be waiting for the gateway's
   * answer: paying again answers PAYMENT_IN_PROGRESS without asking the gateway.
   */
  staleCreatingBillMs: number;
  /**
   * A bill whose creation got no readable answer, and that the gateway still does not know this
   * long after the request left, never arrived: the order may then get a new bill. Must be well
   * above the gateway client's timeout, or a request still on its way could be declared lost.
   */
  unconfirmedBillGraceMs: number;
  /** Queue each order's final state for the merchant's notification URL. */
  notifyMerchant: boolean;
  /**
   * How long a status that can still change is answered from memory before a poll refreshes it
   * from the database. The poll that finds it due still gets the remembered answer while the
   * refresh runs (for as long again at most), so pollers never queue behind the database.
   * Changes made by any instance evict it at once through the change feed; this bounds
   * staleness if a change notice is ever lost.
   */
  statusCacheMs: number;
}

export const DEFAULT_CHECKOUT_SETTINGS: Omit<CheckoutSettings, 'notifyUrl'> = {
  orderTtlSeconds: 15 * 60,
  minimumPayWindowSeconds: 60,
  gatewayCheckIntervalMs: 10_000,
  webhookGraceMs: 10_000,
  staleCreatingBillMs: 30_000,
  unconfirmedBillGraceMs: 60_000,
  notifyMerchant: false,
  statusCacheMs: 1000,
};

const STATUS_CACHE_CAPACITY = 100_000;
const MAX_BACKGROUND_CHECKS = 16;
const CREATED_ORDERS_CAPACITY = 10_000;

interface KnownStatus {
  owner: string | null;
  status: OrderStatus;
  refundedAmount: Fen;
  /** From then on, a poll answered from memory also refreshes it from the database. */
  refreshAt: number;
}

export interface OrderView {
  orderNo: string;
  amount: Fen;
  currency: 'CNY';
  status: OrderStatus;
  items: Array<Pick<OrderLine, 'sku' | 'title' | 'quantity'> & { price: Fen; amount: Fen }>;
  expiresAt: string;
}

export interface OrderStatusView {
  orderNo: string;
  status: OrderStatus;
  code: OrderStatusCode;
  /** Fen given back by the merchant's refunds; the order stays `paid` (code 0). */
  refundedAmount: Fen;
}

/** Told when a second payment for an already paid order was recorded, so it can go back. */
export interface SecondPaymentHandler {
  secondPaymentRecorded(billNo: string): void;
}

export interface WeappPayment {
  platform: 'weapp';
  requestPayment: WechatRequestPayment;
}

export interface DouyinPayment {
  platform: 'tt';
  /** 1 opens Douyin's cashier with both legs. */
  service: 1;
  orderInfo: DouyinOrderInfo;
}

export type StartedPayment = WeappPayment | DouyinPayment;

const ACTIVE_BILL_STATUSES = new Set(['creating', 'open']);

export function toOrderView(order: OrderRecord): OrderView {
  return {
    orderNo: order.orderNo,
    amount: order.amount,
    currency: order.currency,
    status: order.status,
    items: order.items.map((line) => ({
      sku: line.sku,
      title: line.title,
      quantity: line.quantity,
      price: line.unitPrice,
      amount: line.amount,
    })),
    expiresAt: order.expiresAt.toISOString(),
  };
}

/**
 * Orders, payment attempts (gateway bills) and the gateway's verdicts. Only a verified
 * webhook or the gateway's own answer to a query ever marks an order paid.
 */
export class CheckoutService {
  /** The hot path of polling clients: answers without the database while nothing changed. */
  private readonly knownStatuses = new RecentCache<KnownStatus>(STATUS_CACHE_CAPACITY);
  /**
   * Orders this instance has just created: the client asks to pay for one at once, and that
   * needs no read. Kept, and forgotten on any change, exactly like a remembered status.
   */
  private readonly createdOrders = new RecentCache<OrderRecord>(CREATED_ORDERS_CAPACITY);
  /** Counts evictions, so a read that raced with a change does not put the old status back. */
  private evictions = 0;
  private readonly backgroundChecks = new Set<Promise<void>>();
  private readonly statusLoads = new Map<string, { evictions: number; order: Promise<OrderRecord | null> }>();

  constructor(
    private readonly repository: CheckoutRepository,
    private readonly gateway: PaymentGateway,
    private readonly douyin: DouyinCashier,
    private readonly catalog: Catalog,
    private readonly clock: Clock,
    private readonly settings: CheckoutSettings,
    private readonly log: Logger,
    private readonly events: CheckoutEvents,
    private readonly secondPayments?: SecondPaymentHandler,
  ) {}

  async createOrder(
    shopper: Shopper,
    items: ReadonlyArray<{ sku: string; quantity: number }>,
    idempotencyKey?: string,
  ): Promise<OrderView> {
    const priced = this.catalog.price(items);
    const requestHash = hashRequest(items);
    if (idempotencyKey) {
      const previous = await this.repository.findOrderByIdempotencyKey(shopper.owner, idempotencyKey);
      if (previous) return this.replay(previous, requestHash);
    }
    const now = this.clock();
    const order: OrderRecord = {
      orderNo: newOrderNo(now),
      owner: shopper.owner,
      status: 'pending',
      amount: priced.amount,
      currency: 'CNY',
      items: priced.lines,
      title: priced.title,
      idempotencyKey,
      requestHash,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.settings.orderTtlSeconds * 1000),
      refundedAmount: 0,
    };
    if (await this.repository.insertOrder(order)) {
      this.events.emit({ type: 'order.created', orderNo: order.orderNo, amount: order.amount });
      this.createdOrders.set(order.orderNo, order, now.getTime() + this.settings.statusCacheMs);
      return toOrderView(order);
    }
    // Lost a race with a concurrent retry carrying the same key: answer with its order.
    const winner = await this.repository.findOrderByIdempotencyKey(shopper.owner, idempotencyKey!);
    if (!winner) throw new Error('order insert conflicted but no order holds the idempotency key');
    return this.replay(winner, requestHash);
  }

  private replay(previous: OrderRecord, requestHash: string): OrderView {
    if (previous.requestHash !== requestHash) {
      throw new AppError(
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was already used for a different order: use a new key for a new order',
        { orderNo: previous.orderNo },
      );
    }
    return toOrderView(previous);
  }

  async getOrder(shopper: Shopper, orderNo: string): Promise<OrderRecord> {
    const order = await this.repository.findOrder(orderNo);
    // Someone else's order answers exactly like a missing one.
    if (!order || order.owner !== shopper.owner) {
      throw new AppError('ORDER_NOT_FOUND', `No order ${orderNo} for this shopper`);
    }
    return order;
  }

  async startPayment(shopper: Shopper, orderNo: string, client: { ip?: string } = {}): Promise<StartedPayment> {
    const now = this.clock();
    const created = this.createdOrders.get(orderNo, now.getTime());
    const order = created && created.owner === shopper.owner ? created : await this.getOrder(shopper, orderNo);
    if (order.status === 'paid') throw new AppError('ORDER_ALREADY_PAID', `Order ${orderNo} is already paid`);
    const secondsLeft = Math.floor((order.expiresAt.getTime() - now.getTime()) / 1000);
    if (!canStartPayment(order.status) || secondsLeft < this.settings.minimumPayWindowSeconds) {
      throw new AppError('ORDER_EXPIRED', `Order ${orderNo} has expired: create a new order`);
    }

    let payment: StartedPayment;
    if (shopper.platform === 'weapp') {
      const bill = await this.openBill(order, shopper, 'WX_MINI', secondsLeft);
      if (bill.channel !== 'WX_MINI') throw new Error('WX_MINI bill without requestPayment');
      payment = { platform: 'weapp', requestPayment: bill.requestPayment };
    } else {
      payment = await this.startDouyinPayment(order, shopper, secondsLeft, client.ip);
    }
    if (order.status !== 'pending') {
      await this.repository.updateOrderStatus(orderNo, 'pending', this.clock(), ['failed', 'closed']);
      this.forgetOrder(orderNo);
    }
    return payment;
  }

  /**
   * Douyin's cashier offers WeChat H5 and Alipay: one gateway bill for each. A leg the gateway
   * refuses is left out of `orderInfo`, so the shopper can still pay with the other.
   */
  private async startDouyinPayment(
    order: OrderRecord,
    shopper: Shopper,
    secondsLeft: number,
    clientIp: string | undefined,
  ): Promise<DouyinPayment> {
    const [wechatLeg, alipayLeg] = await Promise.allSettled([
      this.openBill(order, shopper, 'BC_WX_WAP', secondsLeft),
      this.openBill(order, shopper, 'ALI_APP', secondsLeft),
    ]);
    if (wechatLeg.status === 'rejected' && alipayLeg.status === 'rejected') throw wechatLeg.reason;
    for (const leg of [wechatLeg, alipayLeg]) {
      if (leg.status === 'rejected') {
        this.log.warn('a Douyin payment leg could not be opened; the cashier offers the other', {
          orderNo: order.orderNo,
          error: leg.reason instanceof Error ? leg.reason.message : String(leg.reason),
        });
      }
    }
    const wechat = wechatLeg.status === 'fulfilled' ? wechatLeg.value : undefined;
    const alipay = alipayLeg.status === 'fulfilled' ? alipayLeg.value : undefined;
    const now = this.clock();
    return {
      platform: 'tt',
      service: 1,
      orderInfo: this.douyin.orderInfo({
        orderNo: order.orderNo,
        uid: shopper.openid,
        amount: order.amount,
        subject: order.title,
        body: order.items
          .map((line) => `${line.title}×${line.quantity}`)
          .join('，')
          .slice(0, 128),
        tradeTime: order.createdAt,
        now,
        validSeconds: Math.max(1, Math.floor((order.expiresAt.getTime() - now.getTime()) / 1000)),
        notifyUrl: this.settings.notifyUrl,
        wxUrl: wechat?.channel === 'BC_WX_WAP' ? wechat.url : undefined,
        alipayUrl: alipay?.channel === 'ALI_APP' ? alipay.orderString : undefined,
        clientIp,
      }),
    };
  }

  /**
   * The open bill of this order on this channel: the one the shopper already has (tapping Pay
   * again must not open a second), or a new one with a fresh bill_no. The bill is stored as
   * `creating` before its request leaves, so whatever happens to the request (no answer, a crash)
   * the attempt is on record and is asked about before any other is opened.
   */
  private async openBill(
    order: OrderRecord,
    shopper: Shopper,
    channel: GatewayChannel,
    secondsLeft: number,
  ): Promise<BillClientParams> {
    const attempt = (at: Date): BillRecord => ({
      billNo: newBillNo(at),
      orderNo: order.orderNo,
      channel,
      amount: order.amount,
      status: 'creating',
      payer: shopper.openid,
      createdAt: at,
      updatedAt: at,
    });
    // The usual case, a first attempt, costs one insert; only a conflict looks at what is there.
    let bill = attempt(this.clock());
    if (!(await this.repository.insertBill(bill))) {
      const active = await this.repository.findActiveBill(order.orderNo, channel);
      if (active) {
        const again = await this.resumeBill(active, shopper);
        if (again) return again;
      }
      bill = attempt(this.clock());
      if (!(await this.repository.insertBill(bill))) throw paymentInProgress();
    }

    const creation = await this.gateway.createBill({
      billNo: bill.billNo,
      channel,
      amount: order.amount,
      title: order.title,
      notifyUrl: this.settings.notifyUrl,
      timeoutSeconds: secondsLeft,
      // The openid is WeChat's: only the in-WeChat channel takes it.
      openid: channel === 'WX_MINI' ? shopper.openid : undefined,
      optional: { orderNo: order.orderNo },
    });
    if (creation.outcome === 'created') {
      const { gatewayId, clientParams } = creation.bill;
      await this.repository.updateBill(bill.billNo, { status: 'open', gatewayId, clientParams }, this.clock());
      this.events.emit({ type: 'bill.opened', orderNo: order.orderNo, billNo: bill.billNo, channel });
      return clientParams;
    }
    if (creation.outcome === 'refused') {
      const refusal = { status: 'rejected' as const, error: creation.error.message };
      await this.repository.updateBill(bill.billNo, refusal, this.clock());
      throw creation.error;
    }
    // It stays `creating`: the next attempt and the sweeper ask the gateway about it first.
    await this.repository.updateBill(bill.billNo, { error: creation.error.message }, this.clock());
    this.log.warn('a bill creation got no readable answer; the gateway is asked about it before another opens', {
      orderNo: order.orderNo,
      billNo: bill.billNo,
      error: creation.error.message,
    });
    throw creation.error;
  }

  /**
   * The order already has a bill in flight on this channel and the shopper pays again: what the
   * gateway says about that bill decides. Returns the parameters to hand out again; or undefined
   * when that bill is over (failed, closed, never received, or no longer known to the gateway),
   * so a new one may be opened. Throws ORDER_ALREADY_PAID when the gateway says it was paid, and
   * PAYMENT_IN_PROGRESS while it may still be paid but cannot be handed out.
   *
   * A bill the gateway made whose answer we lost (seed 001 §4.2.1) cannot be handed out and
   * cannot be replaced while it is open: the query (§4.4.1, §4.4.7) gives no payment parameters
   * back (they are signed by the channel, e.g. WeChat's `pay_sign`); its `bill_no` cannot be sent
   * again to get them ("同一订单号不可重复提交", §4.2.1; "不论是否支付成功都不能重复使用", §1.2.2.1); and the
   * manual has no way to close an online bill, which ends only at its `bill_timeout` (the
   * order's deadline). A second bill meanwhile would leave two open at the gateway for one order,
   * so none is opened: the order waits (its bill is watched by the sweeper, and a payment on it
   * counts), and on Douyin the cashier offers the other leg.
   */
  private async resumeBill(active: BillRecord, shopper: Shopper): Promise<BillClientParams | undefined> {
    const age = this.clock().getTime() - active.createdAt.getTime();
    if (active.status === 'creating' && active.error === undefined && age < this.settings.staleCreatingBillMs) {
      throw paymentInProgress();
    }
    const handedOut = active.status === 'open' && active.payer === shopper.openid ? active.clientParams : undefined;
    // Handing out again what the gateway made needs asking at most once per order per interval, with
    // the polls and the sweeper: a shopper tapping Pay over and over must not hammer the gateway.
    if (handedOut && !(await this.claimCheckNow(active.orderNo))) return handedOut;
    let state;
    try {
      state = await this.gateway.queryBill(active.billNo);
    } catch (error) {
      // The gateway cannot be asked now: what the shopper already holds is still the best answer.
      if (handedOut) return handedOut;
      throw error;
    }
    if (!state) {
      if (active.status === 'open') {
        return this.retireBill(active.billNo, 'abandoned', 'the gateway no longer knows this bill');
      }
      if (age < this.settings.unconfirmedBillGraceMs) throw paymentInProgress();
      return this.retireBill(active.billNo, 'rejected', 'the gateway never received this bill');
    }
    if (state.outcome === 'paid') {
      const recorded = await this.recordPayment({
        billNo: active.billNo,
        amount: state.amount,
        source: 'query',
        gatewayTradeNo: state.gatewayTradeNo,
        detail: state.detail,
      });
      if (recorded.disposition === 'amount_mismatch') throw paymentInProgress();
      throw new AppError('ORDER_ALREADY_PAID', `Order ${active.orderNo} is already paid`);
    }
    if (state.outcome === 'failed' || state.outcome === 'closed') return this.retireBill(active.billNo, state.outcome);
    if (handedOut) return handedOut;
    this.log.warn('an open bill whose parameters were lost blocks a new one until the gateway closes it', {
      orderNo: active.orderNo,
      billNo: active.billNo,
    });
    throw new AppError(
      'PAYMENT_IN_PROGRESS',
      "A payment for this order is open at the gateway, but its parameters were lost with the gateway's answer: " +
        'the order can be paid again once the gateway closes it',
    );
  }

  /** Takes the right to ask the gateway about this order now, unless anyone asked within the interval. */
  private claimCheckNow(orderNo: string): Promise<boolean> {
    const now = this.clock();
    const lastCheckBefore = new Date(now.getTime() - this.settings.gatewayCheckIntervalMs);
    return this.repository.claimGatewayCheck(orderNo, now, lastCheckBefore, now);
  }

  /**
   * Ends a bill that is still `creating` or `open`, and only then: a verdict that came meanwhile
   * (a webhook) wins. Returns undefined, so the caller opens a new bill; throws
   * PAYMENT_IN_PROGRESS when something else changed the bill first.
   */
  private async retireBill(
    billNo: string,
    status: 'rejected' | 'abandoned' | 'failed' | 'closed',
    error?: string,
  ): Promise<undefined> {
    const retired = await this.repository.transaction(async (tx) => {
      const locked = await tx.lockBillWithOrder(billNo);
      if (!locked || !ACTIVE_BILL_STATUSES.has(locked.bill.status)) return false;
      await tx.updateBill(billNo, { status, error }, this.clock());
      return true;
    });
    if (!retired) throw paymentInProgress();
    return undefined;
  }

  /**
   * The status the shopper's client polls: from memory while nothing changed, else from the
   * database; never from the gateway. A pending order whose webhook is late makes this instance
   * ask the gateway in the background (at most once per order per interval across instances),
   * so a payment is seen at the next poll without any poll waiting on the gateway.
   */
  async orderStatus(shopper: Shopper, orderNo: string): Promise<OrderStatusView> {
    const now = this.clock().getTime();
    const known = this.knownStatuses.get(orderNo, now);
    if (known && known.owner === shopper.owner) {
      if (now >= known.refreshAt) {
        this.sharedStatusLoad(orderNo, shopper.owner).catch((error: unknown) => {
          this.log.warn('refreshing a remembered status failed; the next poll tries again', {
            orderNo,
            error: error instanceof Error ? error.message : String(error),
          });
        });
      }
      return statusView(orderNo, known.status, known.refundedAmount);
    }
    const order = await this.sharedStatusLoad(orderNo, shopper.owner);
    if (!order || order.owner !== shopper.owner) {
      throw new AppError('ORDER_NOT_FOUND', `No order ${orderNo} for this shopper`);
    }
    return statusView(order.orderNo, order.status, order.refundedAmount);
  }

  /**
   * Polls that need the database together (a remembered status lapsed or is due for a refresh)
   * share one read, unless something changed since that read began.
   */
  private sharedStatusLoad(orderNo: string, requester: string | null): Promise<OrderRecord | null> {
    const loading = this.statusLoads.get(orderNo);
    if (loading && loading.evictions === this.evictions) return loading.order;
    const started = { evictions: this.evictions, order: this.loadStatus(orderNo, requester) };
    this.statusLoads.set(orderNo, started);
    void started.order
      .finally(() => {
        if (this.statusLoads.get(orderNo) === started) this.statusLoads.delete(orderNo);
      })
      .catch(() => undefined);
    return started.order;
  }

  private async loadStatus(orderNo: string, requester: string | null): Promise<OrderRecord | null> {
    const evictionsBefore = this.evictions;
    const order = await this.repository.findOrder(orderNo);
    if (!order) return null;
    // Only the owner's polls may make the server ask the gateway about an order.
    if (order.owner === requester && order.status === 'pending') this.checkInBackground(orderNo);
    if (this.evictions === evictionsBefore) {
      // Paid is final but for refunds, which evict it through the change feed: remembered until
      // then. Anything else is refreshed after statusCacheMs and forgotten after twice that.
      const refreshAt =
        order.status === 'paid' ? Number.POSITIVE_INFINITY : this.clock().getTime() + this.settings.statusCacheMs;
      const until = refreshAt + this.settings.statusCacheMs;
      this.knownStatuses.set(
        orderNo,
        { owner: order.owner, status: order.status, refundedAmount: order.refundedAmount, refreshAt },
        until,
      );
    }
    return order;
  }

  /**
   * Asks the gateway about a pending order without anyone waiting, if no instance did lately.
   * At most MAX_BACKGROUND_CHECKS at once per instance: a hung gateway must not take every
   * connection to it (the sweeper asks about the orders skipped here).
   */
  private checkInBackground(orderNo: string): void {
    if (this.backgroundChecks.size >= MAX_BACKGROUND_CHECKS) return;
    const now = this.clock();
    const task = this.repository
      .claimGatewayCheck(
        orderNo,
        now,
        new Date(now.getTime() - this.settings.gatewayCheckIntervalMs),
        new Date(now.getTime() - this.settings.webhookGraceMs),
      )
      .then((claimed) => (claimed ? this.checkOrder(orderNo) : undefined))
      .catch((error: unknown) => {
        this.log.warn('gateway check failed; the order stays pending until the next check', {
          orderNo,
          error: error instanceof Error ? error.message : String(error),
        });
      });
    this.backgroundChecks.add(task);
    void task.finally(() => this.backgroundChecks.delete(task));
  }

  /** Waits for the gateway checks started in the background (stopping cleanly). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.backgroundChecks]);
  }

  /** An order's status or owner changed (here or on another instance): stop answering it from memory. */
  forgetOrder(orderNo: string): void {
    this.evictions += 1;
    this.knownStatuses.delete(orderNo);
    this.createdOrders.delete(orderNo);
  }

  /** The change feed was interrupted: anything remembered may be stale. */
  forgetAllOrders(): void {
    this.evictions += 1;
    this.knownStatuses.clear();
    this.createdOrders.clear();
  }

  /**
   * Asks the gateway about every bill of a pending order that still awaits a verdict and records
   * what it says exactly as a webhook would; then expires the order if its deadline has passed
   * and the gateway confirmed nothing was paid. The caller holds the right to ask (a lease or a
   * claim), so every instance together asks at most once per order per interval. Throws AppError
   * GATEWAY_* when the gateway cannot answer: the order then stays as it is.
   */
  async checkOrder(orderNo: string): Promise<void> {
    const order = await this.repository.findOrder(orderNo);
    if (!order || order.status !== 'pending') return;
    const billNos = (await this.billsAwaitingVerdict(orderNo)).map((bill) => bill.billNo);
    await this.checkLeasedOrder({ orderNo, status: 'pending', expiresAt: order.expiresAt, billNos });
  }

  /**
   * `checkOrder` for an order the sweeper leased, whose lease already says what it is and which
   * bills await a verdict: no read before the gateway is asked. Every open bill is asked about,
   * so money paid on two of them is found twice (the second is returned). Past the deadline,
   * with nothing paid on them, the bills are closed (the gateway closed them then: their
   * `bill_timeout` is the order's time left) and a pending order expires.
   */
  async checkLeasedOrder(order: LeasedOrderCheck): Promise<void> {
    const { orderNo } = order;
    let paid = false;
    for (const billNo of order.billNos) {
      const state = await this.gateway.queryBill(billNo);
      // No such bill at the gateway: its creation never arrived, so nothing can be paid on it.
      if (!state || state.outcome === 'unknown') continue;
      if (state.outcome === 'paid') {
        await this.recordPayment({
          billNo,
          amount: state.amount,
          source: 'query',
          gatewayTradeNo: state.gatewayTradeNo,
          detail: state.detail,
        });
        paid = true;
        continue;
      }
      await this.recordBillClosed(billNo, state.outcome);
    }
    const now = this.clock();
    if (paid || now.getTime() < order.expiresAt.getTime()) return;
    const expired = await this.repository.transaction(async (tx) => {
      await tx.closeOpenBills(orderNo, now);
      if (order.status !== 'pending') return false;
      const changed = await tx.updateOrderStatus(orderNo, 'expired', now, ['pending', 'failed', 'closed']);
      if (changed && this.settings.notifyMerchant) await tx.enqueueMerchantNotification(orderNo, 'expired', now);
      return changed;
    });
    if (expired) {
      this.events.emit({ type: 'order.expired', orderNo, confirmedByGateway: true });
      this.forgetOrder(orderNo);
    }
  }

  private async billsAwaitingVerdict(orderNo: string): Promise<BillRecord[]> {
    return (await this.repository.listBills(orderNo)).filter((bill) => ACTIVE_BILL_STATUSES.has(bill.status));
  }

  /**
   * Records that the gateway says a bill was paid (its webhook, or its answer to our query),
   * exactly once per bill: a payment with the bill's fee counts once (`applied`, or `refund_due`
   * when another bill already paid the order, which is then returned automatically when that is
   * on); one with another fee is kept once per fee as `amount_mismatch` and never shadows the
   * bill's true payment. Throws AppError WEBHOOK_UNKNOWN_TRANSACTION for a bill we never opened.
   */
  async recordPayment(payment: {
    billNo: string;
    amount: Fen;
    source: 'webhook' | 'query';
    gatewayTradeNo?: string;
    detail: unknown;
  }): Promise<{ duplicate: boolean; disposition?: PaymentDisposition }> {
    const verdict = await this.repository.recordPaidVerdict(
      { ...payment, receivedAt: this.clock() },
      this.settings.notifyMerchant,
    );
    if (!verdict.found) throw new AppError('WEBHOOK_UNKNOWN_TRANSACTION', `No bill ${payment.billNo} here`);
    if (verdict.recorded === null) return { duplicate: true };
    this.events.emit({
      type: 'payment.recorded',
      orderNo: verdict.orderNo,
      billNo: payment.billNo,
      amount: payment.amount,
      billAmount: verdict.billAmount,
      source: payment.source,
      disposition: verdict.recorded,
    });
    if (verdict.recorded === 'refund_due') this.secondPayments?.secondPaymentRecorded(payment.billNo);
    this.forgetOrder(verdict.orderNo);
    return { duplicate: false, disposition: verdict.recorded };
  }

  /**
   * The gateway's answer to our query says a bill failed or closed (a message never can: the
   * gateway sends them only for successes). The order follows unless another attempt is in flight.
   */
  private async recordBillClosed(billNo: string, outcome: 'failed' | 'closed'): Promise<void> {
    const changedOrder = await this.repository.transaction(async (tx) => {
      const locked = await tx.lockBillWithOrder(billNo);
      if (!locked || !ACTIVE_BILL_STATUSES.has(locked.bill.status)) return undefined;
      const { order } = locked;
      const now = this.clock();
      await tx.updateBill(billNo, { status: outcome }, now);
      const others = (await tx.listBills(order.orderNo)).filter(
        (other) => other.billNo !== billNo && ACTIVE_BILL_STATUSES.has(other.status),
      );
      // A stale verdict on an earlier attempt must not overrule the attempt the shopper is in now.
      if (others.length === 0) await tx.updateOrderStatus(order.orderNo, outcome, now, ['pending']);
      return order.orderNo;
    });
    if (changedOrder) this.forgetOrder(changedOrder);
  }
}

function paymentInProgress(): AppError {
  return new AppError('PAYMENT_IN_PROGRESS', 'A payment for this order is being created: retry in a moment');
}

function statusView(orderNo: string, status: OrderStatus, refundedAmount: Fen): OrderStatusView {
  return { orderNo, status, code: ORDER_STATUS_CODES[status], refundedAmount };
}
