/** The emulated 担保支付's state (in memory: a restart starts with no orders). Amounts are fen. */

export interface CallbackAttempt {
  type: 'payment' | 'refund';
  attempt: number;
  /** ms. */
  at: number;
  /** null: no answer. */
  status: number | null;
  body: string;
  ok: boolean;
}

export interface GuaranteedOrder {
  outOrderNo: string;
  orderId: string;
  orderToken: string;
  totalAmount: number;
  subject: string;
  body: string;
  /** Seconds from `createdAt` the order can be paid. */
  validTime: number;
  cpExtra: string;
  notifyUrl?: string;
  /** What the pre-order was signed over, to answer a repeat the same way. */
  fingerprint: string;
  /** ms. */
  createdAt: number;
  status: 'pending' | 'paid' | 'closed';
  /** ms. */
  paidAt?: number;
  /** 1 WeChat, 2 Alipay, 10 Douyin Pay. */
  way?: string;
  channelNo?: string;
  deliveries: CallbackAttempt[];
}

export interface GuaranteedRefund {
  outRefundNo: string;
  refundNo: string;
  outOrderNo: string;
  refundAmount: number;
  reason: string;
  cpExtra: string;
  notifyUrl?: string;
  fingerprint: string;
  status: 'PROCESSING' | 'SUCCESS' | 'FAIL';
  /** Seconds. */
  refundedAt?: number;
  deliveries: CallbackAttempt[];
}

export class GuaranteedStore {
  readonly orders = new Map<string, GuaranteedOrder>();
  readonly orderIds = new Map<string, string>();
  readonly refunds = new Map<string, GuaranteedRefund>();

  addOrder(order: GuaranteedOrder): void {
    this.orders.set(order.outOrderNo, order);
    this.orderIds.set(order.orderId, order.outOrderNo);
  }

  byOrderId(orderId: string): GuaranteedOrder | undefined {
    const outOrderNo = this.orderIds.get(orderId);
    return outOrderNo === undefined ? undefined : this.orders.get(outOrderNo);
  }

  /** What has been asked back of an order and not failed, fen. */
  refundedOf(outOrderNo: string): number {
    let sum = 0;
    for (const refund of this.refunds.values()) {
      if (refund.outOrderNo === outOrderNo && refund.status !== 'FAIL') sum += refund.refundAmount;
    }
    return sum;
  }
}
