import { settleBill, type GatewayDependencies, type SettleOutcome } from './gateway';
import type { Notifier } from './notifications';
import type { Bill, BillStatus } from './store';

/**
 * The one path by which a bill reaches `paid`, `failed` or `closed` and its PAY webhook
 * starts: `POST /sandbox/bills/:bill_no/settle`, the WeChat H5 cashier page and the
 * Alipay App leg all go through here, so a bill paid by any of them looks the same to
 * queries and to the merchant's webhook endpoint. Only `paid` starts a webhook: the gateway
 * sends them for successes alone (seed 001 §3.1, §3.4.2); a failed or closed bill shows
 * only in queries (`spay_result: false` and the channel's detail).
 */

export interface SettlementDependencies {
  notifier: Notifier;
  gateway: Pick<GatewayDependencies, 'store' | 'appId' | 'masterSecret' | 'wechatAppId' | 'mchId' | 'now'>;
}

export type SettlementResult =
  | { refused: string }
  | {
      changed: boolean;
      /**
       * Whether a webhook delivery chain was started (false: unchanged, `notify: false`,
       * not paid, or no `notify_url`).
       */
      notifying: boolean;
    };

/** Settles a bill as the channel would have, and starts its PAY webhook when it became paid. */
export function settleAndNotify(
  deps: SettlementDependencies,
  bill: Bill,
  result: Exclude<BillStatus, 'open'>,
  notify = true,
): SettlementResult {
  const outcome: SettleOutcome = settleBill(bill, result, deps.gateway);
  if ('refused' in outcome) return outcome;
  if (outcome.changed) deps.gateway.store.billChanged(bill);
  const notifying = outcome.changed && notify && result === 'paid' ? deps.notifier.notifyPayment(bill) : false;
  return { changed: outcome.changed, notifying };
}
