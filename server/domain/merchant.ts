import type { Catalog } from './catalog';
import { toOrderView, OrderView } from './orders';
import { AppError } from './errors';
import { hashToken, newOrderNo, newSessionToken } from './identifiers';
import { ORDER_STATUS_CODES, OrderStatusCode } from './order-status';
import type { Clock, OrderRecord, PaymentDisposition, PaymentRecord, PaymentWithOrder } from './ports';
import type { UnitOfWork } from './repositories';
import { toRefundView, type RefundView } from './refunds';
import type { Shopper } from './sessions';
import type { CheckoutEvents } from './observability';

export interface MerchantSettings {
  orderTtlSeconds: number;
  /** The mini-program page that takes `?checkout=<token>`. */
  checkoutPagePath: string;
  /** The WeChat mini-program's original id (`gh_…`). */
  miniprogramUsername: string;
}

export interface MerchantCheckout {
  orderNo: string;
  amount: number;
  expiresAt: string;
  launch: {
    /** For `WXLaunchMiniProgramReq`: `userName` and `path`. */
    weapp: { userName: string; path: string };
    tt: { path: string };
  };
}

export interface MerchantOrderView extends OrderView {
  code: OrderStatusCode;
  appUserId?: string;
  attach?: Record<string, unknown>;
  /** Whether a shopper has opened the checkout in the mini-program. */
  claimed: boolean;
  paidAt?: string;
  /** Fen given back by succeeded merchant refunds. */
  refundedAmount: number;
  payments: PaymentView[];
  refunds: RefundView[];
}

/** A payment the gateway reported, as the merchant API shows it. Fen, ISO 8601 times. */
export interface PaymentView {
  billNo: string;
  amount: number;
  channel: string;
  disposition: PaymentRecord['disposition'];
  source: PaymentRecord['source'];
  gatewayTradeNo?: string;
  receivedAt: string;
}

/** One entry of the operators' list of payments that need (or needed) a person. */
export interface PaymentForReview extends PaymentView {
  orderNo: string;
  order: {
    orderNo: string;
    amount: number;
    status: OrderRecord['status'];
    code: OrderStatusCode;
    appUserId?: string;
    createdAt: string;
    paidAt?: string;
  };
  /** The automatic return of a second payment, when one was made. */
  refund?: RefundView;
}

function toPaymentView(payment: PaymentRecord): PaymentView {
  return {
    billNo: payment.billNo,
    amount: payment.amount,
    channel: payment.channel,
    disposition: payment.disposition,
    source: payment.source,
    gatewayTradeNo: payment.tradeNo,
    receivedAt: payment.receivedAt.toISOString(),
  };
}

/**
 * Checkouts a merchant's own app starts: the app's backend creates the order here, the app opens
 * the mini-program with a one-time token, and the first shopper to claim the token owns the order.
 */
export class MerchantService {
  constructor(
    private readonly store: Pick<UnitOfWork, 'bills' | 'orders' | 'refunds' | 'transaction' | 'snapshot'>,
    private readonly catalog: Catalog,
    private readonly clock: Clock,
    private readonly settings: MerchantSettings,
    private readonly events: CheckoutEvents,
  ) {}

