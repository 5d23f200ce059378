import type { SecondPaymentHandler } from './payments/verdicts';
import type { CheckoutEvents, Logger } from './observability';
import { AppError } from './errors';
import { chinaDate8, hashRequest, newRefundNo } from './identifiers';
import type { Fen } from './money';
import { KEPT_KINDS, type PaymentProvider, type PaymentProviderId } from './payment-provider';
import type { PaymentProviders } from './payment-providers';
import type { Clock, PaymentRecord, RefundRecord } from './ports';
import type { UnitOfWork } from './repositories';

export interface RefundSettings {
  /** Queue each final refund for the merchant's notification URL. */
  notifyMerchant: boolean;
  /** Return a second payment for an already paid order by itself. */
  autoRefundDuplicates: boolean;
  /** How often a refund still pending at its provider is asked about, ms. */
  checkIntervalMs: number;
  /**
   * A refund whose request got no answer and that its provider still does not know this long
   * after it was sent never arrived: at a provider without idempotent refunds it is failed, never
   * sent again (a resent `refund_no` may be refunded twice there). A provider with idempotent
   * refunds is sent the same request again instead, and this does not apply. Must be well above
   * the provider client's timeout, or a request still open could be declared lost. ms.
   */
  unknownOutcomeGraceMs: number;
}

export const DEFAULT_REFUND_SETTINGS: Omit<RefundSettings, 'notifyMerchant'> = {
  autoRefundDuplicates: true,
  checkIntervalMs: 10_000,
  unknownOutcomeGraceMs: 60_000,
};

/** A refund as the merchant API shows it. Amounts in fen, times ISO 8601. */
export interface RefundView {
  refundNo: string;
  orderNo: string;
  amount: Fen;
  status: RefundRecord['status'];
  /** `merchant`: asked through the merchant API; `duplicate`: a second payment returned by itself. */
  kind: RefundRecord['kind'];
  reason: string | null;
  createdAt: string;
  finishedAt?: string;
  /** Why it failed, in the provider's words where it gave them. */
  failureReason?: string;
}

export function toRefundView(refund: RefundRecord): RefundView {
  return {
    refundNo: refund.refundNo,
    orderNo: refund.orderNo,
    amount: refund.amount,
    status: refund.status,
    kind: refund.kind,
    reason: refund.reason ?? null,
    createdAt: refund.createdAt.toISOString(),
    finishedAt: refund.finishedAt?.toISOString(),
    failureReason: refund.status === 'failed' ? refund.failure : undefined,
  };
}

/**
 * Refunds, at the provider the paid bill was opened at (the gateway: seed 001 §4.3.1): a
 * merchant's, and the automatic return of a second payment. A refund is stored before it is sent
 * and marked submitted just before the request leaves, so a crash at any point either leaves it
 * unsent (sent later) or submitted (its outcome learned from the provider's notification or its
 * query, never sent twice).
 */
