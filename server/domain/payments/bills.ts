import type { CheckoutSettings } from '../checkout-settings';
import { AppError } from '../errors';
import { newBillNo } from '../identifiers';
import type { CheckoutEvents, Logger } from '../observability';
import type { BillClientParams, PaymentChannel, PaymentProvider, ProviderBillState } from '../payment-provider';
import type { PaymentProviders } from '../payment-providers';
import type { BillRecord, Clock, OrderRecord } from '../ports';
import type { UnitOfWork } from '../repositories';
import type { Shopper } from '../sessions';
import { ACTIVE_BILL_STATUSES } from './bill-status';
import type { PaymentVerdicts } from './verdicts';

/**
 * Payment attempts (bills) at the payment providers: opened once per order and channel at the
 * provider the configuration routes that channel to, handed out again while open, and replaced
 * only when the provider the bill was opened at says the previous one is over.
 */
export class BillService {
  constructor(
    private readonly store: Pick<UnitOfWork, 'bills' | 'orders' | 'transaction'>,
    private readonly providers: PaymentProviders,
    private readonly clock: Clock,
    private readonly settings: Pick<
      CheckoutSettings,
      'gatewayCheckIntervalMs' | 'staleCreatingBillMs' | 'unconfirmedBillGraceMs'
    >,
    private readonly log: Logger,
    private readonly events: CheckoutEvents,
    private readonly verdicts: PaymentVerdicts,
  ) {}

  /** Whether new bills of this channel are opened on this instance (`TT_MINI` only with Douyin's current systems). */
  offers(channel: PaymentChannel): boolean {
    return this.providers.offers(channel);
  }

  /**
   * The parameters of this order's bill still in flight on `channel`, handed out again, when the
   * channel is no longer where new bills go (a payment system switched while the order was open):
   * undefined when there is none or its provider says it is over. Throws as `open` does for such a
   * bill (PAYMENT_IN_PROGRESS, ORDER_ALREADY_PAID, GATEWAY_*).
   */
  async resumeEarlier(
    order: OrderRecord,
    shopper: Shopper,
    channel: PaymentChannel,
  ): Promise<BillClientParams | undefined> {
    const active = await this.store.bills.findActiveBill(order.orderNo, channel);
    return active ? this.resumeBill(active, shopper, order.expiresAt) : undefined;
  }

  /** The channels this order has a bill in flight on (one read of its bills). */
  async activeChannels(orderNo: string): Promise<Set<PaymentChannel>> {
    const bills = await this.store.bills.listBills(orderNo);
    return new Set(bills.filter((bill) => ACTIVE_BILL_STATUSES.has(bill.status)).map((bill) => bill.channel));
  }

  /**
   * The open bill of this order on this channel: the one the shopper already has (tapping Pay
   * again must not open a second), or a new one with a fresh bill_no. The bill is stored as
   * `creating` before its request leaves, so whatever happens to the request (no answer, a crash)
   * the attempt is on record and is asked about before any other is opened. Throws AppError
   * PAYMENT_IN_PROGRESS, ORDER_ALREADY_PAID, or the provider's refusal (GATEWAY_*).
   */
  async open(
    order: OrderRecord,
    shopper: Shopper,
    channel: PaymentChannel,
    secondsLeft: number,
  ): Promise<BillClientParams> {
    const provider = this.providers.forChannel(channel);
    const attempt = (at: Date): BillRecord => ({
      billNo: newBillNo(at),
      orderNo: order.orderNo,
      channel,
      provider: provider.id,
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
        const again = await this.resumeBill(active, shopper, order.expiresAt);
        if (again) return again;
      }
      bill = attempt(this.clock());
      if (!(await this.store.bills.insertBill(bill))) throw paymentInProgress();
    }

    const creation = await provider.openBill({
      billNo: bill.billNo,
      orderNo: order.orderNo,
      channel,
      amount: order.amount,
      title: order.title,
      expiresAt: order.expiresAt,
      timeoutSeconds: secondsLeft,
      // The openid is WeChat's: only the in-WeChat channel takes it.
      openid: channel === 'WX_MINI' ? shopper.openid : undefined,
    });
    if (creation.outcome === 'created') {
      const { providerId: providerBillId, clientParams } = creation.bill;
      await this.store.bills.updateBill(bill.billNo, { status: 'open', providerBillId, clientParams }, this.clock());
      this.events.emit({
        type: 'bill.opened',
        orderNo: order.orderNo,
        billNo: bill.billNo,
        provider: provider.id,
        channel,
      });
      return clientParams;
    }
    if (creation.outcome === 'refused') {
      const refusal = { status: 'rejected' as const, error: creation.error.message };
      await this.store.bills.updateBill(bill.billNo, refusal, this.clock());
      throw creation.error;
    }
    // It stays `creating`: the next attempt and the sweeper ask its provider about it first.
    await this.store.bills.updateBill(bill.billNo, { error: creation.error.message }, this.clock());
    this.log.warn('a bill creation got no readable answer; its provider is asked about it before another opens', {
      orderNo: order.orderNo,
      billNo: bill.billNo,
      provider: provider.id,
      error: creation.error.message,
    });
    throw creation.error;
  }

