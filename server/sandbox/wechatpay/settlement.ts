import { channelTradeNo } from '../shared/random';
import type { WechatPayNotifier } from './notify';
import type { Refund, RefundState, Transaction, WechatPayStore } from './store';

/**
 * What happens at WeChat Pay when the payer pays, an order is closed, or a refund finishes, and
 * the notification each sends: TRANSACTION.SUCCESS for a payment only (closing sends nothing),
 * REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED for a finished refund with a notify_url.
 */

export interface SettlementDependencies {
  store: WechatPayStore;
  notifier: WechatPayNotifier;
  now: () => number;
}

/** Why a transaction cannot change as asked, or what changed. */
export type SettleOutcome = { refused: string; code: string } | { notifying: boolean };

/**
 * Pays or closes a NOTPAY transaction; a payment is made at `paidAt` (ms, default now). Refused
 * when it is paid (or refunded), closed, or, for `paid`, past its `time_expire`.
 */
export function settleTransaction(
  deps: SettlementDependencies,
  transaction: Transaction,
  result: 'paid' | 'closed',
  notify: boolean,
  paidAt?: number,
): SettleOutcome {
  if (transaction.tradeState === 'SUCCESS' || transaction.tradeState === 'REFUND') {
    return { refused: `${transaction.outTradeNo} is already paid`, code: 'TRANSACTION_PAID' };
  }
  if (transaction.tradeState === 'CLOSED') {
    return { refused: `${transaction.outTradeNo} is closed`, code: 'TRANSACTION_CLOSED' };
  }
  const now = deps.now();
  if (result === 'closed') {
    transaction.tradeState = 'CLOSED';
    deps.store.save();
    return { notifying: false };
  }
  if (transaction.timeExpire !== undefined && now > transaction.timeExpire) {
    return { refused: `${transaction.outTradeNo} expired at its time_expire`, code: 'TRANSACTION_EXPIRED' };
  }
  transaction.tradeState = 'SUCCESS';
  transaction.transactionId = channelTradeNo('4200');
  transaction.successTime = paidAt ?? now;
  deps.store.save();
  return { notifying: notify && deps.notifier.notifyTransaction(transaction) };
}

/** Finishes a PROCESSING refund; a CLOSED one gives its amount back to the order. Refused once finished. */
export function finishRefund(
  deps: SettlementDependencies,
  refund: Refund,
  result: Exclude<RefundState, 'PROCESSING'>,
  notify: boolean,
): SettleOutcome {
  if (refund.status !== 'PROCESSING') {
    return { refused: `refund ${refund.outRefundNo} is already ${refund.status}`, code: 'REFUND_FINISHED' };
  }
  refund.status = result;
  if (result === 'SUCCESS') refund.successTime = deps.now();
  deps.store.save();
  const transaction = deps.store.transactions.get(refund.outTradeNo) as Transaction;
  return { notifying: notify && deps.notifier.notifyRefund(refund, transaction) };
}
