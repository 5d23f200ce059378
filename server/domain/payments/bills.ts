import type { CheckoutSettings } from '../checkout-settings';
import { AppError } from '../errors';
import { newBillNo } from '../identifiers';
import type { CheckoutEvents, Logger } from '../observability';
import type { BillClientParams, BillRecord, Clock, GatewayChannel, OrderRecord, PaymentGateway } from '../ports';
import type { UnitOfWork } from '../repositories';
import type { Shopper } from '../sessions';
import { ACTIVE_BILL_STATUSES } from './bill-status';
import type { PaymentVerdicts } from './verdicts';

/**
 * Payment attempts at the gateway (bills): opened once per order and channel, handed out again
 * while open, and replaced only when the gateway says the previous one is over.
 */
export class BillService {
  constructor(
    private readonly store: Pick<UnitOfWork, 'bills' | 'orders' | 'transaction'>,
    private readonly gateway: PaymentGateway,
    private readonly clock: Clock,
    private readonly settings: Pick<
      CheckoutSettings,
      'notifyUrl' | 'gatewayCheckIntervalMs' | 'staleCreatingBillMs' | 'unconfirmedBillGraceMs'
    >,
    private readonly log: Logger,
    private readonly events: CheckoutEvents,
    private readonly verdicts: PaymentVerdicts,
  ) {}

  /**
   * The open bill of this order on this channel: the one the shopper already has (tapping Pay
   * again must not open a second), or a new one with a fresh bill_no. The bill is stored as
   * `creating` before its request leaves, so whatever happens to the request (no answer, a crash)
   * the attempt is on record and is asked about before any other is opened. Throws AppError
   * PAYMENT_IN_PROGRESS, ORDER_ALREADY_PAID, or the gateway's refusal (GATEWAY_*).
   */
  async open(
    order: OrderRecord,
    shopper: Shopper,
    channel: GatewayChannel,
    secondsLeft: number,
  ): Promise<BillClientParams> {
    const attempt = (at: Date): BillRecord => ({
      billNo: newBillNo(at),
      orderNo: order.orderNo,
      channel,
      amount: order.amount,
      status: 'creating',
      payer: shopper.openid,
      createdAt: at,
      updatedAt: at,
    });
    // The usual case, a first attempt, costs one insert; only a conflict looks at what is there.
    let bill = attempt(this.clock());
    if (!(await this.store.bills.insertBill(bill))) {
      const active = await this.store.bills.findActiveBill(order.orderNo, channel);
      if (active) {
        const again = await this.resumeBill(active, shopper);
        if (again) return again;
      }
      bill = attempt(this.clock());
      if (!(await this.store.bills.insertBill(bill))) throw paymentInProgress();
    }

    const creation = await this.gateway.createBill({
      billNo: bill.billNo,
      channel,
      amount: order.amount,
      title: order.title,
      notifyUrl: this.settings.notifyUrl,
      timeoutSeconds: secondsLeft,
      // The openid is WeChat's: only the in-WeChat channel takes it.
      openid: channel === 'WX_MINI' ? shopper.openid : undefined,
      optional: { orderNo: order.orderNo },
    });
    if (creation.outcome === 'created') {
      const { gatewayId, clientParams } = creation.bill;
      await this.store.bills.updateBill(bill.billNo, { status: 'open', gatewayId, clientParams }, this.clock());
      this.events.emit({ type: 'bill.opened', orderNo: order.orderNo, billNo: bill.billNo, channel });
      return clientParams;
    }
    if (creation.outcome === 'refused') {
      const refusal = { status: 'rejected' as const, error: creation.error.message };
      await this.store.bills.updateBill(bill.billNo, refusal, this.clock());
      throw creation.error;
    }
    // It stays `creating`: the next attempt and the sweeper ask the gateway about it first.
    await this.store.bills.updateBill(bill.billNo, { error: creation.error.message }, this.clock());
    this.log.warn('a bill creation got no readable answer; the gateway is asked about it before another opens', {
      orderNo: order.orderNo,
      billNo: bill.billNo,
      error: creation.error.message,
    });
    throw creation.error;
  }

