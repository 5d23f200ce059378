import type { CheckoutSettings } from '../checkout-settings';
import type { Logger } from '../observability';
import type { Clock, DouyinCashier, DouyinOrderInfo, OrderRecord } from '../ports';
import type { Shopper } from '../sessions';
import type { BillService } from './bills';

/** The legacy cashier's pay answer (seed 002): `tt.pay({service: 1, orderInfo})`. */
export interface DouyinCashierAnswer {
  platform: 'tt';
  /** 1 opens Douyin's cashier with both legs. */
  service: 1;
  orderInfo: DouyinOrderInfo;
}

/**
 * Douyin's cashier step: the cashier offers WeChat H5 and Alipay, so one bill is opened
 * for each, and the `orderInfo` that `tt.pay` hands to the cashier is signed over both.
 */
export class DouyinCashierPayment {
  constructor(
    private readonly bills: BillService,
    private readonly douyin: DouyinCashier,
    private readonly clock: Clock,
    private readonly settings: Pick<CheckoutSettings, 'notifyUrl'>,
    private readonly log: Logger,
  ) {}

  /**
   * Opens both legs and signs `orderInfo`. A leg its provider refuses is left out of `orderInfo`,
   * so the shopper can still pay with the other; throws the first leg's error when neither opens,
   * and AppError ORDER_EXPIRED when the order's deadline has passed by the time `orderInfo` is
   * signed. `orderInfo`'s `trade_time`, deadline and `uid` come from the stored order and the
   * shopper, so they are the same on every call, instance and restart.
   */
  async start(
    order: OrderRecord,
    shopper: Shopper,
    secondsLeft: number,
    clientIp: string | undefined,
  ): Promise<DouyinCashierAnswer> {
    const [wechatLeg, alipayLeg] = await Promise.allSettled([
      this.bills.open(order, shopper, 'BC_WX_WAP', secondsLeft),
      this.bills.open(order, shopper, 'ALI_APP', secondsLeft),
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
    return {
      platform: 'tt',
      service: 1,
      orderInfo: this.douyin.orderInfo({
        orderNo: order.orderNo,
        openid: shopper.openid,
        amount: order.amount,
        subject: order.title,
        body: order.items
          .map((line) => `${line.title}×${line.quantity}`)
          .join('，')
          .slice(0, 128),
        createdAt: order.createdAt,
        expiresAt: order.expiresAt,
        now: this.clock(),
        notifyUrl: this.settings.notifyUrl,
        wxUrl: wechat?.channel === 'BC_WX_WAP' ? wechat.url : undefined,
        alipayUrl: alipay?.channel === 'ALI_APP' ? alipay.orderString : undefined,
        clientIp,
      }),
    };
  }
}
