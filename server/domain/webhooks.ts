import { AppError, ErrorCode } from './errors';
import type { CheckoutEvents, Logger, WebhookOutcome } from './observability';
import type { PaymentVerdicts } from './payments/verdicts';
import type { Clock, GatewayEvent, PaymentGateway } from './ports';
import type { Repositories } from './repositories';
import { RecentCache } from './recent-cache';
import type { RefundService } from './refunds';

const RECORDED_MEMORY_MS = 60 * 60 * 1000;

/** The refusals of a webhook, by the code it is answered with. */
const REFUSALS: Partial<Record<ErrorCode, WebhookOutcome>> = {
  WEBHOOK_INVALID: 'invalid',
  WEBHOOK_SIGNATURE_INVALID: 'bad_signature',
  WEBHOOK_UNKNOWN_TRANSACTION: 'unknown_transaction',
};
const RECORDED_CAPACITY = 100_000;

/**
 * The gateway's webhook (seed 001 §3): verified, turned into one event of a small vocabulary,
 * and handed to the payment or refund side. Resolves once what it says is durably stored (or
 * was already), which is when the route may answer `success`.
 */
export class GatewayWebhooks {
  /** Messages durably recorded by this instance lately: their repeats are answered at once. */
  private readonly recorded = new RecentCache<true>(RECORDED_CAPACITY);
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Pick<Repositories, 'unmatchedMessages'>,
    private readonly gateway: PaymentGateway,
    private readonly verdicts: PaymentVerdicts,
    private readonly refunds: RefundService,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly events: CheckoutEvents,
  ) {}

  /**
   * Handles one webhook body. Throws AppError WEBHOOK_INVALID / WEBHOOK_SIGNATURE_INVALID for a
   * message that is malformed or not the gateway's, WEBHOOK_UNKNOWN_TRANSACTION for a payment of
   * a bill we never opened. Every webhook emits one `webhook.handled` event with its outcome;
   * a refusal's reason is the error's message, which never quotes the body or its signature.
   */
  async receive(rawBody: string): Promise<{ duplicate: boolean }> {
    let result: { duplicate: boolean };
    try {
      result = await this.handle(rawBody);
    } catch (error) {
      const refusal = AppError.is(error) ? REFUSALS[error.code] : undefined;
      this.events.emit({
        type: 'webhook.handled',
        outcome: refusal ?? 'failed',
        code: AppError.is(error) ? error.code : undefined,
        reason: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
    this.events.emit({ type: 'webhook.handled', outcome: result.duplicate ? 'duplicate' : 'accepted' });
    return result;
  }

  private async handle(rawBody: string): Promise<{ duplicate: boolean }> {
    const event = this.gateway.parseWebhook(rawBody);
    // Copies of one message arrive together (the gateway's retries, the channel's own): one is
    // recorded, the others wait for it and need no database work of their own. The key is what
    // the message says, so a message with another fee is never taken for a copy.
    const key = keyOf(event);
    if (this.recorded.get(key, this.clock().getTime())) return { duplicate: true };
    const inFlight = this.inFlight.get(key);
    if (inFlight) {
      await inFlight;
      return { duplicate: true };
    }
    const recording = this.record(event);
    this.inFlight.set(key, recording);
    try {
      const result = await recording;
      this.recorded.set(key, true, this.clock().getTime() + RECORDED_MEMORY_MS);
      return result;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async record(event: GatewayEvent): Promise<{ duplicate: boolean }> {
    switch (event.type) {
      case 'payment.succeeded':
        return this.verdicts.recordPayment({
          billNo: event.billNo,
          amount: event.amount,
          source: 'webhook',
          gatewayTradeNo: event.gatewayTradeNo,
          detail: event.detail,
        });
      case 'refund.succeeded':
        return this.refunds.recordRefundSucceeded(event.refundNo, event.amount, event.detail);
      case 'not_ours':
        // Transfers, other kinds this checkout never starts, numbers that can be none of ours:
        // acknowledged, kept, never acted on.
        this.log.warn('gateway message nothing here can act on: kept for review', {
          transactionType: event.transactionType,
          transactionId: event.transactionId,
          reason: event.reason,
        });
        await this.store.unmatchedMessages.recordUnmatchedMessage({
          transactionType: event.transactionType,
          transactionId: event.transactionId,
          amount: event.amount,
          reason: event.reason,
          receivedAt: this.clock(),
          body: event.detail,
        });
        return { duplicate: false };
    }
  }
}

function keyOf(event: GatewayEvent): string {
  switch (event.type) {
    case 'payment.succeeded':
      return `PAY|${event.billNo}|${event.amount}`;
    case 'refund.succeeded':
      return `REFUND|${event.refundNo}|${event.amount}`;
    case 'not_ours':
      return `${event.transactionType}|${event.transactionId}|${event.amount}`;
  }
}
