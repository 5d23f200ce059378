import { randomString } from '../../shared/random';
import { type NotifierBasics, RetryingDelivery, WECHAT_NOTIFY_RETRY_INTERVALS_S } from '../../shared/retrying-delivery';
import { chinaDateTime } from '../../shared/time';
import { isCallbackAcknowledged } from '../acknowledgement';
import type { DouyinPayKeyRing } from '../keys';
import { callbackSignature } from './signing';
import type { CallbackAttempt, GuaranteedOrder, GuaranteedRefund } from './store';

/**
 * Callbacks of the emulated 担保支付 (payments-beyond.md, "Douyin mini-program payment" → 担保支付):
 * a POST of JSON `{timestamp, nonce, msg, type, msg_signature}`, signed afresh at each attempt.
 * Acknowledged only by HTTP 200 with `err_no` 0 in a JSON body; anything else is sent again
 * after 15 s, 15 s, 30 s, 3 m, 10 m, 20 m, 30 m, 30 m, 30 m, 60 m, 3 h, 3 h, 3 h, 6 h, 6 h (Douyin's
 * page gives no schedule: this is WeChat's, which the other emulated providers use), scaled by
 * `timeScale` for tests.
 */

/** Seconds between one attempt and the next: WeChat's schedule (`WECHAT_NOTIFY_RETRY_INTERVALS_S`), as 担保支付's page gives none. */
export const CALLBACK_RETRY_INTERVALS_S: readonly number[] = WECHAT_NOTIFY_RETRY_INTERVALS_S;

/** `timeScale` multiplies the retry intervals (tests: e.g. 0.001). */
export interface GuaranteedNotifierOptions extends NotifierBasics {
  appId: string;
  keys: DouyinPayKeyRing;
  /** Saved after each attempt is recorded. */
  store: { save(): void };
}

/** The `msg` of a payment callback: what Douyin tells of a paid order. */
export function paymentMessage(appId: string, order: GuaranteedOrder): string {
  return JSON.stringify({
    appid: appId,
    cp_orderno: order.outOrderNo,
    cp_extra: order.cpExtra,
    way: order.way ?? '1',
    channel_no: order.channelNo ?? '',
    channel_gateway_no: '',
    payment_order_no: order.channelNo ?? '',
    out_channel_order_no: '',
    total_amount: order.totalAmount,
    status: 'SUCCESS',
    seller_uid: '70000000000000000001',
    extra: '',
    item_id: '',
    paid_at: Math.floor((order.paidAt ?? 0) / 1000),
    message: '',
    order_id: order.orderId,
  });
}

/** The `msg` of a refund callback. */
export function refundMessage(appId: string, refund: GuaranteedRefund, order: GuaranteedOrder): string {
  return JSON.stringify({
    appid: appId,
    cp_refundno: refund.outRefundNo,
    cp_extra: refund.cpExtra,
    status: refund.status,
    refund_amount: refund.refundAmount,
    is_all_settled: false,
    refunded_at: refund.refundedAt ?? 0,
    message: refund.status === 'SUCCESS' ? '' : '退款失败',
    order_id: order.orderId,
    refund_no: refund.refundNo,
  });
}

/** Sends the callbacks, one retry chain per order or refund (a new one supersedes the old). */
export class GuaranteedNotifier {
  private readonly delivery: RetryingDelivery;

  constructor(private readonly options: GuaranteedNotifierOptions) {
    this.delivery = new RetryingDelivery({
      ...options,
      intervalsS: CALLBACK_RETRY_INTERVALS_S,
      userAgent: 'Mozilla/5.0 (douyin-ecpay-sandbox)',
      abortReason: 'aborted: sandbox closing or callback superseded',
    });
  }

  /** Starts the payment callback of a paid order; false when it has no `notify_url`. */
  notifyPayment(order: GuaranteedOrder): boolean {
    if (!order.notifyUrl) return false;
    this.start(`payment:${order.outOrderNo}`, order.deliveries, order.notifyUrl, 'payment', () =>
      paymentMessage(this.options.appId, order),
    );
    return true;
  }

  /** Starts the refund callback of a finished refund; false when it has no `notify_url`. */
  notifyRefund(refund: GuaranteedRefund, order: GuaranteedOrder): boolean {
    if (!refund.notifyUrl || refund.status === 'PROCESSING') return false;
    this.start(`refund:${refund.outRefundNo}`, refund.deliveries, refund.notifyUrl, 'refund', () =>
      refundMessage(this.options.appId, refund, order),
    );
    return true;
  }

  /** Stops every pending retry and aborts deliveries in flight. */
  close(): Promise<void> {
    return this.delivery.close();
  }

  /** `msg` is what the order was when the chain started; the envelope is signed afresh at each attempt. */
  private start(
    key: string,
    deliveries: CallbackAttempt[],
    url: string,
    type: 'payment' | 'refund',
    message: () => string,
  ): void {
    let msg: string | undefined;
    const { keys, store } = this.options;
    this.delivery.start({
      key,
      url,
      label: `douyin ecpay ${type}`,
      prepare: async (at) => {
        msg ??= message();
        const { token } = await keys.get();
        const timestamp = String(Math.floor(at / 1000));
        const nonce = randomString(8, '0123456789');
        const body = JSON.stringify({
          timestamp,
          nonce,
          msg,
          type,
          msg_signature: callbackSignature(token, timestamp, nonce, msg),
        });
        return { body };
      },
      acknowledged: isCallbackAcknowledged,
      record: (outcome) => {
        deliveries.push({ type, ...outcome, body: outcome.body.slice(0, 200) });
        store.save();
      },
      describeAt: (at) => ` at ${chinaDateTime(at)}`,
    });
  }
}
