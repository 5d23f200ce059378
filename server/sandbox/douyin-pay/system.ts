import type { Router } from '@koa/router';

/** Which of Douyin's current payment systems an emulated order belongs to. */
export type DouyinPaySystemName = 'guaranteed' | 'trade';

/** An emulated order as `GET /sandbox/douyin/orders` lists it; `totalAmount` in fen. */
export interface DouyinSandboxOrder {
  system: DouyinPaySystemName;
  /** The merchant's order number (`out_order_no`, `outOrderNo`). */
  outOrderNo: string;
  /** Douyin's order number (`order_id`). */
  orderId: string;
  totalAmount: number;
  status: 'pending' | 'paid' | 'closed';
}

/** What settling an order from the control endpoint did; `not_found` when the system has no such order. */
export type DouyinSettlement =
  | { outcome: 'settled'; order: DouyinSandboxOrder }
  | { outcome: 'not_found' }
  | {
      outcome: 'conflict';
      /** Why it cannot be settled that way (e.g. already paid, and `closed` was asked). */
      reason: string;
    };

/** An emulated refund as `GET /sandbox/douyin/refunds` lists it; `amount` in fen. */
export interface DouyinSandboxRefund {
  system: DouyinPaySystemName;
  /** The merchant's refund number (`out_refund_no`). */
  outRefundNo: string;
  /** Douyin's refund number (通用交易系统's `refund_id`, 担保支付's `refund_no`). */
  refundId: string;
  /** The merchant's number of the order refunded. */
  outOrderNo: string;
  amount: number;
  status: 'processing' | 'succeeded' | 'failed';
}

/** What settling a refund from the control endpoint did; `not_found` when the system has no such refund. */
export type DouyinRefundSettlement =
  | {
      outcome: 'settled';
      refund: DouyinSandboxRefund;
      /** Whether a refund callback delivery started. */
      notifying: boolean;
    }
  | { outcome: 'not_found' }
  | {
      outcome: 'finished';
      /** What it already is. */
      reason: string;
    };

/** A refund's state as both systems' refund queries spell it (`refund_status`). */
export type DouyinRefundStatus = 'PROCESSING' | 'SUCCESS' | 'FAIL';

/** How `GET /sandbox/douyin/refunds` names a `DouyinRefundStatus`. */
export const LISTED_REFUND_STATUS = {
  PROCESSING: 'processing',
  SUCCESS: 'succeeded',
  FAIL: 'failed',
} as const satisfies Record<DouyinRefundStatus, DouyinSandboxRefund['status']>;

/**
 * `DouyinPaySystem.settleRefund` over one system's refunds: `not_found` without `refund`,
 * `finished` when it is no longer processing, else `finish` ends it (SUCCESS or FAIL, with its
 * callback when `notify`; whether one started) and it is listed as it is then.
 */
export function settleProcessingRefund<R extends { status: DouyinRefundStatus }>(
  refund: R | undefined,
  result: 'succeeded' | 'failed',
  notify: boolean,
  listed: (refund: R) => DouyinSandboxRefund,
  finish: (refund: R, status: 'SUCCESS' | 'FAIL', notify: boolean) => boolean,
): DouyinRefundSettlement {
  if (!refund) return { outcome: 'not_found' };
  if (refund.status !== 'PROCESSING') {
    const { system, outRefundNo, status } = listed(refund);
    const name = system === 'guaranteed' ? '担保支付' : '通用交易系统';
    return { outcome: 'finished', reason: `${name} refund ${outRefundNo} is already ${status}` };
  }
  const notifying = finish(refund, result === 'succeeded' ? 'SUCCESS' : 'FAIL', notify);
  return { outcome: 'settled', refund: listed(refund), notifying };
}

/** The most refund holds pending at once (as many as one request may ask for). */
export const MAX_DOUYIN_REFUND_HOLDS = 10_000;

/**
 * How many of the next accepted refunds, of either system, stay processing until settled through
 * `POST /sandbox/douyin/refunds/:outRefundNo/settle` (by default each succeeds right after its
 * answer). Held in memory only: unlike the gateway's, the holds not yet used are gone after a
 * sandbox restart (the refunds already held stay held).
 */
export class DouyinRefundHolds {
  private count = 0;

  /** Holds `count` more, up to MAX_DOUYIN_REFUND_HOLDS pending in all; how many are now held. */
  add(count: number): number {
    this.count = Math.min(MAX_DOUYIN_REFUND_HOLDS, this.count + count);
    return this.count;
  }

  /** Drops every hold; how many there were. */
  release(): number {
    const released = this.count;
    this.count = 0;
    return released;
  }

  /** Whether the refund being accepted now is held (using up one hold). */
  take(): boolean {
    if (this.count === 0) return false;
    this.count -= 1;
    return true;
  }
}

/**
 * One emulated Douyin payment system (担保支付 or 通用交易系统): its API routes at the real paths,
 * and what the shared control endpoints (./control.ts) ask of it.
 */
export interface DouyinPaySystem {
  readonly name: DouyinPaySystemName;
  readonly routers: Router[];
  /** Every order, oldest first. */
  orders(): DouyinSandboxOrder[];
  /** Pays or closes an order as the shopper or Douyin would; `notify` sends the signed callback. */
  settle(outOrderNo: string, result: 'paid' | 'closed', notify: boolean): Promise<DouyinSettlement>;
  /** Every refund, oldest first. */
  refunds(): DouyinSandboxRefund[];
  /**
   * Finishes a processing refund as Douyin would: `failed` gives its amount back to the order;
   * `notify` sends the signed refund callback (SUCCESS or FAIL) to the refund's notify URL.
   */
  settleRefund(outRefundNo: string, result: 'succeeded' | 'failed', notify: boolean): Promise<DouyinRefundSettlement>;
  /** Stops callback retries in flight. */
  close(): Promise<void>;
}
