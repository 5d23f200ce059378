import type { Catalog, OrderLine } from './catalog';
import { RecentCache } from './recent-cache';
import { AppError } from './errors';
import { hashRequest, newBillNo, newOrderNo } from './identifiers';
import { BillOutcome, canStartPayment, ORDER_STATUS_CODES, OrderStatus, OrderStatusCode } from './order-status';
import type {
  BillClientParams,
  BillRecord,
  CheckoutRepository,
  Clock,
  DouyinCashier,
  DouyinOrderInfo,
  GatewayChannel,
  OrderRecord,
  PaymentDisposition,
  PaymentGateway,
  WechatRequestPayment,
} from './ports';
import type { Shopper } from './sessions';
import type { Fen } from './money';

export interface CheckoutSettings {
  /** Where the gateway sends its webhook. */
  notifyUrl: string;
  /** How long a shopper has to pay an order. */
  orderTtlSeconds: number;
  /** Below this much time left, no new payment is started: the shopper could not finish it. */
  minimumPayWindowSeconds: number;
  /** At most one gateway query per order per this interval, across every poller and instance. */
  gatewayCheckIntervalMs: number;
  /** How long after opening a bill the webhook counts as late and the gateway is asked. */
  webhookGraceMs: number;
  /** A bill stuck in `creating` this long belongs to a request that died mid-way. */
  staleCreatingBillMs: number;
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
  gatewayCheckIntervalMs: 3000,
  webhookGraceMs: 3000,
  staleCreatingBillMs: 30_000,
  notifyMerchant: false,
  statusCacheMs: 1000,
};

const STATUS_CACHE_CAPACITY = 100_000;
const CREATED_ORDERS_CAPACITY = 10_000;
const RECORDED_WEBHOOK_MEMORY_MS = 60 * 60 * 1000;

interface KnownStatus {
  owner: string | null;
  status: OrderStatus;
  expiresAt: number;
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

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

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
  /** Webhook messages durably recorded by this instance lately (their repeats are answered at once). */
  private readonly recordedWebhooks = new RecentCache<true>(STATUS_CACHE_CAPACITY);
  private readonly webhooksInFlight = new Map<string, Promise<unknown>>();
  private readonly statusLoads = new Map<string, { evictions: number; order: Promise<OrderRecord | null> }>();