  /**
   * The order already has a bill in flight on this channel and the shopper pays again: what the
   * gateway says about that bill decides. Returns the parameters to hand out again; or undefined
   * when that bill is over (failed, closed, never received, or no longer known to the gateway),
   * so a new one may be opened. Throws ORDER_ALREADY_PAID when the gateway says it was paid, and
   * PAYMENT_IN_PROGRESS while it may still be paid but cannot be handed out.
   *
   * A bill the gateway made whose answer we lost (seed 001 §4.2.1) cannot be handed out and
   * cannot be replaced while it is open: the query (§4.4.1, §4.4.7) gives no payment parameters
   * back (they are signed by the channel, e.g. WeChat's `pay_sign`); its `bill_no` cannot be sent
   * again to get them ("同一订单号不可重复提交", §4.2.1; "不论是否支付成功都不能重复使用", §1.2.2.1); and the
   * manual has no way to close an online bill, which ends only at its `bill_timeout` (the
   * order's deadline). A second bill meanwhile would leave two open at the gateway for one order,
   * so none is opened: the order waits (its bill is watched by the sweeper, and a payment on it
   * counts), and on Douyin the cashier offers the other leg.
   */
  private async resumeBill(active: BillRecord, shopper: Shopper): Promise<BillClientParams | undefined> {
    const age = this.clock().getTime() - active.createdAt.getTime();
    if (active.status === 'creating' && active.error === undefined && age < this.settings.staleCreatingBillMs) {
      throw paymentInProgress();
    }
    const handedOut = active.status === 'open' && active.payer === shopper.openid ? active.clientParams : undefined;
    // Handing out again what the gateway made needs asking at most once per order per interval, with
    // the polls and the sweeper: a shopper tapping Pay over and over must not hammer the gateway.
    if (handedOut && !(await this.claimCheckNow(active.orderNo))) return handedOut;
    let state;
    try {
      state = await this.gateway.queryBill(active.billNo);
    } catch (error) {
      // The gateway cannot be asked now: what the shopper already holds is still the best answer.
      if (handedOut) return handedOut;
      throw error;
    }
    if (!state) {
      if (active.status === 'open') {
        return this.retireBill(active.billNo, 'abandoned', 'the gateway no longer knows this bill');
      }
      if (age < this.settings.unconfirmedBillGraceMs) throw paymentInProgress();
      return this.retireBill(active.billNo, 'rejected', 'the gateway never received this bill');
    }
    if (state.outcome === 'paid') {
      const recorded = await this.verdicts.recordPayment({
        billNo: active.billNo,
        amount: state.amount,
        source: 'query',
        gatewayTradeNo: state.gatewayTradeNo,
        detail: state.detail,
      });
      if (recorded.disposition === 'amount_mismatch') throw paymentInProgress();
      throw new AppError('ORDER_ALREADY_PAID', `Order ${active.orderNo} is already paid`);
    }
    if (state.outcome === 'failed' || state.outcome === 'closed') return this.retireBill(active.billNo, state.outcome);
    if (handedOut) return handedOut;
    this.log.warn('an open bill whose parameters were lost blocks a new one until the gateway closes it', {
      orderNo: active.orderNo,
      billNo: active.billNo,
    });
    throw new AppError(
      'PAYMENT_IN_PROGRESS',
      "A payment for this order is open at the gateway, but its parameters were lost with the gateway's answer: " +
        'the order can be paid again once the gateway closes it',
    );
  }

  /** Takes the right to ask the gateway about this order now, unless anyone asked within the interval. */
  private claimCheckNow(orderNo: string): Promise<boolean> {
    const now = this.clock();
    const lastCheckBefore = new Date(now.getTime() - this.settings.gatewayCheckIntervalMs);
    return this.store.orders.claimGatewayCheck(orderNo, now, lastCheckBefore, now);
  }

  /**
   * Ends a bill that is still `creating` or `open`, and only then: a verdict that came meanwhile
   * (a webhook) wins. Returns undefined, so the caller opens a new bill; throws
   * PAYMENT_IN_PROGRESS when something else changed the bill first.
   */
  private async retireBill(
    billNo: string,
    status: 'rejected' | 'abandoned' | 'failed' | 'closed',
    error?: string,
  ): Promise<undefined> {
    const retired = await this.store.transaction(async (tx) => {
      const locked = await tx.bills.lockBillWithOrder(billNo);
      if (!locked || !ACTIVE_BILL_STATUSES.has(locked.bill.status)) return false;
      await tx.bills.updateBill(billNo, { status, error }, this.clock());
      return true;
    });
    if (!retired) throw paymentInProgress();
    return undefined;
  }
}

function paymentInProgress(): AppError {
  return new AppError('PAYMENT_IN_PROGRESS', 'A payment for this order is being created: retry in a moment');
}