export class RefundService implements SecondPaymentHandler {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly store: Pick<UnitOfWork, 'bills' | 'refunds' | 'unmatchedMessages' | 'transaction'>,
    private readonly providers: PaymentProviders,
    private readonly clock: Clock,
    private readonly settings: RefundSettings,
    private readonly log: Logger,
    private readonly events: CheckoutEvents,
  ) {}

  /**
   * A merchant's refund of part or all of a paid order. The same Idempotency-Key answers the
   * same refund (`created: false`). Throws AppError ORDER_NOT_FOUND, ORDER_NOT_PAID,
   * REFUND_EXCEEDS_PAID (more than is left of what was paid, counting pending refunds) and
   * IDEMPOTENCY_KEY_REUSED (the key was used for another amount or reason).
   */
  async refund(
    orderNo: string,
    request: { amount: Fen; reason?: string },
    idempotencyKey: string,
  ): Promise<{ refund: RefundView; created: boolean }> {
    const requestHash = hashRequest({ amount: request.amount, reason: request.reason ?? null });
    const previous = await this.store.refunds.findRefundByIdempotencyKey(orderNo, idempotencyKey);
    if (previous) return { refund: this.replay(previous, requestHash), created: false };

    const now = this.clock();
    const outcome = await this.store.transaction(
      async (tx): Promise<{ created: RefundRecord } | { replay: RefundRecord } | null> => {
        // The order's row lock makes concurrent refunds of one order take turns: each one sees
        // what the others reserved.
        const order = await tx.orders.findOrder(orderNo, { forUpdate: true });
        if (!order) throw new AppError('ORDER_NOT_FOUND', `No order ${orderNo}`);
        // A retry that waited for the lock behind its own first attempt answers that attempt's refund.
        const raced = await tx.refunds.findRefundByIdempotencyKey(orderNo, idempotencyKey);
        if (raced) return { replay: raced };
        const balance = await tx.refunds.refundBalance(orderNo);
        if (order.status !== 'paid' || !balance.bill) {
          throw new AppError(
            'ORDER_NOT_PAID',
            `Order ${orderNo} is ${order.status}: only a paid order can be refunded`,
          );
        }
        const refundable = balance.paid - balance.reserved;
        if (request.amount > refundable) {
          throw new AppError(
            'REFUND_EXCEEDS_PAID',
            `Refund of ${request.amount} fen exceeds what is left to refund: ${refundable} of ${balance.paid} fen`,
            { refundable },
          );
        }
        const refund: RefundRecord = {
          refundNo: newRefundNo(now),
          orderNo,
          billNo: balance.bill.billNo,
          channel: balance.bill.channel,
          provider: balance.bill.provider,
          amount: request.amount,
          reason: request.reason,
          kind: 'merchant',
          idempotencyKey,
          requestHash,
          status: 'pending',
          createdAt: now,
          // This request sends it now; a sweeper takes it over only if this one dies.
          nextCheckAt: new Date(now.getTime() + this.settings.checkIntervalMs),
        };
        return (await tx.refunds.insertRefund(refund)) ? { created: refund } : null;
      },
    );
    if (outcome && 'replay' in outcome) return { refund: this.replay(outcome.replay, requestHash), created: false };
    const created = outcome?.created;
    if (!created) {
      // A concurrent request with the same key won the insert.
      const winner = await this.store.refunds.findRefundByIdempotencyKey(orderNo, idempotencyKey);
      if (!winner) throw new Error('refund insert conflicted but no refund holds the idempotency key');
      return { refund: this.replay(winner, requestHash), created: false };
    }
    this.events.emit({
      type: 'refund.requested',
      orderNo,
      refundNo: created.refundNo,
      provider: created.provider,
      amount: created.amount,
      kind: 'merchant',
    });
    return { refund: toRefundView(await this.submit(created)), created: true };
  }

  private replay(previous: RefundRecord, requestHash: string): RefundView {
    if (previous.requestHash !== requestHash) {
      throw new AppError(
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was already used for a different refund: use a new key for a new refund',
        { refundNo: previous.refundNo },
      );
    }
    return toRefundView(previous);
  }

  /** The refunds of an order, oldest first. */
  async listRefunds(orderNo: string): Promise<RefundView[]> {
    return (await this.store.refunds.listRefunds(orderNo)).map(toRefundView);
  }

  /** A second payment was just recorded: return it now rather than at the next sweep. */
  secondPaymentRecorded(billNo: string): void {
    if (!this.settings.autoRefundDuplicates) return;
    this.track(
      this.createMissingDuplicateRefunds(10).catch((error: unknown) => {
        this.log.warn('returning a second payment failed; the sweeper tries again', {
          billNo,
          error: error instanceof Error ? error.message : String(error),
        });
      }),
    );
  }

  /**
   * Creates the automatic refund of up to `limit` second payments that have none, and sends
   * them. At most one per payment, whatever the instances or crashes (a unique index says so).
   */
  async createMissingDuplicateRefunds(limit: number): Promise<number> {
    if (!this.settings.autoRefundDuplicates) return 0;
    let created = 0;
    for (const payment of await this.store.bills.listDuplicatesWithoutRefund(limit)) {
      const bill = await this.store.bills.findBill(payment.billNo);
      if (!bill) throw new Error(`payment of bill ${payment.billNo} without its bill`);
      const refund = this.duplicateRefundOf(payment, bill.provider);
      if (!(await this.store.refunds.insertRefund(refund))) continue;
      created += 1;
      this.events.emit({
        type: 'refund.requested',
        orderNo: payment.orderNo,
        refundNo: refund.refundNo,
        provider: refund.provider,
        amount: payment.amount,
        kind: 'duplicate',
      });
      await this.submit(refund);
    }
    return created;
  }

  private duplicateRefundOf(payment: PaymentRecord, provider: PaymentProviderId): RefundRecord {
    const now = this.clock();
    return {
      refundNo: newRefundNo(now),
      orderNo: payment.orderNo,
      billNo: payment.billNo,
      channel: payment.channel,
      provider,
      amount: payment.amount,
      reason: 'second payment for an order already paid',
      kind: 'duplicate',
      status: 'pending',
      createdAt: now,
      nextCheckAt: new Date(now.getTime() + this.settings.checkIntervalMs),
    };
  }

  /**
   * Sends up to `limit` refunds that are due: unsent ones (their sender died) are sent, sent
   * ones are asked about. Leased, so several instances share them.
   */
  async processDue(limit: number): Promise<number> {
    const now = this.clock();
    const due = await this.store.refunds.leaseDueRefunds(
      now,
      new Date(now.getTime() + this.settings.checkIntervalMs),
      limit,
    );
    for (const refund of due) {
      try {
        if (refund.submittedAt) await this.check(refund);
        else await this.submit(refund);
      } catch (error) {
        this.log.warn('refund check failed; it is asked about again later', {
          refundNo: refund.refundNo,
          provider: refund.provider,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    return due.length;
  }

  /** Sends a refund that was never sent; answers it as it stands afterwards. */
  private async submit(refund: RefundRecord): Promise<RefundRecord> {
    // Asked before the refund is claimed as sent: on an instance not configured for the bill's
    // provider it stays unsent (pending) for one that is, instead of being taken for a request
    // whose answer was lost and failed later.
    let provider: PaymentProvider;
    try {
      provider = this.providers.get(refund.provider);
    } catch (error) {
      this.log.warn('a refund waits for an instance configured for its provider', {
        refundNo: refund.refundNo,
        provider: refund.provider,
        error: error instanceof Error ? error.message : String(error),
      });
      return refund;
    }
    const now = this.clock();
    // A refund_no carries the day of its request: one left unsent past midnight gets a new one.
    const renumber = refund.refundNo.startsWith(chinaDate8(now)) ? undefined : newRefundNo(now);
    const claimed = await this.store.refunds.claimRefundSubmission(refund.refundNo, now, renumber);
    if (!claimed) return (await this.store.refunds.findRefund(refund.refundNo)) ?? refund;
    const bill = await this.store.bills.findBill(claimed.billNo);
    if (!bill) throw new Error(`refund ${claimed.refundNo} of bill ${claimed.billNo} without its bill`);
    const answer = await provider.createRefund({
      refundNo: claimed.refundNo,
      billNo: claimed.billNo,
      channel: claimed.channel,
      amount: claimed.amount,
      billAmount: bill.amount,
      reason: claimed.reason,
      orderNo: claimed.orderNo,
    });
    const at = this.clock();
    switch (answer.outcome) {
      case 'accepted':
        await this.store.refunds.markRefundAccepted(claimed.refundNo, answer.providerId, at);
        break;
      case 'refused':
        if (answer.retryable) {
          await this.store.refunds.unsubmitRefund(
            claimed.refundNo,
            new Date(at.getTime() + this.settings.checkIntervalMs),
            answer.reason,
          );
        } else {
          await this.finish(claimed.refundNo, { status: 'failed', at, failure: answer.reason });
        }
        break;
      case 'unknown':
        this.logUnknown(claimed, answer.reason);
        break;
    }
    return (await this.store.refunds.findRefund(claimed.refundNo)) ?? claimed;
  }

  private logUnknown(refund: RefundRecord, reason: string): void {
    const resent = this.providers.get(refund.provider).idempotentRefunds;
    this.log.warn(
      resent
        ? 'refund request got no answer: its provider is asked about it, and sent the same request again while it has none'
        : 'refund request got no answer: its outcome is asked of its provider, never sent again',
      { refundNo: refund.refundNo, provider: refund.provider, error: reason },
    );
  }

  /**
   * Sends again, unchanged, a refund whose earlier request got no answer and that its provider
   * (one with idempotent refunds) does not know: same refund number, bill and amount, so however
   * many of the requests arrived, it is refunded once. It stays submitted whatever the answer but
   * a definitive refusal, so it is never renumbered: the next check asks and, if need be, sends
   * it again.
   */
  private async resend(refund: RefundRecord): Promise<void> {
    const bill = await this.store.bills.findBill(refund.billNo);
    if (!bill) throw new Error(`refund ${refund.refundNo} of bill ${refund.billNo} without its bill`);
    const answer = await this.providers.get(refund.provider).createRefund({
      refundNo: refund.refundNo,
      billNo: refund.billNo,
      channel: refund.channel,
      amount: refund.amount,
      billAmount: bill.amount,
      reason: refund.reason,
      orderNo: refund.orderNo,
    });
    const at = this.clock();
    switch (answer.outcome) {
      case 'accepted':
        await this.store.refunds.markRefundAccepted(refund.refundNo, answer.providerId, at);
        return;
      case 'refused':
        if (!answer.retryable) {
          await this.finish(refund.refundNo, { status: 'failed', at, failure: answer.reason });
          return;
        }
        this.log.warn('a refund sent again was asked to wait: it is sent again later, unchanged', {
          refundNo: refund.refundNo,
          provider: refund.provider,
          error: answer.reason,
        });
        return;
      case 'unknown':
        this.logUnknown(refund, answer.reason);
        return;
    }
  }

  /** Asks its provider about a sent refund and settles it when the provider has. */
  private async check(refund: RefundRecord): Promise<void> {
    const provider = this.providers.get(refund.provider);
    const state = await provider.queryRefund(refund.refundNo, refund.channel);
    const now = this.clock();
    if (!state.found) {
      // Never accepted and unknown to its provider: the request may not have arrived. Where the
      // same request refunds once however often it comes, it is sent again until answered.
      if (!refund.acceptedAt && provider.idempotentRefunds) {
        await this.resend(refund);
        return;
      }
      const sentAt = refund.submittedAt?.getTime() ?? now.getTime();
      if (!refund.acceptedAt && now.getTime() - sentAt >= this.settings.unknownOutcomeGraceMs) {
        await this.finish(refund.refundNo, {
          status: 'failed',
          at: now,
          failure: 'the refund request got no answer and its provider has no such refund: it never arrived',
        });
      }
      return;
    }
    if (state.state === 'pending') {
      if (!refund.acceptedAt) await this.store.refunds.markRefundAccepted(refund.refundNo, undefined, now);
      return;
    }
    await this.finish(refund.refundNo, {
      status: state.state,
      at: now,
      failure: state.state === 'failed' ? (state.reason ?? 'the provider reports the refund failed') : undefined,
      detail: state.detail,
    });
  }

  /**
   * A verified notification from `provider`: the refund with this `refund_no` succeeded. Recorded
   * once; a message for a refund we do not have at that provider, for another bill than the
   * refund's (`billNo` or `billTradeNo`, where the message names one: see `otherBill`), or with
   * another fee, is kept for a person and changes nothing (the refund's query settles it).
   */
  async recordRefundSucceeded(
    provider: PaymentProviderId,
    message: { refundNo: string; amount: Fen; billNo?: string; billTradeNo?: string; detail: unknown },
  ): Promise<{ duplicate: boolean }> {
    const { refundNo, amount, detail } = message;
    const refund = await this.store.refunds.findRefund(refundNo);
    if (!refund || refund.provider !== provider) {
      this.log.warn('refund message for a refund this checkout did not make there: kept for review', {
        provider,
        refundNo,
        amount,
      });
      await this.keepUnmatched(
        provider,
        'refund.succeeded',
        refundNo,
        amount,
        `no such refund at ${provider} here`,
        detail,
      );
      return { duplicate: false };
    }
    const otherBill = await this.otherBill(provider, refund, message);
    if (otherBill) {
      await this.keepUnmatched(provider, 'refund.succeeded', refundNo, amount, otherBill, detail);
      return { duplicate: false };
    }
    if (refund.amount !== amount) {
      this.log.error('REFUND message fee differs from the refund: not applied, needs review', {
        refundNo,
        expected: refund.amount,
        received: amount,
      });
      await this.keepUnmatched(
        provider,
        'refund.succeeded',
        refundNo,
        amount,
        `fee differs from the refund's ${refund.amount}`,
        detail,
      );
      return { duplicate: false };
    }
    if (refund.status === 'failed') {
      this.log.error('the provider says a refund succeeded that was recorded failed: needs review', { refundNo });
      await this.keepUnmatched(provider, 'refund.succeeded', refundNo, amount, 'refund was recorded failed', detail);
      return { duplicate: false };
    }
    const finished = await this.finish(refundNo, { status: 'succeeded', at: this.clock(), detail });
    return { duplicate: finished === null };
  }

  /**
   * A verified notification from `provider`: the refund with this `refund_no` failed (WeChat
   * Pay's `REFUND.CLOSED`; the gateway sends none). It finishes a pending refund as failed
   * exactly once, as its query saying failed would; `reason` becomes its failure. A message for a
   * refund we do not have at that provider, for another bill than the refund's (`billNo` or
   * `billTradeNo`, where the message names one: see `otherBill`), or for one recorded succeeded, is
   * kept for a person and changes nothing.
   */
  async recordRefundFailed(
    provider: PaymentProviderId,
    message: { refundNo: string; reason: string; billNo?: string; billTradeNo?: string; detail: unknown },
  ): Promise<{ duplicate: boolean }> {
    const { refundNo, reason, detail } = message;
    const refund = await this.store.refunds.findRefund(refundNo);
    if (!refund || refund.provider !== provider) {
      this.log.warn('refund failure for a refund this checkout did not make there: kept for review', {
        provider,
        refundNo,
      });
      await this.keepUnmatched(provider, 'refund.failed', refundNo, 0, `no such refund at ${provider} here`, detail);
      return { duplicate: false };
    }
    const otherBill = await this.otherBill(provider, refund, message);
    if (otherBill) {
      await this.keepUnmatched(provider, 'refund.failed', refundNo, refund.amount, otherBill, detail);
      return { duplicate: false };
    }
    if (refund.status === 'succeeded') {
      this.log.error('the provider says a refund failed that was recorded succeeded: needs review', { refundNo });
      await this.keepUnmatched(
        provider,
        'refund.failed',
        refundNo,
        refund.amount,
        'refund was recorded succeeded',
        detail,
      );
      return { duplicate: false };
    }
    const finished = await this.finish(refundNo, { status: 'failed', at: this.clock(), failure: reason, detail });
    return { duplicate: finished === null };
  }

  /**
   * Why a verified message about `refund` is about another bill (logged as an error), or undefined
   * when it is not: it names our bill number (`billNo`) and that is not the refund's bill, or it
   * names the provider's number of the bill (`billTradeNo`, e.g. Douyin's `order_id`, the only
   * bill its refund callbacks carry) and that is none of the numbers the refund's bill is known by
   * here: the provider's id from its creation, the `tradeNo` its payment was recorded with. A bill
   * known by no such number (its payment's message carried none) leaves nothing to compare with:
   * the message is taken, the refund number being ours and signed.
   */
  private async otherBill(
    provider: PaymentProviderId,
    refund: RefundRecord,
    message: { billNo?: string; billTradeNo?: string },
  ): Promise<string | undefined> {
    // The signed numbers are quoted escaped: they may hold what no stored text can.
    let reason: string | undefined;
    if (message.billNo !== undefined && message.billNo !== refund.billNo) {
      reason = `names bill ${JSON.stringify(message.billNo.slice(0, 64))}, but the refund is of bill ${refund.billNo}`;
    } else if (message.billTradeNo !== undefined) {
      const [bill, payments] = await Promise.all([
        this.store.bills.findBill(refund.billNo),
        this.store.bills.listPayments(refund.orderNo),
      ]);
      const known = new Set(
        [bill?.providerBillId, ...payments.filter((p) => p.billNo === refund.billNo).map((p) => p.tradeNo)].filter(
          (number): number is string => number !== undefined && number !== '',
        ),
      );
      if (known.size > 0 && !known.has(message.billTradeNo)) {
        reason =
          `names the provider's bill ${JSON.stringify(message.billTradeNo.slice(0, 64))}, but the refund is of ` +
          `bill ${refund.billNo}, which is ${[...known].join(' or ')} there`;
      }
    }
    if (reason) {
      this.log.error('a refund message names another bill than the refund’s: not applied, needs review', {
        provider,
        refundNo: refund.refundNo,
        billNo: refund.billNo,
        messageBillNo: message.billNo,
        messageBillTradeNo: message.billTradeNo,
      });
    }
    return reason;
  }

  /** Keeps a verified refund message that nothing here can apply, under its kind's `KEPT_KINDS` name. */
  private async keepUnmatched(
    provider: PaymentProviderId,
    type: 'refund.succeeded' | 'refund.failed',
    transactionId: string,
    amount: Fen,
    reason: string,
    body: unknown,
  ): Promise<void> {
    await this.store.unmatchedMessages.recordUnmatchedMessage({
      provider,
      transactionType: KEPT_KINDS[type],
      transactionId,
      amount,
      reason,
      receivedAt: this.clock(),
      body,
    });
  }

  private async finish(
    refundNo: string,
    finish: { status: 'succeeded' | 'failed'; at: Date; failure?: string; detail?: unknown },
  ): Promise<RefundRecord | null> {
    const finished = await this.store.refunds.finishRefund(refundNo, finish, this.settings.notifyMerchant);
    if (finished) {
      const fields = {
        refundNo,
        orderNo: finished.orderNo,
        provider: finished.provider,
        kind: finished.kind,
        amount: finished.amount,
      };
      if (finished.status === 'succeeded') this.events.emit({ type: 'refund.succeeded', ...fields });
      else this.events.emit({ type: 'refund.failed', ...fields, failure: finished.failure });
    }
    return finished;
  }

  private track(task: Promise<unknown>): void {
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  /** Waits for refunds started in the background (stopping cleanly). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }
}
