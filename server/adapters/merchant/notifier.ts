import { createHmac } from 'node:crypto';
import type { CheckoutEvents, Logger } from '../../domain/observability';
import type { MerchantService } from '../../domain/merchant';
import type { Clock } from '../../domain/ports';
import type { Repositories } from '../../domain/repositories';
import { toRefundView } from '../../domain/refunds';

export interface MerchantNotifierOptions {
  url: string;
  secret: string;
  store: Pick<Repositories, 'merchantNotifications' | 'refunds'>;
  merchant: MerchantService;
  clock: Clock;
  log: Logger;
  /** Told of every notification the merchant accepted, and of every one retried. */
  events: CheckoutEvents;
  /** How often the outbox is checked. @default 1000 */
  pollIntervalMs?: number;
  /** Delay before retry n is `backoffBaseMs × 2^(n-1)`, at most an hour. @default 1000 */
  backoffBaseMs?: number;
  /** @default 10000 */
  timeoutMs?: number;
}

const MAX_BACKOFF_MS = 60 * 60 * 1000;
const BATCH = 20;

/** `hex(HMAC-SHA256(secret, timestamp + "." + body))`: what the merchant recomputes to trust a notification. */
export function merchantNotificationSignature(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * Delivers the outbox of final order states (`order.final`) and final refunds (`refund.final`)
 * to MERCHANT_NOTIFY_URL until the merchant answers
 * 2xx, with exponential backoff. The outbox is in the database, so a restart resumes where it
 * stopped, and leases keep several instances from sending the same notification at once.
 */
export class MerchantNotifier {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(private readonly options: MerchantNotifierOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      if (!this.running) {
        this.running = this.deliverDue()
          .catch((error: unknown) => {
            this.options.log.warn('merchant notification round failed', { error: String(error) });
            return 0;
          })
          .finally(() => {
            this.running = undefined;
          });
      }
    }, this.options.pollIntervalMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Sends every notification that is due now; returns how many the merchant accepted. */
  async deliverDue(): Promise<number> {
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    const now = this.options.clock();
    const due = await this.options.store.merchantNotifications.leaseDueMerchantNotifications(
      now,
      new Date(now.getTime() + timeoutMs * 2),
      BATCH,
    );
    let delivered = 0;
    for (const notification of due) {
      const order = await this.options.merchant.getOrder(notification.orderNo);
      const refund = notification.refundNo ? await this.options.store.refunds.findRefund(notification.refundNo) : null;
      const body = JSON.stringify(
        refund ? { event: 'refund.final', refund: toRefundView(refund), order } : { event: 'order.final', order },
      );
      const timestamp = String(Math.floor(this.options.clock().getTime() / 1000));
      let failure: string | undefined;
      try {
        const response = await fetch(this.options.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-checkout-timestamp': timestamp,
            'x-checkout-signature': merchantNotificationSignature(this.options.secret, timestamp, body),
          },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.arrayBuffer();
        if (!response.ok) failure = `HTTP ${response.status}`;
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
      }
      const at = this.options.clock();
      if (failure === undefined) {
        await this.options.store.merchantNotifications.markMerchantNotificationDelivered(notification.id, at);
        this.options.events.emit({
          type: 'notification.delivered',
          orderNo: notification.orderNo,
          refundNo: notification.refundNo,
          attempt: notification.attempts + 1,
        });
        delivered += 1;
        continue;
      }
      const delay = Math.min((this.options.backoffBaseMs ?? 1000) * 2 ** notification.attempts, MAX_BACKOFF_MS);
      await this.options.store.merchantNotifications.rescheduleMerchantNotification(
        notification.id,
        new Date(at.getTime() + delay),
        failure,
      );
      this.options.events.emit({
        type: 'notification.retried',
        orderNo: notification.orderNo,
        refundNo: notification.refundNo,
        attempt: notification.attempts + 1,
        error: failure,
        retryInMs: delay,
      });
    }
    return delivered;
  }
}
