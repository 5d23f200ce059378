import type { CheckoutSettings } from '../checkout-settings';
import { AppError } from '../errors';
import { canStartPayment } from '../order-status';
import type { OrderService } from '../orders';
import type { DouyinCheckoutParams, PaymentChannel, WechatRequestPayment } from '../payment-provider';
import type { Clock, OrderMemory, OrderRecord } from '../ports';
import type { Repositories } from '../repositories';
import type { Shopper } from '../sessions';
import type { BillService } from './bills';
import type { DouyinCashierAnswer, DouyinCashierPayment } from './douyin-cashier';

export interface WeappPayment {
  platform: 'weapp';
  requestPayment: WechatRequestPayment;
}

/**
 * What a Douyin mini-program is answered, by the system the merchant chose (`TT_PAYMENT_PROVIDER`;
 * payments-beyond.md, "Douyin mini-program payment"): the legacy cashier's `tt.pay({service: 1,
 * orderInfo})`; 担保支付's `tt.pay({service: 5, orderInfo: {order_id, order_token}})`; or
 * 通用交易系统's `tt.requestOrder({data, byteAuthorization})`.
 */
export type DouyinPayment =
  | DouyinCashierAnswer
  | { platform: 'tt'; service: 5; orderInfo: { order_id: string; order_token: string } }
  | { platform: 'tt'; requestOrder: { data: string; byteAuthorization: string } };

export type StartedPayment = WeappPayment | DouyinPayment;

/** The pay answer for a `TT_MINI` bill's parameters. */
function douyinPaymentOf(params: DouyinCheckoutParams): DouyinPayment {
  return params.call === 'pay'
    ? { platform: 'tt', service: params.service, orderInfo: params.orderInfo }
    : { platform: 'tt', requestOrder: { data: params.data, byteAuthorization: params.byteAuthorization } };
}

/** The shopper's Pay button: what the mini-program needs to open its platform's payment sheet. */
export class PaymentService {
  constructor(
    private readonly orders: OrderService,
    private readonly bills: BillService,
    /** Absent when the legacy cashier is not configured (a merchant on Douyin's current systems alone). */
    private readonly douyinCashier: DouyinCashierPayment | undefined,
    private readonly store: Pick<Repositories, 'orders'>,
    private readonly clock: Clock,
    private readonly settings: Pick<CheckoutSettings, 'minimumPayWindowSeconds'>,
    private readonly memory: OrderMemory,
  ) {}

  /**
   * Opens (or hands out again) the bill(s) of the shopper's order on the shopper's platform, and
   * makes a failed or closed order pending again. Throws AppError ORDER_NOT_FOUND,
   * ORDER_ALREADY_PAID, ORDER_EXPIRED (less than the minimum pay window left), and the bills' errors.
   */
  async startPayment(shopper: Shopper, orderNo: string, client: { ip?: string } = {}): Promise<StartedPayment> {
    const now = this.clock();
    const created = this.memory.recentlyCreated(orderNo, now);
    const order = created && created.owner === shopper.owner ? created : await this.orders.getOrder(shopper, orderNo);
    if (order.status === 'paid') throw new AppError('ORDER_ALREADY_PAID', `Order ${orderNo} is already paid`);
    const secondsLeft = Math.floor((order.expiresAt.getTime() - now.getTime()) / 1000);
    if (!canStartPayment(order.status) || secondsLeft < this.settings.minimumPayWindowSeconds) {
      throw new AppError('ORDER_EXPIRED', `Order ${orderNo} has expired: create a new order`);
    }

    let payment: StartedPayment;
    if (shopper.platform === 'weapp') {
      const bill = await this.bills.open(order, shopper, 'WX_MINI', secondsLeft);
      if (bill.channel !== 'WX_MINI') throw new Error('WX_MINI bill without requestPayment');
      payment = { platform: 'weapp', requestPayment: bill.requestPayment };
    } else {
      payment = await this.startDouyinPayment(order, shopper, secondsLeft, client.ip);
    }
    if (order.status !== 'pending') {
      await this.store.orders.updateOrderStatus(orderNo, 'pending', this.clock(), ['failed', 'closed']);
      this.memory.forgetOrder(orderNo);
    }
    return payment;
  }

  /**
   * Douyin's payment by the system the configuration names, unless a bill of the other kind (the
   * cashier's legs, or a 担保支付 / 通用交易系统 bill) is still in flight from before a switch: that
   * one is handed out again until its provider says it is over, so an order never has two
   * payable bills at once (a second payment would only be returned).
   */
  private async startDouyinPayment(
    order: OrderRecord,
    shopper: Shopper,
    secondsLeft: number,
    clientIp: string | undefined,
  ): Promise<DouyinPayment> {
    const active = await this.bills.activeChannels(order.orderNo);
    if (this.bills.offers('TT_MINI')) {
      if (CASHIER_LEGS.some((leg) => active.has(leg))) {
        // Without the cashier's settings its orderInfo cannot be signed: a new bill opens instead;
        // the legs end at their deadline, and a payment on one beside it is returned as a second.
        if (this.douyinCashier) return this.douyinCashier.start(order, shopper, secondsLeft, clientIp);
      }
      const bill = await this.bills.open(order, shopper, 'TT_MINI', secondsLeft);
      if (bill.channel !== 'TT_MINI') throw new Error('TT_MINI bill without Douyin parameters');
      return douyinPaymentOf(bill.douyin);
    }
    if (active.has('TT_MINI')) {
      const earlier = await this.bills.resumeEarlier(order, shopper, 'TT_MINI');
      if (earlier?.channel === 'TT_MINI') return douyinPaymentOf(earlier.douyin);
    }
    if (!this.douyinCashier) throw new Error('the legacy cashier is chosen but not configured');
    return this.douyinCashier.start(order, shopper, secondsLeft, clientIp);
  }
}

/** The legacy cashier's two legs (seed 002): WeChat H5 and Alipay, bills at the gateway. */
const CASHIER_LEGS: readonly PaymentChannel[] = ['BC_WX_WAP', 'ALI_APP'];