  async createCheckout(request: {
    items: ReadonlyArray<{ sku: string; quantity: number }>;
    appUserId: string;
    attach?: Record<string, unknown>;
  }): Promise<MerchantCheckout> {
    const priced = this.catalog.price(request.items);
    const now = this.clock();
    const order: OrderRecord = {
      orderNo: newOrderNo(now),
      owner: null,
      appUserId: request.appUserId,
      attach: request.attach,
      status: 'pending',
      amount: priced.amount,
      currency: 'CNY',
      items: priced.lines,
      title: priced.title,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.settings.orderTtlSeconds * 1000),
      refundedAmount: 0,
    };
    const token = newSessionToken();
    await this.store.transaction(async (tx) => {
      await tx.orders.insertOrder(order);
      await tx.checkoutTokens.insertCheckoutToken({
        tokenHash: hashToken(token),
        orderNo: order.orderNo,
        expiresAt: order.expiresAt,
      });
    });
    this.events.emit({ type: 'order.created', orderNo: order.orderNo, amount: order.amount });
    const path = `${this.settings.checkoutPagePath}?checkout=${token}`;
    return {
      orderNo: order.orderNo,
      amount: order.amount,
      expiresAt: order.expiresAt.toISOString(),
      launch: { weapp: { userName: this.settings.miniprogramUsername, path }, tt: { path } },
    };
  }

  /** The shopper who opens the launched mini-program first takes the order; the token is spent. */
  async claim(shopper: Shopper, token: string): Promise<OrderView> {
    const now = this.clock();
    return this.store.transaction(async (tx) => {
      const record = await tx.checkoutTokens.findCheckoutToken(hashToken(token), { forUpdate: true });
      if (!record)
        throw new AppError('CHECKOUT_TOKEN_INVALID', 'Unknown checkout token: open the checkout from the app again');
      if (record.claimedBy) {
        throw new AppError(
          'CHECKOUT_TOKEN_USED',
          'This checkout was already opened: start the payment from the app again',
          {
            orderNo: record.orderNo,
          },
        );
      }
      if (record.expiresAt.getTime() <= now.getTime()) {
        throw new AppError('CHECKOUT_TOKEN_EXPIRED', 'This checkout has expired: start the payment from the app again');
      }
      await tx.checkoutTokens.markCheckoutTokenClaimed(record.tokenHash, shopper.owner, now);
      if (!(await tx.orders.assignOrderOwner(record.orderNo, shopper.owner))) {
        throw new AppError('CHECKOUT_TOKEN_USED', 'This checkout belongs to another shopper');
      }
      const order = await tx.orders.findOrder(record.orderNo);
      if (!order) throw new Error(`checkout token ${record.orderNo} has no order`);
      return toOrderView(order);
    });
  }

  async getOrder(orderNo: string): Promise<MerchantOrderView> {
    // One snapshot: a refund finished between two reads would show succeeded beside an order
    // whose refunded amount does not count it yet (and likewise a payment beside a pending order).
    const { order, payments, refunds } = await this.store.snapshot(async (tx) => ({
      order: await tx.orders.findOrder(orderNo),
      payments: await tx.bills.listPayments(orderNo),
      refunds: await tx.refunds.listRefunds(orderNo),
    }));
    if (!order) throw new AppError('ORDER_NOT_FOUND', `No order ${orderNo}`);
    return {
      ...toOrderView(order),
      code: ORDER_STATUS_CODES[order.status],
      appUserId: order.appUserId,
      attach: order.attach,
      claimed: order.owner !== null,
      paidAt: order.paidAt?.toISOString(),
      refundedAmount: order.refundedAmount,
      payments: payments.map(toPaymentView),
      refunds: refunds.map(toRefundView),
    };
  }

  /**
   * Payments with one disposition, newest first: `amount_mismatch` (never applied: find out
   * why), `refund_due` (a second payment still to go back), `refunded` (one that went back).
   * `limit` 1–200, `offset` ≥ 0.
   */
  async listPayments(disposition: PaymentDisposition, limit: number, offset: number): Promise<PaymentForReview[]> {
    const rows = await this.store.bills.listPaymentsByDisposition(disposition, limit, offset);
    return rows.map((row: PaymentWithOrder) => ({
      ...toPaymentView(row),
      orderNo: row.orderNo,
      order: {
        orderNo: row.order.orderNo,
        amount: row.order.amount,
        status: row.order.status,
        code: ORDER_STATUS_CODES[row.order.status],
        appUserId: row.order.appUserId,
        createdAt: row.order.createdAt.toISOString(),
        paidAt: row.order.paidAt?.toISOString(),
      },
      refund: row.refund ? toRefundView(row.refund) : undefined,
    }));
  }
}
