import type { GatewayChannelType } from './webhook-message';
import type { DeliveryAttempt } from './webhooks';

/**
 * The gateway emulator's state, in memory; every change is also announced to `onChange`, which
 * `GatewayJournal` (./persistence.ts) uses to keep it on disk across restarts.
 */

export type BillStatus = 'open' | 'paid' | 'failed' | 'closed';
/** `live` bills come from `/2/rest/bill`, `test` bills from `/2/rest/sandbox/bill`; each mode sees only its own. */
export type GatewayMode = 'live' | 'test';

export interface Bill {
  /** Gateway record id (UUID). */
  id: string;
  mode: GatewayMode;
  billNo: string;
  /** The channel as requested, e.g. `WX_MINI` (reported as `sub_channel`). */
  channel: string;
  channelType: GatewayChannelType;
  totalFee: number;
  title: string;
  optional: Record<string, unknown>;
  notifyUrl?: string;
  openid?: string;
  /** Seconds after creation when an open bill stops being payable. */
  billTimeoutSec?: number;
  createdAt: number;
  status: BillStatus;
  /** When the bill reached `paid`, ms. */
  successTime?: number;
  /** Channel transaction number, set once paid. */
  tradeNo?: string;
  prepayId?: string;
  url?: string;
  orderString?: string;
  /** What the channel told the gateway, once settled (the webhook's `message_detail`). */
  messageDetail?: Record<string, unknown>;
  /** Attempts to deliver this bill's PAY webhook (REFUND attempts are kept on each refund). */
  deliveries: DeliveryAttempt[];
  /** A PAY webhook delivery chain is running (resumed after a restart). */
  notifying?: boolean;
}

/**
 * A refund at the channel: `processing` until the channel answers, then `succeeded` or
 * `failed` (seed 001 §4.4.3 `finish` / `result`, §4.4.5 `refund_status`).
 */
export type RefundStatus = 'processing' | 'succeeded' | 'failed';

/**
 * How WeChat reports a refund that did not succeed (its refund query's `refund_status`):
 * `REFUNDCLOSE` the refund was closed, `CHANGE` the money could not reach the payer and
 * needs handling by hand.
 */
export type RefundFailureStatus = 'REFUNDCLOSE' | 'CHANGE';

export interface Refund {
  id: string;
  refundNo: string;
  billNo: string;
  refundFee: number;
  optional: Record<string, unknown>;
  notifyUrl?: string;
  createdAt: number;
  status: RefundStatus;
  /** When the refund left `processing`, ms. */
  finishedAt?: number;
  /** Set when `failed`: what `GET /2/rest/refund/status` reports. */
  failureStatus?: RefundFailureStatus;
  /** What the channel told the gateway, once the refund finished. */
  messageDetail?: Record<string, unknown>;
  /** Attempts to deliver this refund's REFUND webhook. */
  deliveries: DeliveryAttempt[];
  /** A REFUND webhook delivery chain is running (resumed after a restart). */
  notifying?: boolean;
}

/** The RSA key pair behind `ALI_APP` order strings (PEM). */
export interface AlipayKeys {
  publicKey: string;
  privateKey: string;
}

/** What changed in the store: the record to keep, whole. */
export type StoreChange =
  | { kind: 'bill'; bill: Bill }
  | { kind: 'refund'; refund: Refund }
  | { kind: 'usedBillNo'; billNo: string; reason: string }
  | { kind: 'refundHolds'; count: number }
  | { kind: 'alipayKeys'; keys: AlipayKeys };

export type InjectedFaultOperation = 'bill' | 'refund' | 'query' | 'any';

/** HTTP statuses a fault can answer with after carrying the operation out (an error page, no JSON). */
export type InjectedHttpStatus = 500 | 502 | 503 | 504;

/**
 * A fault the next `remaining` calls of an operation meet: a refusal with `resultCode`,
 * an answer held back `delayMs`, an operation carried out but answered with an HTTP error
 * page (`httpStatus`), or a refusal or error page that also comes late. At least one is set;
 * never both `resultCode` and `httpStatus`.
 */
export interface InjectedFault {
  resultCode?: number;
  /** The refusal's `err_detail`; set with `resultCode`. */
  detail?: string;
  delayMs?: number;
  httpStatus?: InjectedHttpStatus;
  remaining: number;
  operation: InjectedFaultOperation;
}

export class GatewayStore {
  readonly bills = new Map<string, Bill>();
  readonly billsById = new Map<string, Bill>();
  /** Every bill_no ever submitted, accepted or not, with why it cannot be reused. */
  readonly usedBillNos = new Map<string, string>();
  readonly refunds = new Map<string, Refund>();
  readonly refundsById = new Map<string, Refund>();
  /** Faults are for the calls that follow: they live in memory only. */
  readonly faults: InjectedFault[] = [];
  private holds = 0;
  private keys?: AlipayKeys;
  /** Told of every change to bills, refunds, spent bill_nos, refund holds and the Alipay keys. */
  onChange?: (change: StoreChange) => void;

