import type { Bill, GatewayStore, Refund } from './store';
import { buildPaymentWebhook, buildRefundWebhook, type PaymentOutcome } from './webhook-message';
import type { WebhookDispatcher } from './webhooks';

/** Turns gateway state changes into webhook deliveries. */
export interface Notifier {
  /**
   * Starts delivering the PAY webhook of a settled bill to its `notify_url`.
   * Returns false when there is nowhere to deliver (no `notify_url`).
   */
  notifyPayment(bill: Bill): boolean;
  /** Starts delivering the REFUND webhook to the refund's `notify_url`, else the bill's. */
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
      if (status === 'open') throw new Error(`bill ${bill.billNo} is still open`);
      if (!bill.notifyUrl) {
        deps.log(`webhook PAY ${bill.billNo}: no notify_url, nothing delivered`);
        return false;
      }
      const outcome: PaymentOutcome = status;
      const first = buildPaymentWebhook({
        appId: deps.appId,
        masterSecret: deps.masterSecret,
        billNo: bill.billNo,
        channel: bill.channel,
        totalFee: bill.totalFee,
        outcome,
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
      deps.dispatcher.start({
        url: bill.notifyUrl,
        transactionType: 'PAY',
        transactionId: bill.billNo,
        message: (timestamp) => ({ ...first, timestamp }),
        record: (attempt) => bill.deliveries.push(attempt),
      });
      return true;
    },

    notifyRefund(refund, bill) {
      const url = refund.notifyUrl ?? bill.notifyUrl;
      if (!url) {
        deps.log(`webhook REFUND ${refund.refundNo}: no notify_url, nothing delivered`);
        return false;
      }
      const first = buildRefundWebhook({
        appId: deps.appId,
        masterSecret: deps.masterSecret,
        refundNo: refund.refundNo,
        billNo: bill.billNo,
        channel: bill.channel,
        refundFee: refund.refundFee,
        totalFee: bill.totalFee,
        tradeNo: bill.tradeNo,
        optional: refund.optional,
        timestamp: deps.now(),
      });
      first.message_detail = refund.messageDetail;
      deps.dispatcher.start({
        url,
        transactionType: 'REFUND',
        transactionId: refund.refundNo,
        message: (timestamp) => ({ ...first, timestamp }),
        record: (attempt) => bill.deliveries.push(attempt),
      });
      return true;
    },
  };
}
