/**
 * Order states and the codes the client sees. The codes are Douyin's `getOrderStatus`
 * vocabulary, used for WeChat as well so both clients read one answer.
 */
export const ORDER_STATUS_CODES = {
  paid: 0,
  expired: 1,
  failed: 2,
  closed: 3,
  pending: 9,
} as const;

export type OrderStatus = keyof typeof ORDER_STATUS_CODES;
export type OrderStatusCode = (typeof ORDER_STATUS_CODES)[OrderStatus];

/**
 * What a gateway message or query says about one bill. `unknown` is a verified message that
 * does not settle anything (the manual warns `trade_success: false` is not by itself a failure).
 */
export type BillOutcome = 'paid' | 'failed' | 'closed' | 'unknown';

/**
 * `paid` is final. `expired` is final for new attempts, but money that arrives anyway still
 * marks the order paid: the shopper was charged. `failed`/`closed` describe the latest attempt;
 * paying again opens a new attempt and the order is `pending` once more.
 */
export function canStartPayment(status: OrderStatus): boolean {
  return status === 'pending' || status === 'failed' || status === 'closed';
}