  /** How many of the next accepted refunds stay `processing` (`POST /sandbox/refunds/hold`). */
  get refundHolds(): number {
    return this.holds;
  }

  set refundHolds(count: number) {
    this.holds = count;
    this.onChange?.({ kind: 'refundHolds', count });
  }

  /** The `ALI_APP` signing keys, made by `generate` on first use and kept from then on. */
  alipayKeys(generate: () => AlipayKeys): AlipayKeys {
    if (!this.keys) {
      this.keys = generate();
      this.onChange?.({ kind: 'alipayKeys', keys: this.keys });
    }
    return this.keys;
  }

  addBill(bill: Bill): void {
    this.bills.set(bill.billNo, bill);
    this.billsById.set(bill.id, bill);
    this.usedBillNos.set(bill.billNo, 'it was accepted before');
    this.billChanged(bill);
  }

  addRefund(refund: Refund): void {
    this.refunds.set(refund.refundNo, refund);
    this.refundsById.set(refund.id, refund);
    this.refundChanged(refund);
  }

  /** A bill_no the gateway will never accept again, though no bill was made with it. */
  spendBillNo(billNo: string, reason: string): void {
    this.usedBillNos.set(billNo, reason);
    this.onChange?.({ kind: 'usedBillNo', billNo, reason });
  }

  /** Announces a change made to a bill in place (settled, a webhook attempt). */
  billChanged(bill: Bill): void {
    this.onChange?.({ kind: 'bill', bill });
  }

  /** Announces a change made to a refund in place (finished, a webhook attempt). */
  refundChanged(refund: Refund): void {
    this.onChange?.({ kind: 'refund', refund });
  }

  /** Puts back what a journal kept, announcing nothing. */
  restore(change: StoreChange): void {
    switch (change.kind) {
      case 'bill':
        this.bills.set(change.bill.billNo, change.bill);
        this.billsById.set(change.bill.id, change.bill);
        this.usedBillNos.set(change.bill.billNo, 'it was accepted before');
        return;
      case 'refund':
        this.refunds.set(change.refund.refundNo, change.refund);
        this.refundsById.set(change.refund.id, change.refund);
        return;
      case 'usedBillNo':
        this.usedBillNos.set(change.billNo, change.reason);
        return;
      case 'refundHolds':
        this.holds = change.count;
        return;
      case 'alipayKeys':
        this.keys = change.keys;
        return;
    }
  }

  /** Everything a journal keeps, one record each. */
  *snapshot(): Generator<StoreChange> {
    if (this.keys) yield { kind: 'alipayKeys', keys: this.keys };
    if (this.holds !== 0) yield { kind: 'refundHolds', count: this.holds };
    for (const [billNo, reason] of this.usedBillNos) {
      if (!this.bills.has(billNo)) yield { kind: 'usedBillNo', billNo, reason };
    }
    for (const bill of this.bills.values()) yield { kind: 'bill', bill };
    for (const refund of this.refunds.values()) yield { kind: 'refund', refund };
  }

  /** The status queries see: an open bill past its `bill_timeout` counts as closed. */
  effectiveStatus(bill: Bill, now: number): BillStatus {
    if (
      bill.status === 'open' &&
      bill.billTimeoutSec !== undefined &&
      now > bill.createdAt + bill.billTimeoutSec * 1000
    ) {
      return 'closed';
    }
    return bill.status;
  }

  refundsOf(billNo: string): Refund[] {
    return [...this.refunds.values()].filter((refund) => refund.billNo === billNo);
  }

  /**
   * Fen of a bill already promised back: refunds processing or succeeded. A failed refund
   * gave its amount back, so it no longer counts against what is left to refund.
   */
  committedRefundFee(billNo: string): number {
    return this.refundsOf(billNo)
      .filter((refund) => refund.status !== 'failed')
      .reduce((sum, refund) => sum + refund.refundFee, 0);
  }

  /** Fen of a bill actually refunded: succeeded refunds only. */
  refundedFee(billNo: string): number {
    return this.refundsOf(billNo)
      .filter((refund) => refund.status === 'succeeded')
      .reduce((sum, refund) => sum + refund.refundFee, 0);
  }

  /** Consumes one refund hold, if any: whether the refund being made stays `processing`. */
  takeRefundHold(): boolean {
    if (this.holds <= 0) return false;
    this.refundHolds = this.holds - 1;
    return true;
  }

  /** Takes the next injected fault for an operation, if any. */
  takeFault(operation: Exclude<InjectedFaultOperation, 'any'>): InjectedFault | undefined {
    const index = this.faults.findIndex((fault) => fault.operation === operation || fault.operation === 'any');
    if (index < 0) return undefined;
    const fault = this.faults[index];
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault;
  }

  /** Drops every pending fault; returns how many there were. */
  clearFaults(): number {
    return this.faults.splice(0).length;
  }
}
