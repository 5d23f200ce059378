import type { Catalog, OrderLine } from './catalog';
import type { CheckoutSettings } from './checkout-settings';
import { AppError } from './errors';
import { hashRequest, newOrderNo } from './identifiers';
import type { Fen } from './money';
import type { CheckoutEvents } from './observability';
import type { OrderStatus } from './order-status';
import type { Clock, OrderMemory, OrderRecord } from './ports';
import type { Repositories } from './repositories';
import type { Shopper } from './sessions';

export interface OrderView {
  orderNo: string;
  amount: Fen;
  currency: 'CNY';
  status: OrderStatus;
  items: Array<Pick<OrderLine, 'sku' | 'title' | 'quantity'> & { price: Fen; amount: Fen }>;
  expiresAt: string;
}

/** What the shopper's and the merchant's APIs show of an order (prices in fen, the deadline as ISO 8601). */
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
 * The shopper's orders: priced by the server's catalogue, created once per Idempotency-Key, and
 * shown only to their owner.
 */
export class OrderService {
  constructor(
    private readonly store: Pick<Repositories, 'orders'>,
    private readonly catalog: Catalog,
    private readonly clock: Clock,
    private readonly settings: Pick<CheckoutSettings, 'orderTtlSeconds'>,
    private readonly events: CheckoutEvents,
    private readonly memory: OrderMemory,
  ) {}

  /**
   * Prices and creates an order. With an idempotency key already used by this shopper, answers
   * that order again; throws AppError IDEMPOTENCY_KEY_REUSED when its items differ, and the
   * catalogue's errors for unknown SKUs or quantities.
   */
  async createOrder(
    shopper: Shopper,
    items: ReadonlyArray<{ sku: string; quantity: number }>,
    idempotencyKey?: string,
  ): Promise<OrderView> {
    const priced = this.catalog.price(items);
    const requestHash = hashRequest(items);
    if (idempotencyKey) {
      const previous = await this.store.orders.findOrderByIdempotencyKey(shopper.owner, idempotencyKey);
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
    if (await this.store.orders.insertOrder(order)) {
      this.events.emit({ type: 'order.created', orderNo: order.orderNo, amount: order.amount });
      this.memory.rememberCreated(order);
      return toOrderView(order);
    }
    // Lost a race with a concurrent retry carrying the same key: answer with its order.
    const winner = await this.store.orders.findOrderByIdempotencyKey(shopper.owner, idempotencyKey!);
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

  /** The shopper's own order; throws AppError ORDER_NOT_FOUND for a missing one or someone else's. */
  async getOrder(shopper: Shopper, orderNo: string): Promise<OrderRecord> {
    const order = await this.store.orders.findOrder(orderNo);
    // Someone else's order answers exactly like a missing one.
    if (!order || order.owner !== shopper.owner) {
      throw new AppError('ORDER_NOT_FOUND', `No order ${orderNo} for this shopper`);
    }
    return order;
  }
}
