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
