import type { GatewayChannelType } from './webhook-message';
import type { DeliveryAttempt } from './webhooks';

/** The gateway emulator's in-memory state. */

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
  refundedFee: number;
  /** What the channel told the gateway, once settled (the webhook's `message_detail`). */
  messageDetail?: Record<string, unknown>;
  deliveries: DeliveryAttempt[];
}

export interface Refund {
  id: string;
  refundNo: string;
  billNo: string;
  refundFee: number;
  optional: Record<string, unknown>;
  notifyUrl?: string;
  createdAt: number;
  messageDetail: Record<string, unknown>;
}

export type InjectedFaultOperation = 'bill' | 'refund' | 'query' | 'any';

export interface InjectedFault {
  resultCode: number;
  remaining: number;
  operation: InjectedFaultOperation;
  detail: string;
}

export class GatewayStore {
  readonly bills = new Map<string, Bill>();
  readonly billsById = new Map<string, Bill>();
  /** Every bill_no ever submitted, accepted or not, with why it cannot be reused. */
  readonly usedBillNos = new Map<string, string>();
  readonly refunds = new Map<string, Refund>();
  readonly refundsById = new Map<string, Refund>();
  readonly faults: InjectedFault[] = [];

  addBill(bill: Bill): void {
    this.bills.set(bill.billNo, bill);
    this.billsById.set(bill.id, bill);
    this.usedBillNos.set(bill.billNo, 'it was accepted before');
  }

  addRefund(refund: Refund): void {
    this.refunds.set(refund.refundNo, refund);
    this.refundsById.set(refund.id, refund);
  }

  /** The status queries see: an open bill past its `bill_timeout` counts as closed. */
  effectiveStatus(bill: Bill, now: number): BillStatus {
    if (bill.status === 'open' && bill.billTimeoutSec !== undefined && now > bill.createdAt + bill.billTimeoutSec * 1000) {
      return 'closed';
    }
    return bill.status;
  }

  refundsOf(billNo: string): Refund[] {
    return [...this.refunds.values()].filter((refund) => refund.billNo === billNo);
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
}
