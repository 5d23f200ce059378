import type { CheckoutSettings } from '../domain/checkout-settings';
import { AppError } from '../domain/errors';
import type { Fen } from '../domain/money';
import type { Logger } from '../domain/observability';
import { ORDER_STATUS_CODES, type OrderStatus, type OrderStatusCode } from '../domain/order-status';
import type { Clock, OrderMemory, OrderRecord } from '../domain/ports';
import type { Repositories } from '../domain/repositories';
import { RecentCache } from '../domain/recent-cache';
import type { Shopper } from '../domain/sessions';

const STATUS_CACHE_CAPACITY = 100_000;
const CREATED_ORDERS_CAPACITY = 10_000;

interface KnownStatus {
  owner: string | null;
  status: OrderStatus;
  refundedAmount: Fen;
  /** From then on, a poll answered from memory also refreshes it from the database. */
  refreshAt: number;
}

export interface OrderStatusView {
  orderNo: string;
  status: OrderStatus;
  code: OrderStatusCode;
  /** Fen given back by the merchant's refunds; the order stays `paid` (code 0). */
  refundedAmount: Fen;
}

/** Told when the owner polls an order that is still pending: its webhook may be late (PaymentVerdicts). */
export interface LatePaymentChecks {
  checkInBackground(orderNo: string): void;
}

/**
 * The status read model: what the shopper's client polls, answered from memory while nothing
 * changed, else from the database; never from the gateway. It forgets an order on every change,
 * made here (the domain calls `forgetOrder`) or on any instance (the change feed calls
 * `forgetOrder`, or `forgetAllOrders` after a gap). It keeps no rule of its own beyond whose
 * order is whose.
 */
export class OrderStatusReadModel implements OrderMemory {
  /** The hot path of polling clients: answers without the database while nothing changed. */
  private readonly knownStatuses = new RecentCache<KnownStatus>(STATUS_CACHE_CAPACITY);
  /**
   * Orders this instance has just created: the client asks to pay for one at once, and that
   * needs no read. Kept, and forgotten on any change, exactly like a remembered status.
   */
  private readonly createdOrders = new RecentCache<OrderRecord>(CREATED_ORDERS_CAPACITY);
  /** Counts evictions, so a read that raced with a change does not put the old status back. */
  private evictions = 0;
  private readonly statusLoads = new Map<string, { evictions: number; order: Promise<OrderRecord | null> }>();

  constructor(
    private readonly store: Pick<Repositories, 'orders'>,
    private readonly clock: Clock,
    private readonly settings: Pick<CheckoutSettings, 'statusCacheMs'>,
    private readonly log: Logger,
    private readonly latePayments: LatePaymentChecks,
  ) {}

  rememberCreated(order: OrderRecord): void {
    this.createdOrders.set(order.orderNo, order, order.createdAt.getTime() + this.settings.statusCacheMs);
  }

  recentlyCreated(orderNo: string, at: Date): OrderRecord | undefined {
    return this.createdOrders.get(orderNo, at.getTime());
  }

  /**
   * The status the shopper's client polls: from memory while nothing changed, else from the
   * database; never from the gateway. A pending order whose webhook is late makes this instance
   * ask the gateway in the background (at most once per order per interval across instances),
   * so a payment is seen at the next poll without any poll waiting on the gateway. Throws
   * AppError ORDER_NOT_FOUND for a missing order or someone else's.
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
    const order = await this.store.orders.findOrder(orderNo);
    if (!order) return null;
    // Only the owner's polls may make the server ask the gateway about an order.
    if (order.owner === requester && order.status === 'pending') this.latePayments.checkInBackground(orderNo);
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
}

function statusView(orderNo: string, status: OrderStatus, refundedAmount: Fen): OrderStatusView {
  return { orderNo, status, code: ORDER_STATUS_CODES[status], refundedAmount };
}
