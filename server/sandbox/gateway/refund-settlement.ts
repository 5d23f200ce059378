import type { GatewayDependencies } from './gateway';
import type { Notifier } from './notifications';
import type { Bill, Refund, RefundFailureStatus } from './store';
import { refundMessageDetail, refundWebhookInput } from './webhook-message';

/**
 * The one path by which a refund leaves `processing`: at once when `POST /2/rest/refund`
 * accepts it (the default), or later through `POST /sandbox/refunds/:refund_no/settle`
 * after `POST /sandbox/refunds/hold`. Either way the refund looks the same to queries
 * (seed 001 §4.4.3 `finish` / `result`, §4.4.5 `refund_status`) and to the webhook endpoint.
 */

export interface RefundSettlementDependencies {
  notifier: Notifier;
  gateway: Pick<GatewayDependencies, 'store' | 'appId' | 'masterSecret' | 'now'>;
}

export type RefundSettlementResult =
  | { refused: string }
  | {
      /** Whether a REFUND webhook delivery chain was started. */
      notifying: boolean;
    };

/**
 * Finishes a processing refund as its channel would. A success starts the REFUND webhook,
 * but only where the channel calls back after a refund (§3.1, §4.4.5; the notifier keeps
 * that rule); a failure sends nothing and, being no longer counted against the bill, gives
 * its amount back to what may still be refunded. A finished refund cannot change again.
 */
export function finishRefund(
  deps: RefundSettlementDependencies,
  refund: Refund,
  bill: Bill,
  result: 'succeeded' | 'failed',
  failureStatus: RefundFailureStatus = 'REFUNDCLOSE',
): RefundSettlementResult {
  if (refund.status !== 'processing') return { refused: `refund ${refund.refundNo} already ${refund.status}` };
  const at = deps.gateway.now();
  refund.status = result;
  refund.finishedAt = at;
  if (result === 'failed') refund.failureStatus = failureStatus;
  refund.messageDetail = refundMessageDetail(
    refundWebhookInput(deps.gateway, refund, bill, at),
    result === 'succeeded' ? 'SUCCESS' : failureStatus,
  );
  deps.gateway.store.refundChanged(refund);
  const notifying = result === 'succeeded' ? deps.notifier.notifyRefund(refund, bill) : false;
  return { notifying };
}