  constructor(
    private readonly repository: CheckoutRepository,
    private readonly gateway: PaymentGateway,
    private readonly douyin: DouyinCashier,
    private readonly catalog: Catalog,
    private readonly clock: Clock,
    private readonly settings: CheckoutSettings,
    private readonly log: Logger,
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
    };
    if (await this.repository.insertOrder(order)) {
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
        body: order.items.map((line) => `${line.title}×${line.quantity}`).join('，').slice(0, 128),
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
   * again must not open a second), or a new one with a fresh bill_no.
   */
  private async openBill(
    order: OrderRecord,
    shopper: Shopper,
    channel: GatewayChannel,
    secondsLeft: number,
  ): Promise<BillClientParams> {
    const now = this.clock();
    const bill: BillRecord = {
      billNo: newBillNo(now),
      orderNo: order.orderNo,
      channel,
      amount: order.amount,
      status: 'creating',
      payer: shopper.openid,
      createdAt: now,
      updatedAt: now,
    };
    // The usual case, a first attempt, costs one insert; only a conflict looks at what is there.
    if (!(await this.repository.insertBill(bill))) {
      const active = await this.repository.findActiveBill(order.orderNo, channel);
      if (active) {
        if (active.status === 'open' && active.payer === shopper.openid && active.clientParams) {
          return active.clientParams;
        }
        if (now.getTime() - active.createdAt.getTime() < this.settings.staleCreatingBillMs) {
          throw new AppError('PAYMENT_IN_PROGRESS', 'A payment for this order is being created: retry in a moment');
        }
        // Its creator died before handing the parameters to the shopper. A webhook for it is still honoured.
        await this.repository.updateBill(active.billNo, { status: 'abandoned' }, now);
      }
      if (!(await this.repository.insertBill(bill))) {
        throw new AppError('PAYMENT_IN_PROGRESS', 'A payment for this order is being created: retry in a moment');
      }
    }

    let created;
    try {
      created = await this.gateway.createBill({
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
    } catch (error) {
      await this.repository.updateBill(
        bill.billNo,
        { status: 'rejected', error: error instanceof Error ? error.message : String(error) },
        this.clock(),
      );
      throw error;
    }
    await this.repository.updateBill(
      bill.billNo,
      { status: 'open', gatewayId: created.gatewayId, clientParams: created.clientParams },
      this.clock(),
    );
    return created.clientParams;
  }

  async orderStatus(shopper: Shopper, orderNo: string): Promise<OrderStatusView> {
    const now = this.clock().getTime();
    const known = this.knownStatuses.get(orderNo, now);
    // A pending order past its deadline goes to the database: it may have to expire.
    if (known && known.owner === shopper.owner && (known.status !== 'pending' || now < known.expiresAt)) {
      if (now >= known.refreshAt) {
        this.sharedStatusLoad(orderNo, shopper.owner).catch((error: unknown) => {
          this.log.warn('refreshing a remembered status failed; the next poll tries again', {
            orderNo,
            error: error instanceof Error ? error.message : String(error),
          });
        });
      }
      return { orderNo, status: known.status, code: ORDER_STATUS_CODES[known.status] };
    }
    const order = await this.sharedStatusLoad(orderNo, shopper.owner);
    if (!order || order.owner !== shopper.owner) {
      throw new AppError('ORDER_NOT_FOUND', `No order ${orderNo} for this shopper`);
    }
    return { orderNo: order.orderNo, status: order.status, code: ORDER_STATUS_CODES[order.status] };
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
    let order = await this.repository.findOrder(orderNo);
    if (!order) return null;
    // Only the owner's polls may make the server ask the gateway about an order.
    if (order.owner === requester && order.status === 'pending') order = await this.refreshPending(order);
    if (this.evictions === evictionsBefore) {
      // Paid is final: remembered for good. Anything else is refreshed after statusCacheMs and
      // forgotten after twice that if no poll came to refresh it.
      const refreshAt = order.status === 'paid' ? Number.POSITIVE_INFINITY : this.clock().getTime() + this.settings.statusCacheMs;
      const until = refreshAt + this.settings.statusCacheMs;
      this.knownStatuses.set(
        orderNo,
        { owner: order.owner, status: order.status, expiresAt: order.expiresAt.getTime(), refreshAt },
        until,
      );
    }
    return order;
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
   * A pending order may be paid already with its webhook still on the way, or past its
   * deadline. Ask the gateway (rate-limited per order through the database, so any number of
   * pollers on any number of instances make one query per interval), then expire the order
   * only once the gateway has confirmed nothing was paid.
   */
  private async refreshPending(order: OrderRecord): Promise<OrderRecord> {
    const now = this.clock();
    const claimed = await this.repository.claimGatewayCheck(
      order.orderNo,
      now,
      new Date(now.getTime() - this.settings.gatewayCheckIntervalMs),
      new Date(now.getTime() - this.settings.webhookGraceMs),
    );
    let awaiting: BillRecord[] | undefined;
    let gatewayConfirmedUnpaid = false;
    if (claimed) {
      try {
        awaiting = await this.billsAwaitingVerdict(order.orderNo);
        if (await this.reconcileWithGateway(awaiting)) return this.reload(order.orderNo);
        gatewayConfirmedUnpaid = true;
      } catch (error) {
        this.log.warn('gateway query failed; the order stays pending', {
          orderNo: order.orderNo,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    if (now.getTime() < order.expiresAt.getTime()) return order;

    awaiting ??= await this.billsAwaitingVerdict(order.orderNo);
    if (awaiting.length > 0 && !gatewayConfirmedUnpaid) return order;
    await this.repository.transaction(async (tx) => {
      if ((await tx.updateOrderStatus(order.orderNo, 'expired', now, ['pending'])) && this.settings.notifyMerchant) {
        await tx.enqueueMerchantNotification(order.orderNo, 'expired', now);
      }
    });
    this.forgetOrder(order.orderNo);
    return this.reload(order.orderNo);
  }

  private async reload(orderNo: string): Promise<OrderRecord> {
    const order = await this.repository.findOrder(orderNo);
    if (!order) throw new Error(`order ${orderNo} vanished`);
    return order;
  }

  private async billsAwaitingVerdict(orderNo: string): Promise<BillRecord[]> {
    return (await this.repository.listBills(orderNo)).filter((bill) => ACTIVE_BILL_STATUSES.has(bill.status));
  }

  /** Asks the gateway about each bill; true when one turned out paid. */
  private async reconcileWithGateway(bills: BillRecord[]): Promise<boolean> {
    let paid = false;
    for (const bill of bills) {
      const state = await this.gateway.queryBill(bill.billNo);
      if (state?.paid) {
        await this.recordOutcome(bill.billNo, 'paid', state.amount, 'query', state.gatewayTradeNo, state);
        paid = true;
      }
    }
    return paid;
  }

  /** Handles one webhook body. Resolves once the verdict is durably stored (or was already). */
  async receiveWebhook(rawBody: string): Promise<{ duplicate: boolean }> {
    const event = this.gateway.parseWebhook(rawBody);
    if (event.transactionType !== 'PAY') {
      throw new AppError('WEBHOOK_UNKNOWN_TRANSACTION', `No ${event.transactionType} ${event.transactionId} here`);
    }
    // Copies of one message arrive together (the gateway's retries, the channel's own):
    // one is recorded, the others wait for it and need no database work of their own.
    const key = `${event.transactionId}|${event.outcome}|${event.amount}`;
    if (this.recordedWebhooks.get(key, this.clock().getTime())) return { duplicate: true };
    const inFlight = this.webhooksInFlight.get(key);
    if (inFlight) {
      await inFlight;
      return { duplicate: true };
    }
    const recording = this.recordOutcome(
      event.transactionId,
      event.outcome,
      event.amount,
      'webhook',
      event.gatewayTradeNo,
      event.detail,
    );
    this.webhooksInFlight.set(key, recording);
    try {
      const result = await recording;
      this.recordedWebhooks.set(key, true, this.clock().getTime() + RECORDED_WEBHOOK_MEMORY_MS);
      return result;
    } finally {
      this.webhooksInFlight.delete(key);
    }
  }

  /**
   * Records the gateway's verdict on one bill exactly once. The bill row is locked first, so
   * concurrent copies of one message queue up and all but the first find the payment recorded.
   */
  private async recordOutcome(
    billNo: string,
    outcome: BillOutcome,
    amount: Fen,
    source: 'webhook' | 'query',
    gatewayTradeNo: string | undefined,
    detail: unknown,
  ): Promise<{ duplicate: boolean }> {
    if (outcome === 'paid') {
      const verdict = await this.repository.recordPaidVerdict(
        { billNo, amount, source, gatewayTradeNo, receivedAt: this.clock(), detail },
        this.settings.notifyMerchant,
      );
      if (!verdict.found) throw new AppError('WEBHOOK_UNKNOWN_TRANSACTION', `No bill ${billNo} here`);
      if (verdict.recorded === null) return { duplicate: true };
      if (verdict.recorded === 'amount_mismatch') {
        this.log.error('payment amount differs from the bill: not applied, needs review', {
          billNo,
          orderNo: verdict.orderNo,
          expected: verdict.billAmount,
          received: amount,
        });
      } else if (verdict.recorded === 'refund_due') {
        this.log.warn('second payment for an order already paid: flagged for refund', { billNo, orderNo: verdict.orderNo });
      }
      this.forgetOrder(verdict.orderNo);
      return { duplicate: false };
    }

    const result = await this.repository.transaction(async (tx) => {
      const locked = await tx.lockBillWithOrder(billNo);
      if (!locked) throw new AppError('WEBHOOK_UNKNOWN_TRANSACTION', `No bill ${billNo} here`);
      const { bill, order } = locked;
      const now = this.clock();

      if ((outcome === 'failed' || outcome === 'closed') && ACTIVE_BILL_STATUSES.has(bill.status)) {
        await tx.updateBill(billNo, { status: outcome }, now);
        const others = (await tx.listBills(order.orderNo)).filter(
          (other) => other.billNo !== billNo && ACTIVE_BILL_STATUSES.has(other.status),
        );
        // A stale verdict on an earlier attempt must not overrule the attempt the shopper is in now.
        if (others.length === 0) {
          await tx.updateOrderStatus(order.orderNo, outcome, now, ['pending']);
        }
        return { duplicate: false, orderNo: order.orderNo };
      }
      return { duplicate: true, orderNo: order.orderNo };
    });
    if (!result.duplicate) this.forgetOrder(result.orderNo);
    return { duplicate: result.duplicate };
  }
}
