import type { CheckoutSettings } from '../checkout-settings';
import { AppError } from '../errors';
import { canStartPayment } from '../order-status';
import type { OrderService } from '../orders';
import type { DouyinCheckoutParams, WechatRequestPayment } from '../payment-provider';
import type { Clock, OrderMemory } from '../ports';
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
    private readonly douyinCashier: DouyinCashierPayment,
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
    } else if (this.bills.offers('TT_MINI')) {
      const bill = await this.bills.open(order, shopper, 'TT_MINI', secondsLeft);
      if (bill.channel !== 'TT_MINI') throw new Error('TT_MINI bill without Douyin parameters');
      payment = douyinPaymentOf(bill.douyin);
    } else {
      payment = await this.douyinCashier.start(order, shopper, secondsLeft, client.ip);
    }
    if (order.status !== 'pending') {
      await this.store.orders.updateOrderStatus(orderNo, 'pending', this.clock(), ['failed', 'closed']);
      this.memory.forgetOrder(orderNo);
    }
    return payment;
  }
}
