import { AppError, ErrorCode } from './errors';
import type { CheckoutEvents, Logger, WebhookOutcome } from './observability';
import type { PaymentVerdicts } from './payments/verdicts';
import { KEPT_KINDS, type PaymentProviderId, type ProviderEvent, type ProviderMessage } from './payment-provider';
import type { PaymentProviders } from './payment-providers';
import type { Clock } from './ports';
import type { Repositories } from './repositories';
import { RecentCache } from './recent-cache';
import { isStorableText } from './text';
import type { RefundService } from './refunds';

const RECORDED_MEMORY_MS = 60 * 60 * 1000;

/** The refusals of a notification, by the code it is answered with. */
const REFUSALS: Partial<Record<ErrorCode, WebhookOutcome>> = {
  WEBHOOK_INVALID: 'invalid',
  WEBHOOK_SIGNATURE_INVALID: 'bad_signature',
  WEBHOOK_UNKNOWN_TRANSACTION: 'unknown_transaction',
};
const RECORDED_CAPACITY = 100_000;

/**
 * The payment providers' notifications (the gateway's webhook, seed 001 §3; WeChat Pay's
 * notifications): verified by the provider they claim to come from, turned into one event of a
 * small vocabulary, and handed to the payment or refund side. Resolves once what it says is
 * durably stored (or was already), which is when the route may acknowledge it.
 */
export class ProviderNotifications {
  /** Messages durably recorded by this instance lately: their repeats are answered at once. */
  private readonly recorded = new RecentCache<true>(RECORDED_CAPACITY);
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Pick<Repositories, 'unmatchedMessages'>,
    private readonly providers: PaymentProviders,
    private readonly verdicts: PaymentVerdicts,
    private readonly refunds: RefundService,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly events: CheckoutEvents,
  ) {}

  /**
   * Handles one notification that reached `provider`'s endpoint: its exact body and headers.
   * Throws AppError WEBHOOK_INVALID / WEBHOOK_SIGNATURE_INVALID for a message that is malformed
   * or not that provider's (or stale), WEBHOOK_UNKNOWN_TRANSACTION for a payment of a bill we
   * never opened there, GATEWAY_UNAVAILABLE when this instance is not configured for that
   * provider. Every notification emits one `webhook.handled` event with its outcome; a refusal's
   * reason is the error's message, which never quotes the body or its signature.
   */
  async receive(provider: PaymentProviderId, message: ProviderMessage): Promise<{ duplicate: boolean }> {
    let result: { duplicate: boolean };
    try {
      result = await this.handle(provider, message);
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

  private async handle(provider: PaymentProviderId, message: ProviderMessage): Promise<{ duplicate: boolean }> {
    const event = keptIfUnstorable(await this.providers.get(provider).readNotification(message));
    // Copies of one message arrive together (the provider's retries, the channel's own): one is
    // recorded, the others wait for it and need no database work of their own. The key is what
    // the message says, so a message with another fee is never taken for a copy.
    const key = `${provider}|${keyOf(event)}`;
    if (this.recorded.get(key, this.clock().getTime())) return { duplicate: true };
    const inFlight = this.inFlight.get(key);
    if (inFlight) {
      await inFlight;
      return { duplicate: true };
    }
    const recording = this.record(provider, event);
    this.inFlight.set(key, recording);
    try {
      const result = await recording;
      this.recorded.set(key, true, this.clock().getTime() + RECORDED_MEMORY_MS);
      return result;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async record(provider: PaymentProviderId, event: ProviderEvent): Promise<{ duplicate: boolean }> {
    switch (event.type) {
      case 'payment.succeeded':
        return this.verdicts.recordPayment({
          billNo: event.billNo,
          provider,
          amount: event.amount,
          source: 'webhook',
          tradeNo: event.tradeNo,
          detail: event.detail,
        });
      case 'payment.closed':
        // Nothing to record: a closed bill is retired when its provider's query says so.
        this.log.info('provider says a bill closed unpaid', { provider, billNo: event.billNo });
        return { duplicate: false };
      case 'refund.succeeded':
        return this.refunds.recordRefundSucceeded(provider, event);
      case 'refund.failed':
        return this.refunds.recordRefundFailed(provider, event);
      case 'not_ours':
        // Transfers, other kinds this checkout never starts, numbers that can be none of ours:
        // acknowledged, kept, never acted on.
        this.log.warn('provider message nothing here can act on: kept for review', {
          provider,
          kind: event.kind,
          reference: event.reference,
          reason: event.reason,
        });
        await this.store.unmatchedMessages.recordUnmatchedMessage({
          provider,
          transactionType: event.kind,
          transactionId: event.reference,
          amount: event.amount,
          reason: event.reason,
          receivedAt: this.clock(),
          body: event.detail,
        });
        return { duplicate: false };
    }
  }
}

/**
 * A verified event whose number, or whose kind where it is one nothing here acts on, holds what no
 * stored text can (NUL, an unpaired surrogate) names no bill or refund of ours: it is kept for a
 * person like any other message nothing here can act on (a payment or refund under its
 * `KEPT_KINDS` kind), instead of failing the lookup and the provider sending it for a day. Storage
 * writes such text as `\u` escapes; the reason says why they are there. This is the one place
 * that decides so, for every provider.
 */
function keptIfUnstorable(event: ProviderEvent): ProviderEvent {
  if (event.type === 'not_ours') {
    if (isStorableText(event.kind) && isStorableText(event.reference)) return event;
    return { ...event, reason: `${event.reason}; its signed kind or number holds NUL or an unpaired surrogate` };
  }
  const reference =
    event.type === 'payment.succeeded' || event.type === 'payment.closed' ? event.billNo : event.refundNo;
  if (isStorableText(reference)) return event;
  return {
    type: 'not_ours',
    kind: KEPT_KINDS[event.type],
    reference,
    amount: event.type === 'refund.failed' || event.type === 'payment.closed' ? 0 : event.amount,
    reason: `the signed ${event.type.startsWith('payment.') ? 'bill' : 'refund'} number holds NUL or an unpaired surrogate`,
    detail: event.detail,
  };
}

function keyOf(event: ProviderEvent): string {
  switch (event.type) {
    case 'payment.succeeded':
      return `PAY|${event.billNo}|${event.amount}`;
    case 'payment.closed':
      return `CLOSED|${event.billNo}`;
    // The bill is part of the key: a message naming another bill (kept for review) must never be
    // taken for a copy of the true one that follows.
    case 'refund.succeeded':
      return `REFUND|${event.refundNo}|${event.amount}|${event.billNo ?? ''}|${event.billTradeNo ?? ''}`;
    case 'refund.failed':
      return `REFUND_FAILED|${event.refundNo}|${event.billNo ?? ''}|${event.billTradeNo ?? ''}`;
    case 'not_ours':
      return `${event.kind}|${event.reference}|${event.amount}`;
  }
}
