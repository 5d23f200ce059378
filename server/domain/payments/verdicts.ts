import type { CheckoutSettings } from '../checkout-settings';
import { AppError } from '../errors';
import { echoed } from '../text';
import type { Fen } from '../money';
import type { CheckoutEvents, Logger } from '../observability';
import type { PaymentProviderId, ProviderBillState } from '../payment-provider';
import type { PaymentProviders } from '../payment-providers';
import type { Clock, LeasedBill, LeasedOrderCheck, OrderMemory, PaymentDisposition } from '../ports';
import type { UnitOfWork } from '../repositories';
import { ACTIVE_BILL_STATUSES } from './bill-status';

const MAX_BACKGROUND_CHECKS = 16;

/** Told when a second payment for an already paid order was recorded, so it can go back. */
export interface SecondPaymentHandler {
  secondPaymentRecorded(billNo: string): void;
}

/**
 * The providers' verdicts on bills: what a provider's notification or its answer to our own query
 * says was paid, failed or closed, recorded exactly once. Only a verified notification or the
 * answer to a query, from the provider the bill was opened at, ever marks an order paid.
 */
export class PaymentVerdicts {
  private readonly backgroundChecks = new Set<Promise<void>>();

  constructor(
    private readonly store: Pick<UnitOfWork, 'bills' | 'orders' | 'transaction'>,
    private readonly providers: PaymentProviders,
    private readonly clock: Clock,
    private readonly settings: Pick<CheckoutSettings, 'gatewayCheckIntervalMs' | 'webhookGraceMs' | 'notifyMerchant'>,
    private readonly log: Logger,
    private readonly events: CheckoutEvents,
    private readonly memory: OrderMemory,
    private readonly secondPayments?: SecondPaymentHandler,
  ) {}

  /**
   * Asks the providers about a pending order without anyone waiting, if no instance did lately.
   * At most MAX_BACKGROUND_CHECKS at once per instance: a hung provider must not take every
   * connection to it (the sweeper asks about the orders skipped here).
   */
  checkInBackground(orderNo: string): void {
    if (this.backgroundChecks.size >= MAX_BACKGROUND_CHECKS) return;
    const now = this.clock();
    const task = this.store.orders
      .claimGatewayCheck(
        orderNo,
        now,
        new Date(now.getTime() - this.settings.gatewayCheckIntervalMs),
        new Date(now.getTime() - this.settings.webhookGraceMs),
      )
      .then((claimed) => (claimed ? this.checkOrder(orderNo) : undefined))
      .catch((error: unknown) => {
        this.log.warn('gateway check failed; the order stays pending until the next check', {
          orderNo,
          error: error instanceof Error ? error.message : String(error),
        });
      });
    this.backgroundChecks.add(task);
    void task.finally(() => this.backgroundChecks.delete(task));
  }

  /** Waits for the provider checks started in the background (stopping cleanly). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.backgroundChecks]);
  }

  /**
   * Asks the provider of every bill of a pending order that still awaits a verdict, and records
   * what it says exactly as a notification would; then expires the order if its deadline has
   * passed and nothing was paid. The caller holds the right to ask (a lease or a claim), so every
   * instance together asks at most once per order per interval. Throws AppError GATEWAY_* when a
   * provider cannot answer: the order then stays as it is.
   */
  async checkOrder(orderNo: string): Promise<void> {
    const order = await this.store.orders.findOrder(orderNo);
    if (!order || order.status !== 'pending') return;
    const bills = (await this.store.bills.listBills(orderNo))
      .filter((bill) => ACTIVE_BILL_STATUSES.has(bill.status))
      .map(({ billNo, provider, channel }) => ({ billNo, provider, channel }));
    await this.checkLeasedOrder({ orderNo, status: 'pending', expiresAt: order.expiresAt, bills });
  }

  /**
   * `checkOrder` for an order the sweeper leased, whose lease already says what it is and which
   * bills await a verdict: no read before the providers are asked. Every open bill is asked
   * about at the provider it was opened at, so money paid on two of them is found twice (the
   * second is returned). Past the deadline, with nothing paid on them, the bills still payable
   * are closed at their provider where it can close one (a close answered `paid` is recorded
   * from a query, and the order does not expire); the gateway cannot, and closed them itself
   * then (their `bill_timeout` is the order's time left). Where the payer's side makes the
   * provider's order (`payerMadeBills`), a bill not yet made or still payable keeps the order
   * pending until `payableBeyondDeadlineMs` past the deadline. Then the bills are closed here and
   * a pending order expires.
   */
  async checkLeasedOrder(order: LeasedOrderCheck): Promise<void> {
    const { orderNo } = order;
    let paid = false;
    const payable: LeasedBill[] = [];
    // The latest moment a bill made by the payer's side may still be paid (see `payerMadeBills`).
    let payableUntil = order.expiresAt.getTime();
    for (const bill of order.bills) {
      const provider = this.providers.get(bill.provider);
      const state = await provider.queryBill(bill.billNo, bill.channel);
      if (provider.payerMadeBills && (!state || state.outcome === 'unknown')) {
        payableUntil = Math.max(
          payableUntil,
          order.expiresAt.getTime() + provider.payerMadeBills.payableBeyondDeadlineMs,
        );
      }
      // No such bill at the provider: where we make the provider's orders, its creation never
      // arrived, so nothing can be paid on it; where the payer's side makes them, not yet.
      if (!state) continue;
      if (state.outcome === 'unknown') {
        payable.push(bill);
        continue;
      }
      if (state.outcome === 'paid') {
        await this.recordQueriedPayment(bill, state);
        paid = true;
        continue;
      }
      await this.recordBillClosed(bill.billNo, state.outcome);
    }
    const now = this.clock();
    if (paid || now.getTime() < order.expiresAt.getTime()) return;
    // What was handed out before the deadline may still make a payable order at such a provider,
    // which no one can close: the order waits, watched, until nothing made from it can be paid.
    if (now.getTime() < payableUntil) return;
    if (await this.closeAtProviders(payable)) return;
    const expired = await this.store.transaction(async (tx) => {
      await tx.bills.closeOpenBills(orderNo, now);
      if (order.status !== 'pending') return false;
      const changed = await tx.orders.updateOrderStatus(orderNo, 'expired', now, ['pending', 'failed', 'closed']);
      if (changed && this.settings.notifyMerchant)
        await tx.merchantNotifications.enqueueMerchantNotification(orderNo, 'expired', now);
      return changed;
    });
    if (expired) {
      this.events.emit({ type: 'order.expired', orderNo, confirmedByGateway: true });
      this.memory.forgetOrder(orderNo);
    }
  }

