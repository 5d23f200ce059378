import type { CheckoutEvent, CheckoutEvents } from '../../domain/observability';
import type { RootLogger } from './logger';
import type { CheckoutMetrics } from './metrics';

type Level = 'debug' | 'info' | 'warn' | 'error';

/** The line each event is logged as: its level and message. The fields are the event's own. */
function lineOf(event: CheckoutEvent): [Level, string] {
  switch (event.type) {
    case 'order.created':
      return ['info', 'order created'];
    case 'bill.opened':
      return ['info', 'bill opened'];
    case 'payment.recorded':
      switch (event.disposition) {
        case 'amount_mismatch':
          return ['error', 'payment recorded: its amount differs from the bill, not applied, needs review'];
        case 'refund_due':
          return ['warn', 'payment recorded: a second payment for an order already paid, to be returned'];
        default:
          return ['info', 'payment recorded'];
      }
    case 'refund.requested':
      return event.kind === 'duplicate'
        ? ['warn', 'refund requested: a second payment goes back to the shopper']
        : ['info', 'refund requested'];
    case 'refund.succeeded':
      return ['info', 'refund succeeded'];
    case 'refund.failed':
      return ['warn', 'refund failed'];
    case 'order.expired':
      return ['info', 'order expired unpaid'];
    case 'webhook.handled':
      if (event.outcome === 'accepted' || event.outcome === 'duplicate') return ['debug', 'webhook accepted'];
      return event.outcome === 'failed'
        ? ['error', 'webhook failed; the provider sends it again']
        : ['warn', 'webhook refused'];
    case 'notification.delivered':
      return ['info', 'merchant notification delivered'];
    case 'notification.retried':
      return ['warn', 'merchant notification not accepted; will retry'];
  }
}

function count(metrics: CheckoutMetrics, event: CheckoutEvent): void {
  switch (event.type) {
    case 'order.created':
      metrics.ordersCreated.inc();
      return;
    case 'bill.opened':
      metrics.billsOpened.inc({ provider: event.provider, channel: event.channel });
      return;
    case 'payment.recorded':
      metrics.paymentsRecorded.inc({ provider: event.provider, disposition: event.disposition, source: event.source });
      return;
    case 'refund.requested':
      metrics.refunds.inc({ provider: event.provider, kind: event.kind, outcome: 'requested' });
      return;
    case 'refund.succeeded':
      metrics.refunds.inc({ provider: event.provider, kind: event.kind, outcome: 'succeeded' });
      return;
    case 'refund.failed':
      metrics.refunds.inc({ provider: event.provider, kind: event.kind, outcome: 'failed' });
      return;
    case 'order.expired':
      metrics.ordersExpired.inc();
      return;
    case 'webhook.handled':
      metrics.webhooks.inc({ outcome: event.outcome });
      return;
    case 'notification.delivered':
      metrics.notifications.inc({ outcome: 'delivered' });
      return;
    case 'notification.retried':
      metrics.notifications.inc({ outcome: 'retried' });
      return;
  }
}

/**
 * The domain's business events as one log line each (`"event": "<type>"` and the event's fields)
 * and as the matching metric increments, in one place so that logs and metrics never disagree.
 */
export function observedEvents(logger: RootLogger, metrics: CheckoutMetrics): CheckoutEvents {
  return {
    emit(event) {
      count(metrics, event);
      const [level, message] = lineOf(event);
      if (!logger.isLevelEnabled(level)) return;
      const { type, ...fields } = event;
      logger[level]({ event: type, ...fields }, message);
    },
  };
}
