import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirectory } from '../../make-directory';

/**
 * The emulated WeChat Pay's orders and refunds, in memory and, with a data directory, in
 * `wechatpay.json` (rewritten aside and renamed after every change, so a restart keeps them and
 * resumes notifications still being delivered). Times are ms.
 */

export type TradeState = 'NOTPAY' | 'SUCCESS' | 'REFUND' | 'CLOSED';
export type RefundState = 'PROCESSING' | 'SUCCESS' | 'ABNORMAL' | 'CLOSED';

/** One attempt to deliver a notification. */
export interface NotificationAttempt {
  event_type: string;
  /** 1-based, within the current delivery chain. */
  attempt: number;
  at: number;
  /** HTTP status, or null when no answer came. */
  status: number | null;
  body: string;
  ok: boolean;
}

export interface Transaction {
  outTradeNo: string;
  appid: string;
  mchid: string;
  description: string;
  notifyUrl: string;
  attach?: string;
  total: number;
  openid: string;
  timeExpire?: number;
  prepayId: string;
  /** The request's fields that a repeated prepay must match to get the same prepay_id. */
  fingerprint: string;
  createdAt: number;
  tradeState: TradeState;
  transactionId?: string;
  successTime?: number;
  deliveries: NotificationAttempt[];
  notifying?: boolean;
}

export interface Refund {
  outRefundNo: string;
  refundId: string;
  outTradeNo: string;
  transactionId: string;
  refund: number;
  total: number;
  reason?: string;
  notifyUrl?: string;
  createdAt: number;
  status: RefundState;
  successTime?: number;
  deliveries: NotificationAttempt[];
  notifying?: boolean;
}

/** The calls of the emulated API a fault can be injected into (`any`: each of them). */
export const WECHATPAY_OPERATIONS = ['prepay', 'query', 'close', 'refund', 'refund_query', 'tradebill', 'any'] as const;
export type WechatPayOperation = (typeof WECHATPAY_OPERATIONS)[number];

/**
 * An injected fault: the next `remaining` calls of `operation` are answered `status` with
 * `{code, message}`, before anything is done or (`after`) once it is done, signed as WeChat signs
 * its answers or (`signed: false`) without the `Wechatpay-*` headers, as a proxy in front would.
 */
export interface InjectedFault {
  operation: WechatPayOperation;
  remaining: number;
  status: number;
  code: string;
  message: string;
  after: boolean;
  signed: boolean;
}

/** A trade bill made by "申请交易账单", downloadable until `expiresAt` (ms). */
export interface PreparedBill {
  text: string;
  expiresAt: number;
}

interface Snapshot {
  transactions: Transaction[];
  refunds: Refund[];
  refundHolds: number;
}

const STATE_FILE = 'wechatpay.json';

export class WechatPayStore {
  readonly transactions = new Map<string, Transaction>();
  readonly refunds = new Map<string, Refund>();
  /** The next this many refunds stay PROCESSING until settled by hand. */
  refundHolds = 0;
  /** Pending faults, oldest first (not kept across restarts). */
  faults: InjectedFault[] = [];
  /** Bills prepared for download, by token (not kept across restarts: download links last seconds). */
  readonly bills = new Map<string, PreparedBill>();

  /** Loads what `directory` keeps, if given. */
  constructor(private readonly directory?: string) {
    if (!directory) return;
    const file = join(directory, STATE_FILE);
    if (!existsSync(file)) return;
    const snapshot = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
    for (const transaction of snapshot.transactions) this.transactions.set(transaction.outTradeNo, transaction);
    for (const refund of snapshot.refunds) this.refunds.set(refund.outRefundNo, refund);
    this.refundHolds = snapshot.refundHolds;
  }

  /** The refunds of an order, oldest first. */
  refundsOf(outTradeNo: string): Refund[] {
    return [...this.refunds.values()].filter((refund) => refund.outTradeNo === outTradeNo);
  }

  /** What has been refunded or is being refunded (every refund but the CLOSED ones), fen. */
  refundedOf(outTradeNo: string): number {
    return this.refundsOf(outTradeNo)
      .filter((refund) => refund.status !== 'CLOSED')
      .reduce((sum, refund) => sum + refund.refund, 0);
  }

  /** Takes one use of the oldest fault for `operation` that applies `after` the work or before it. */
  takeFault(operation: Exclude<WechatPayOperation, 'any'>, after: boolean): InjectedFault | undefined {
    const fault = this.faults.find(
      (candidate) => (candidate.operation === operation || candidate.operation === 'any') && candidate.after === after,
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.faults = this.faults.filter((candidate) => candidate !== fault);
    return fault;
  }

  /** Writes the state down (with a data directory); call after every change. */
  save(): void {
    if (!this.directory) return;
    makeDirectory(this.directory);
    const file = join(this.directory, STATE_FILE);
    const snapshot: Snapshot = {
      transactions: [...this.transactions.values()],
      refunds: [...this.refunds.values()],
      refundHolds: this.refundHolds,
    };
    writeFileSync(`${file}.tmp`, JSON.stringify(snapshot));
    renameSync(`${file}.tmp`, file);
  }
}
