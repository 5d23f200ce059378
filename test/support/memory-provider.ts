import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../server/domain/errors';
import type {
  BillClientParams,
  BillClosing,
  BillCreation,
  CreateRefundRequest,
  OpenBillRequest,
  PaymentChannel,
  PaymentProvider,
  PaymentProviderId,
  ProviderBillState,
  ProviderEvent,
  ProviderMessage,
  ProviderRefundState,
  ProviderTransaction,
  RefundSubmission,
} from '../../server/domain/payment-provider';

interface StoredBill {
  request: OpenBillRequest;
  state: 'NOTPAY' | 'SUCCESS' | 'CLOSED';
  tradeNo?: string;
  paidAt?: Date;
}

interface StoredRefund {
  request: CreateRefundRequest;
  state: 'pending' | 'succeeded' | 'failed';
  reason?: string;
}

/**
 * A payment provider kept in memory that behaves as the contract (`PaymentProvider`) says a real
 * one does: a bill number is taken once, a closed bill cannot be paid and a paid one cannot be
 * closed, refunds only of what was paid, notifications only with a valid signature (HMAC-SHA256
 * over the body with a secret only it and the test hold). `closeBill` exists only when asked for,
 * as providers without a close (the gateway) have none. The test drives the shopper's and the
 * provider's side through `pay`, `settleRefund` and `notification`, and sees every call in `calls`.
 */
export class MemoryProvider implements PaymentProvider {
  readonly channels: ReadonlySet<PaymentChannel>;
  readonly idempotentRefunds: boolean;
  readonly closeBill?: (billNo: string, channel: PaymentChannel) => Promise<BillClosing>;
  /** Every call made to it, as `operation billNo-or-refundNo`. */
  readonly calls: string[] = [];
  /** The answer to the next `openBill` is lost after the bill is made (a timeout on the way back). */
  loseNextAnswer = false;
  private readonly bills = new Map<string, StoredBill>();
  private readonly refunds = new Map<string, StoredRefund>();
  private serial = 0;

  constructor(
    readonly id: PaymentProviderId,
    private readonly options: {
      canClose: boolean;
      secret: string;
      channels?: PaymentChannel[];
      now?: () => Date;
      /** Whether it refunds a refund number once however often it is sent (as WeChat Pay does). @default false */
      idempotentRefunds?: boolean;
    },
  ) {
    this.channels = new Set(options.channels ?? ['WX_MINI', 'BC_WX_WAP', 'ALI_APP']);
    this.idempotentRefunds = options.idempotentRefunds ?? false;
    if (options.canClose) this.closeBill = (billNo, channel) => this.close(billNo, channel);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  async openBill(request: OpenBillRequest): Promise<BillCreation> {
    this.calls.push(`openBill ${request.billNo}`);
    if (!this.channels.has(request.channel)) {
      return {
        outcome: 'refused',
        error: new AppError('GATEWAY_ERROR', `${this.id} does not open ${request.channel}`),
      };
    }
    if (this.bills.has(request.billNo)) {
      return { outcome: 'refused', error: new AppError('GATEWAY_ERROR', `${request.billNo} was used before`) };
    }
    this.bills.set(request.billNo, { request, state: 'NOTPAY' });
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      return { outcome: 'unknown', error: new AppError('GATEWAY_UNAVAILABLE', 'the answer was lost') };
    }
    this.serial += 1;
    return {
      outcome: 'created',
      bill: { providerId: `${this.id}-${this.serial}`, clientParams: clientParamsOf(request) },
    };
  }

  async queryBill(billNo: string, channel: PaymentChannel): Promise<ProviderBillState | null> {
    this.calls.push(`queryBill ${billNo}`);
    const bill = this.bills.get(billNo);
    if (!bill || bill.request.channel !== channel) return null;
    return {
      billNo,
      outcome: bill.state === 'SUCCESS' ? 'paid' : bill.state === 'CLOSED' ? 'closed' : 'unknown',
      amount: bill.request.amount,
      tradeNo: bill.tradeNo,
      detail: { trade_state: bill.state },
    };
  }

  private async close(billNo: string, channel: PaymentChannel): Promise<BillClosing> {
    this.calls.push(`closeBill ${billNo}`);
    const bill = this.bills.get(billNo);
    if (!bill || bill.request.channel !== channel)
      throw new AppError('GATEWAY_ERROR', `${this.id} has no bill ${billNo}`);
    if (bill.state === 'SUCCESS') return 'paid';
    bill.state = 'CLOSED';
    return 'closed';
  }