  /**
   * The order already has a bill in flight on this channel and the shopper pays again: what the
   * provider that bill was opened at says about it decides (not the one new bills go to now).
   * Returns the parameters to hand out again; or undefined when that bill is over (failed,
   * closed, never received, or no longer known to its provider), so a new one may be opened.
   * Throws ORDER_ALREADY_PAID when the provider says it was paid, PAYMENT_IN_PROGRESS while it
   * may still be paid but cannot be handed out, and the provider's GATEWAY_* when it cannot be
   * asked (or closed) and nothing can be handed out.
   *
   * A bill the provider made whose answer we lost cannot be handed out: no query gives payment
   * parameters back (they are signed by the channel, e.g. WeChat's `pay_sign`), and its number
   * cannot be sent again to get them (the gateway: "同一订单号不可重复提交", seed 001 §4.2.1, "不论是否
   * 支付成功都不能重复使用", §1.2.2.1). A second bill meanwhile would leave two open for one order, so
   * it is closed first where the provider can close one (WeChat Pay's close order): closed, a new
   * one opens; paid meanwhile, the payment is recorded from a query. The gateway has no way to
   * close an online bill, which ends only at its `bill_timeout` (the order's deadline): there the
   * order waits (its bill is watched by the sweeper, and a payment on it counts), and on Douyin
   * the cashier offers the other leg.
   */
  private async resumeBill(
    active: BillRecord,
    shopper: Shopper,
    expiresAt: Date,
  ): Promise<BillClientParams | undefined> {
    const age = this.clock().getTime() - active.createdAt.getTime();
    if (active.status === 'creating' && active.error === undefined && age < this.settings.staleCreatingBillMs) {
      throw paymentInProgress();
    }
    const handedOut =
      active.status === 'open' && active.payer === shopper.openid && !this.lapsed(active, age)
        ? active.clientParams
        : undefined;
    // Handing out again what the provider made needs asking at most once per order per interval, with
    // the polls and the sweeper: a shopper tapping Pay over and over must not hammer the provider.
    if (handedOut && !(await this.claimCheckNow(active.orderNo)))
      return this.handOutAgain(active, handedOut, expiresAt);
    let provider: PaymentProvider;
    let state;
    try {
      provider = this.providers.get(active.provider);
      state = await provider.queryBill(active.billNo, active.channel);
    } catch (error) {
      // The provider cannot be asked now: what the shopper already holds is still the best answer.
      if (handedOut) return this.handOutAgain(active, handedOut, expiresAt);
      throw error;
    }
    if (!state) {
      // Where the payer's side makes the provider's order, one it does not know yet may still be
      // made from what was handed out: a second bill then could be paid beside it. The same one
      // is handed out again, signed afresh.
      if (active.status === 'open' && provider.payerMadeBills && active.clientParams) {
        return this.handOutAgain(active, active.clientParams, expiresAt);
      }
      if (active.status === 'open') {
        return this.retireBill(active.billNo, 'abandoned', 'the provider no longer knows this bill');
      }
      if (age < this.settings.unconfirmedBillGraceMs) throw paymentInProgress();
      return this.retireBill(active.billNo, 'rejected', 'the provider never received this bill');
    }
    if (state.outcome === 'paid') return this.recordPaidBill(active, state);
    if (state.outcome === 'failed' || state.outcome === 'closed') return this.retireBill(active.billNo, state.outcome);
    if (handedOut) return this.handOutAgain(active, handedOut, expiresAt);
    if (provider.closeBill) {
      this.log.warn('an open bill whose parameters were lost is closed at its provider so a new one can open', {
        orderNo: active.orderNo,
        billNo: active.billNo,
        provider: provider.id,
      });
      const closing = await provider.closeBill(active.billNo, active.channel);
      if (closing === 'closed') return this.retireBill(active.billNo, 'closed', 'closed so a new bill could open');
      const paid = await provider.queryBill(active.billNo, active.channel);
      if (paid?.outcome === 'paid') return this.recordPaidBill(active, paid);
      throw paymentInProgress();
    }
    this.log.warn('an open bill whose parameters were lost blocks a new one until its provider closes it', {
      orderNo: active.orderNo,
      billNo: active.billNo,
      provider: provider.id,
    });
    throw new AppError(
      'PAYMENT_IN_PROGRESS',
      "A payment for this order is open at the payment provider, but its parameters were lost with the provider's " +
        'answer: the order can be paid again once the provider closes it',
    );
  }

