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
  /** Stops callback retries in flight. */
  close(): Promise<void>;
}