  async createRefund(request: CreateRefundRequest): Promise<RefundSubmission> {
    this.calls.push(`createRefund ${request.refundNo}`);
    const bill = this.bills.get(request.billNo);
    if (this.refunds.has(request.refundNo)) return { outcome: 'accepted' };
    if (!bill || bill.state !== 'SUCCESS') return refusal('not paid');
    if (request.billAmount !== bill.request.amount) return refusal('amount.total differs from the bill');
    const refunded = [...this.refunds.values()]
      .filter((refund) => refund.request.billNo === request.billNo && refund.state !== 'failed')
      .reduce((sum, refund) => sum + refund.request.amount, 0);
    if (refunded + request.amount > bill.request.amount) return refusal('more than was paid');
    this.refunds.set(request.refundNo, { request, state: 'pending' });
    return { outcome: 'accepted', providerId: `${this.id}-refund-${request.refundNo}` };
  }

  async queryRefund(refundNo: string): Promise<ProviderRefundState> {
    this.calls.push(`queryRefund ${refundNo}`);
    const refund = this.refunds.get(refundNo);
    if (!refund) return { found: false };
    return { found: true, state: refund.state, reason: refund.reason };
  }

  async readNotification(message: ProviderMessage): Promise<ProviderEvent> {
    const header = message.headers['x-memory-signature'];
    const signature = typeof header === 'string' ? header : '';
    const expected = this.sign(message.rawBody);
    const given = Buffer.from(signature, 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected, 'utf8'))) {
      throw new AppError('WEBHOOK_SIGNATURE_INVALID', `not signed by ${this.id}`);
    }
    try {
      return JSON.parse(message.rawBody) as ProviderEvent;
    } catch {
      throw new AppError('WEBHOOK_INVALID', 'not JSON');
    }
  }

  async listTransactions(day: string): Promise<ProviderTransaction[]> {
    this.calls.push(`listTransactions ${day}`);
    const chinaDay = (at: Date) => new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
    return [...this.bills.values()]
      .filter((bill) => bill.paidAt && chinaDay(bill.paidAt) === day)
      .map((bill) => ({
        billNo: bill.request.billNo,
        tradeNo: bill.tradeNo,
        amount: bill.request.amount,
        paidAt: bill.paidAt,
        state: [...this.refunds.values()].some(
          (refund) => refund.request.billNo === bill.request.billNo && refund.state === 'succeeded',
        )
          ? 'refunded'
          : 'paid',
      }));
  }

  // ---- the shopper's and the provider's side -------------------------------------------

  /** The bills it holds, by number. */
  billNos(): string[] {
    return [...this.bills.keys()];
  }

  /** The shopper pays a bill: only an open one can be. Returns the signed notification it sends. */
  pay(billNo: string): ProviderMessage {
    const bill = this.bills.get(billNo);
    if (!bill || bill.state !== 'NOTPAY') throw new Error(`${billNo} cannot be paid at ${this.id}`);
    bill.state = 'SUCCESS';
    bill.tradeNo = `T-${billNo}`;
    bill.paidAt = this.now();
    return this.notification({
      type: 'payment.succeeded',
      billNo,
      amount: bill.request.amount,
      tradeNo: bill.tradeNo,
      detail: { trade_state: 'SUCCESS' },
    });
  }

  /** The provider finishes a refund. Returns the signed notification it sends. */
  settleRefund(refundNo: string, result: 'succeeded' | 'failed', reason = 'the card was closed'): ProviderMessage {
    const refund = this.refunds.get(refundNo);
    if (!refund || refund.state !== 'pending') throw new Error(`${refundNo} is not pending at ${this.id}`);
    refund.state = result;
    if (result === 'failed') refund.reason = reason;
    return result === 'succeeded'
      ? this.notification({ type: 'refund.succeeded', refundNo, amount: refund.request.amount, detail: {} })
      : this.notification({ type: 'refund.failed', refundNo, reason, detail: {} });
  }

  /** A message as this provider signs it. */
  notification(event: ProviderEvent): ProviderMessage {
    const rawBody = JSON.stringify(event);
    return { rawBody, headers: { 'x-memory-signature': this.sign(rawBody) } };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.options.secret).update(body).digest('hex');
  }
}

function refusal(reason: string): RefundSubmission {
  return { outcome: 'refused', reason, retryable: false, error: new AppError('GATEWAY_ERROR', reason) };
}

function clientParamsOf(request: OpenBillRequest): BillClientParams {
  switch (request.channel) {
    case 'WX_MINI':
      return {
        channel: 'WX_MINI',
        requestPayment: {
          timeStamp: String(Math.floor(Date.now() / 1000)),
          nonceStr: request.billNo,
          package: `prepay_id=${request.billNo}`,
          signType: 'RSA',
          paySign: 'signed',
        },
      };
    case 'BC_WX_WAP':
      return { channel: 'BC_WX_WAP', url: `https://pay.example/${request.billNo}` };
    case 'ALI_APP':
      return { channel: 'ALI_APP', orderString: `out_trade_no=${request.billNo}` };
    case 'TT_MINI':
      return {
        channel: 'TT_MINI',
        douyin: { call: 'pay', service: 5, orderInfo: { order_id: `dy${request.billNo}`, order_token: 'token' } },
      };
  }
}