  /**
   * Whether what was handed out for `active` has outlived its provider's `clientParamsValidMs`
   * (`age`: ms since the bill was created): then it is not handed out again, as if it were lost.
   */
  private lapsed(active: BillRecord, age: number): boolean {
    let validMs: number | undefined;
    try {
      validMs = this.providers.get(active.provider).clientParamsValidMs;
    } catch {
      return false;
    }
    return validMs !== undefined && age >= validMs;
  }

  /**
   * What was handed out for `active`, made fit to hand out again by the provider it was opened at
   * (`reissueClientParams`: e.g. a fresh signature over the time left); as stored when that
   * provider has no such step or is not configured here.
   */
  private async handOutAgain(active: BillRecord, params: BillClientParams, expiresAt: Date): Promise<BillClientParams> {
    let provider: PaymentProvider;
    try {
      provider = this.providers.get(active.provider);
    } catch {
      return params;
    }
    return provider.reissueClientParams ? provider.reissueClientParams(params, expiresAt) : params;
  }

  /**
   * Records what the provider's query said was paid, and throws what the shopper is answered:
   * ORDER_ALREADY_PAID, or PAYMENT_IN_PROGRESS when the fee differs from the bill (kept for a person).
   */
  private async recordPaidBill(active: BillRecord, state: ProviderBillState): Promise<never> {
    const recorded = await this.verdicts.recordQueriedPayment(active, state);
    if (recorded.disposition === 'amount_mismatch') throw paymentInProgress();
    throw new AppError('ORDER_ALREADY_PAID', `Order ${active.orderNo} is already paid`);
  }

  /** Takes the right to ask the provider about this order now, unless anyone asked within the interval. */
  private claimCheckNow(orderNo: string): Promise<boolean> {
    const now = this.clock();
    const lastCheckBefore = new Date(now.getTime() - this.settings.gatewayCheckIntervalMs);
    return this.store.orders.claimGatewayCheck(orderNo, now, lastCheckBefore, now);
  }

  /**
   * Ends a bill that is still `creating` or `open`, and only then: a verdict that came meanwhile
   * (a notification) wins. Returns undefined, so the caller opens a new bill; throws
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
