import type { ProviderRefundState } from '../../domain/payment-provider';

/**
 * A found Douyin refund as the domain reads it. 担保支付 ("查询退款" `refundInfo.refund_status`) and
 * 通用交易系统 ("查询退款" `refund_list[].refund_status`) name its state alike (payments-beyond.md,
 * "Douyin mini-program payment"; the trade system's spellings unconfirmed): SUCCESS is
 * `succeeded`, FAIL `failed`, PROCESSING and anything unknown `pending`, so an amount is never
 * offered for refunding again on a word we cannot read.
 */
export function douyinRefundState(status: unknown, detail: unknown): ProviderRefundState {
  switch (status) {
    case 'SUCCESS':
      return { found: true, state: 'succeeded', detail };
    case 'FAIL':
      return { found: true, state: 'failed', reason: 'refund_status FAIL', detail };
    default:
      return { found: true, state: 'pending', detail };
  }
}

/**
 * A bill number a signed Douyin refund callback names (`order_id`, `out_order_no`, `cp_orderno`),
 * for the domain to compare with the refund's own bill: a string or number as written; undefined
 * when the field is absent, null or empty (Douyin writes unset fields so: it names no bill); and
 * for any other value (an object, an array, a boolean) its JSON, which is no bill's number, so the
 * message is kept for review rather than taken as naming no bill.
 */
export function namedBill(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return JSON.stringify(value) ?? `<${typeof value}>`;
}
