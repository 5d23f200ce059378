import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirectory } from '../../../make-directory';

/**
 * The emulated 担保支付's orders and refunds (amounts fen): in memory, and also in
 * `douyin-guaranteed.json` of the data directory when given, written after every change, so a
 * restarted sandbox still knows them (callbacks in flight are not resumed).
 */

/** One delivery attempt of a callback, as recorded. */
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

/** A pre-order (`create_order`) and what became of it. */
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

/** A refund (`create_refund`); it succeeds right after it is accepted. */
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

const STATE_FILE = 'douyin-guaranteed.json';

/** The orders (by `out_order_no`, and by `order_id`) and refunds (by `out_refund_no`). */
export class GuaranteedStore {
  readonly orders = new Map<string, GuaranteedOrder>();
  readonly orderIds = new Map<string, string>();
  readonly refunds = new Map<string, GuaranteedRefund>();
  private readonly file?: string;

  /** Reads what an earlier sandbox over `directory` left. */
  constructor(private readonly directory?: string) {
    this.file = directory ? join(directory, STATE_FILE) : undefined;
    if (!this.file || !existsSync(this.file)) return;
    const saved = JSON.parse(readFileSync(this.file, 'utf8')) as {
      orders: GuaranteedOrder[];
      refunds: GuaranteedRefund[];
    };
    for (const order of saved.orders) this.addOrder(order);
    for (const refund of saved.refunds) this.refunds.set(refund.outRefundNo, refund);
  }

  /** Writes the state to the data directory, if there is one. */
  save(): void {
    if (!this.directory || !this.file) return;
    makeDirectory(this.directory);
    const state = { orders: [...this.orders.values()], refunds: [...this.refunds.values()] };
    writeFileSync(`${this.file}.tmp`, JSON.stringify(state));
    renameSync(`${this.file}.tmp`, this.file);
  }

  /** Adds an order (not saved: the caller saves once it is done changing things). */
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