  /**
   * Closes, at their providers, the bills of an order past its deadline that were still payable,
   * where the provider can close one. True when one turned out paid meanwhile (recorded from the
   * provider's query): the order is then not expired. Throws the provider's GATEWAY_* when a
   * close cannot be told: the order stays as it is until the next check.
   */
  private async closeAtProviders(payable: readonly LeasedBill[]): Promise<boolean> {
    let paid = false;
    for (const bill of payable) {
      const provider = this.providers.get(bill.provider);
      if (!provider.closeBill) continue;
      if ((await provider.closeBill(bill.billNo, bill.channel)) === 'closed') continue;
      const state = await provider.queryBill(bill.billNo, bill.channel);
      if (state?.outcome !== 'paid') {
        throw new AppError(
          'GATEWAY_ERROR',
          `Payment provider ${provider.id} refused to close bill ${bill.billNo} as paid, but its query does not say paid`,
          { provider: provider.id },
        );
      }
      await this.recordQueriedPayment(bill, state);
      paid = true;
    }
    return paid;
  }

  /** `recordPayment` of what the bill's provider answered our query with (its `paid` state). */
  recordQueriedPayment(
    bill: { billNo: string; provider: PaymentProviderId },
    state: ProviderBillState,
  ): Promise<{ duplicate: boolean; disposition?: PaymentDisposition }> {
    return this.recordPayment({
      billNo: bill.billNo,
      provider: bill.provider,
      amount: state.amount,
      source: 'query',
      tradeNo: state.tradeNo,
      detail: state.detail,
    });
  }

  /**
   * Records that a provider says a bill it opened was paid (its notification, or its answer to
   * our query), exactly once per bill: a payment with the bill's fee counts once (`applied`, or `refund_due`
   * when another bill already paid the order, which is then returned automatically when that is
   * on); one with another fee is kept once per fee as `amount_mismatch` and never shadows the
   * bill's true payment. Throws AppError WEBHOOK_UNKNOWN_TRANSACTION for a bill we never opened
   * at that provider.
   */
  async recordPayment(payment: {
    billNo: string;
    provider: PaymentProviderId;
    amount: Fen;
    source: 'webhook' | 'query';
    tradeNo?: string;
    detail: unknown;
  }): Promise<{ duplicate: boolean; disposition?: PaymentDisposition }> {
    const verdict = await this.store.bills.recordPaidVerdict(
      { ...payment, receivedAt: this.clock() },
      this.settings.notifyMerchant,
    );
    if (!verdict.found) {
      throw new AppError(
        'WEBHOOK_UNKNOWN_TRANSACTION',
        `No bill ${echoed(payment.billNo)} opened at ${payment.provider} here`,
      );
    }
    if (verdict.recorded === null) return { duplicate: true };
    this.events.emit({
      type: 'payment.recorded',
      orderNo: verdict.orderNo,
      billNo: payment.billNo,
      provider: payment.provider,
      amount: payment.amount,
      billAmount: verdict.billAmount,
      source: payment.source,
      disposition: verdict.recorded,
    });
    if (verdict.recorded === 'refund_due') this.secondPayments?.secondPaymentRecorded(payment.billNo);
    this.memory.forgetOrder(verdict.orderNo);
    return { duplicate: false, disposition: verdict.recorded };
  }

  /**
   * The answer of a bill's provider to our query says it failed or closed (no notification moves
   * a bill so: the gateway sends them only for successes). The order follows unless another
   * attempt is in flight.
   */
  private async recordBillClosed(billNo: string, outcome: 'failed' | 'closed'): Promise<void> {
    const changedOrder = await this.store.transaction(async (tx) => {
      const locked = await tx.bills.lockBillWithOrder(billNo);
      if (!locked || !ACTIVE_BILL_STATUSES.has(locked.bill.status)) return undefined;
      const { order } = locked;
      const now = this.clock();
      await tx.bills.updateBill(billNo, { status: outcome }, now);
      const others = (await tx.bills.listBills(order.orderNo)).filter(
        (other) => other.billNo !== billNo && ACTIVE_BILL_STATUSES.has(other.status),
      );
      // A stale verdict on an earlier attempt must not overrule the attempt the shopper is in now.
      if (others.length === 0) await tx.orders.updateOrderStatus(order.orderNo, outcome, now, ['pending']);
      return order.orderNo;
    });
    if (changedOrder) this.memory.forgetOrder(changedOrder);
  }
}
