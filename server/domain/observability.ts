import type { ErrorCode } from './errors';
import type { Fen } from './money';
import type { PaymentChannel, PaymentProviderId } from './payment-provider';
import type { PaymentDisposition, RefundKind } from './ports';

/**
 * What the domain tells the people who run it. Two ways out, both implemented by adapters:
 * `Logger` for diagnostics in words (a check that failed and will be retried), and
 * `CheckoutEvents` for the business facts operators count and look up (an order created, a
 * payment recorded), which one adapter turns into both a log line and metrics, so the two never
 * disagree. Nothing here knows how either is written.
 */

/**
 * Diagnostic lines. `fields` are structured (numbers stay numbers); never put a secret, a session
 * token, a `session_key` or a webhook's body in them.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** How a provider's notification ended: the refusals (`invalid` … `unknown_transaction`) make the provider send it again. */
export type WebhookOutcome = 'accepted' | 'duplicate' | 'invalid' | 'bad_signature' | 'unknown_transaction' | 'failed';

/**
 * The business events of the checkout, each emitted once when it happens (amounts in fen).
 *
 * - `order.created`: a new order (a replay of an Idempotency-Key is not one).
 * - `bill.opened`: a payment provider made a bill for a payment attempt.
 * - `provider` on the bill, payment and refund events: who the bill was opened at (and so who
 *   paid or refunds it), as a channel alone (`WX_MINI`) cannot say: the gateway or WeChat Pay.
 * - `payment.recorded`: a bill's provider said it was paid (its notification or our query) and it was
 *   recorded for the first time, with its disposition (`applied`, `refund_due`, `amount_mismatch`).
 * - `refund.requested` / `refund.succeeded` / `refund.failed`: a merchant's refund or the
 *   automatic return of a second payment (`kind`), created and then finished.
 * - `order.expired`: an order passed its deadline unpaid (`confirmedByGateway`: its bills were
 *   asked about first; otherwise it had none in flight).
 * - `webhook.handled`: every provider notification (the gateway's webhook) and how it ended; `reason` says why one was refused
 *   or failed (never its body or signature).
 * - `notification.delivered` / `notification.retried`: a merchant notification the merchant
 *   accepted, or one it did not (retried after `retryInMs`).
 */
export type CheckoutEvent =
  | { type: 'order.created'; orderNo: string; amount: Fen }
  | { type: 'bill.opened'; orderNo: string; billNo: string; provider: PaymentProviderId; channel: PaymentChannel }
  | {
      type: 'payment.recorded';
      orderNo: string;
      billNo: string;
      provider: PaymentProviderId;
      amount: Fen;
      /** The bill's own fee: differs from `amount` only for `amount_mismatch`. */
      billAmount: Fen;
      source: 'webhook' | 'query';
      disposition: PaymentDisposition;
    }
  | RefundEvent<'refund.requested'>
  | RefundEvent<'refund.succeeded'>
  | (RefundEvent<'refund.failed'> & { failure?: string })
  | { type: 'order.expired'; orderNo: string; confirmedByGateway: boolean }
  | { type: 'webhook.handled'; outcome: WebhookOutcome; code?: ErrorCode; reason?: string }
  | { type: 'notification.delivered'; orderNo: string; refundNo?: string; attempt: number }
  | {
      type: 'notification.retried';
      orderNo: string;
      refundNo?: string;
      attempt: number;
      error: string;
      retryInMs: number;
    };

/** The fields every refund event carries. */
export interface RefundEvent<T extends 'refund.requested' | 'refund.succeeded' | 'refund.failed'> {
  type: T;
  orderNo: string;
  refundNo: string;
  provider: PaymentProviderId;
  amount: Fen;
  kind: RefundKind;
}

/** Where the domain emits its business events; must not throw. */
export interface CheckoutEvents {
  emit(event: CheckoutEvent): void;
}
