import { sendsRefundWebhook } from './gateway-protocol';
import type { Bill, GatewayStore, Refund } from './store';
import { buildPaymentWebhook, buildRefundWebhook, refundWebhookInput } from './webhook-message';
import type { DeliveryAttempt, WebhookDispatcher } from './webhooks';

/**
 * Turns gateway state changes into webhook deliveries. Only successes are ever delivered
 * (seed 001 §3.1 "支付，代付，退款成功时", §3.4.2 "目前收到的消息都是交易成功的消息"): every
 * path that could start a webhook goes through here, so this is where that rule is kept.
 */
export interface Notifier {
  /**
   * Starts delivering the PAY webhook of a paid bill to its `notify_url`. Returns false,
   * delivering nothing, when the bill is not paid (a failed or closed payment has no
   * webhook, §3.1) or there is nowhere to deliver (no `notify_url`).
   */
  notifyPayment(bill: Bill): boolean;
  /**
   * Starts delivering the REFUND webhook of a succeeded refund to the refund's
   * `notify_url`, else the bill's. Returns false, delivering nothing, when the refund has
   * not succeeded (§3.1), when the bill's channel sends no callback after a refund (WX,
   * YEE, KUAIQIAN, BD: §4.4.5), or when there is nowhere to deliver.
   */
  notifyRefund(refund: Refund, bill: Bill): boolean;
}

export interface NotifierDependencies {
  store: GatewayStore;
  dispatcher: WebhookDispatcher;
  appId: string;
  masterSecret: string;
  wechatAppId: string;
  mchId: string;
  now: () => number;
  log: (line: string) => void;
}

export function createNotifier(deps: NotifierDependencies): Notifier {
  return {
    notifyPayment(bill) {
      const status = deps.store.effectiveStatus(bill, deps.now());
      if (status !== 'paid') {
        deps.log(`webhook PAY ${bill.billNo}: bill is ${status}; webhooks are sent for successful payments only`);
        return false;
      }
      if (!bill.notifyUrl) {
        deps.log(`webhook PAY ${bill.billNo}: no notify_url, nothing delivered`);
        return false;
      }
      const first = buildPaymentWebhook({
        appId: deps.appId,
        masterSecret: deps.masterSecret,
        billNo: bill.billNo,
        channel: bill.channel,
        totalFee: bill.totalFee,
        outcome: status,
        title: bill.title,
        openid: bill.openid,
        tradeNo: bill.tradeNo,
        optional: bill.optional,
        timestamp: deps.now(),
        createdAt: bill.createdAt,
        paidAt: bill.successTime,
        wechatAppId: deps.wechatAppId,
        mchId: deps.mchId,
      });
      // The detail recorded when the bill was settled, so webhook and queries agree.
      if (bill.messageDetail) first.message_detail = bill.messageDetail;
      bill.notifying = true;
      deps.store.billChanged(bill);
      deps.dispatcher.start({
        url: bill.notifyUrl,
        transactionType: 'PAY',
        transactionId: bill.billNo,
        message: (timestamp) => ({ ...first, timestamp }),
        record: (attempt) => {
          bill.deliveries.push(attempt);
          deps.store.billChanged(bill);
        },
        previousChains: lastChain(bill.deliveries),
        finished: () => {
          bill.notifying = false;
          deps.store.billChanged(bill);
        },
      });
      return true;
    },

    notifyRefund(refund, bill) {
      if (refund.status !== 'succeeded') {
        deps.log(`webhook REFUND ${refund.refundNo}: refund is ${refund.status}, only successes are notified`);
        return false;
      }
      if (!sendsRefundWebhook(bill.channelType)) {
        deps.log(`webhook REFUND ${refund.refundNo}: ${bill.channelType} sends no refund callback, nothing delivered`);
        return false;
      }
      const url = refund.notifyUrl ?? bill.notifyUrl;
      if (!url) {
        deps.log(`webhook REFUND ${refund.refundNo}: no notify_url, nothing delivered`);
        return false;
      }
      const first = buildRefundWebhook(refundWebhookInput(deps, refund, bill, deps.now()));
      // The detail recorded when the refund finished, so webhook and queries agree.
      if (refund.messageDetail) first.message_detail = refund.messageDetail;
      refund.notifying = true;
      deps.store.refundChanged(refund);
      deps.dispatcher.start({
        url,
        transactionType: 'REFUND',
        transactionId: refund.refundNo,
        message: (timestamp) => ({ ...first, timestamp }),
        // Kept apart from the bill's PAY attempts: GET /sandbox/refunds/:refund_no/deliveries.
        record: (attempt) => {
          refund.deliveries.push(attempt);
          deps.store.refundChanged(refund);
        },
        previousChains: lastChain(refund.deliveries),
        finished: () => {
          refund.notifying = false;
          deps.store.refundChanged(refund);
        },
      });
      return true;
    },
  };
}

/** The number of the latest delivery chain on record, 0 if none. */
function lastChain(deliveries: readonly DeliveryAttempt[]): number {
  return deliveries.reduce((last, attempt) => Math.max(last, attempt.chain), 0);
}
