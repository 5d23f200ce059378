import type { CheckoutEvents, Logger } from './observability';
import type { PaymentVerdicts } from './payments/verdicts';
import type { Clock, LeasedOrderCheck, OrderMemory } from './ports';
import type { Repositories } from './repositories';
import type { RefundService } from './refunds';

export interface SweeperSettings {
  /** How often a sweep runs, ms. */
  intervalMs: number;
  /** At most one provider query per order per this interval, across every instance, ms. */
  gatewayCheckIntervalMs: number;
  /** A bill open this long without a webhook is asked about, ms. */
  webhookGraceMs: number;
  /** Orders (or refunds) taken per lease. */
  batchSize: number;
  /** Provider queries in flight at once from one instance. */
  concurrency: number;
  /** Queue the merchant's notification of orders it expires. */
  notifyMerchant: boolean;
}

export const DEFAULT_SWEEPER_SETTINGS: Omit<
  SweeperSettings,
  'notifyMerchant' | 'gatewayCheckIntervalMs' | 'webhookGraceMs'
> = {
  intervalMs: 5000,
  batchSize: 100,
  concurrency: 32,
};

/** A paid order's open bill is asked about this many check intervals apart. */
export const PAID_ORDER_CHECK_FACTOR = 6;

/** What one sweep did. */
export interface SweepReport {
  /** Orders past their deadline expired with nothing in flight at a provider. */
  expired: number;
  /** Pending orders whose bills their providers were asked about. */
  checked: number;
  /** Provider checks that failed (the order stays as it was until the next). */
  failedChecks: number;
  /** Second payments given an automatic refund. */
  duplicatesReturned: number;
  /** Refunds sent or asked about. */
  refunds: number;
}

/**
 * Closes the books without anyone polling: finds every payment whose webhook was lost, expires
 * orders on time, and drives refunds to a final state. Every piece of work is leased in the
 * database (`FOR UPDATE SKIP LOCKED` with a next-check time), so N instances share it and each
 * order is asked about at most once per interval in all.
 */
export class Sweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(
    private readonly store: Pick<Repositories, 'orders'>,
    private readonly verdicts: PaymentVerdicts,
    private readonly memory: OrderMemory,
    private readonly refunds: RefundService,
    private readonly clock: Clock,
    private readonly settings: SweeperSettings,
    private readonly log: Logger,
    private readonly events: CheckoutEvents,
  ) {}

  /** Sweeps every `intervalMs` until `stop()`; a sweep still running is never overlapped. */
  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.sweepOnce()
        .catch((error: unknown) => {
          this.log.warn('sweep failed; the next one tries again', {
            error: error instanceof Error ? error.message : String(error),
          });
        })
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) {
            this.timer = setTimeout(tick, this.settings.intervalMs);
            this.timer.unref();
          }
        });
    };
    this.timer = setTimeout(tick, this.settings.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One sweep: expiries, then provider checks until none is due, then refunds. */
  async sweepOnce(): Promise<SweepReport> {
    const report: SweepReport = { expired: 0, checked: 0, failedChecks: 0, duplicatesReturned: 0, refunds: 0 };
    const { batchSize } = this.settings;

    for (;;) {
      const expired = await this.store.orders.expireUnbilledOrders(
        this.clock(),
        batchSize,
        this.settings.notifyMerchant,
      );
      for (const orderNo of expired) {
        this.memory.forgetOrder(orderNo);
        this.events.emit({ type: 'order.expired', orderNo, confirmedByGateway: false });
      }
      report.expired += expired.length;
      if (expired.length < batchSize) break;
    }

    await this.checkDueOrders(report);

    report.duplicatesReturned = await this.refunds.createMissingDuplicateRefunds(batchSize);
    for (;;) {
      const processed = await this.refunds.processDue(batchSize);
      report.refunds += processed;
      if (processed < batchSize || this.stopped) break;
    }
    return report;
  }

  /**
   * Asks the providers about every order due for a check, `concurrency` at a time. The next batch
   * is leased while the last of the current one is still being asked about, so the queries
   * never stall on a lease; the sweep ends when a lease comes back short.
   */
  private async checkDueOrders(report: SweepReport): Promise<void> {
    const { batchSize, concurrency } = this.settings;
    const queue: LeasedOrderCheck[] = [];
    let exhausted = false;
    let leasing: Promise<void> | undefined;
    const leaseMore = (): Promise<void> => {
      leasing ??= (async () => {
        const now = this.clock();
        const lastCheckBefore = new Date(now.getTime() - this.settings.gatewayCheckIntervalMs);
        const openBillBefore = new Date(now.getTime() - this.settings.webhookGraceMs);
        const due = await this.store.orders.leaseOrdersToCheck(now, lastCheckBefore, openBillBefore, batchSize);
        queue.push(...due);
        if (due.length < batchSize || this.stopped) {
          // Pending orders done: then paid ones whose other bill is still open (a second payment),
          // less often: such money is rarer, and is returned rather than awaited by a shopper.
          const paid = await this.store.orders.leasePaidOrdersWithOpenBills(
            now,
            new Date(now.getTime() - PAID_ORDER_CHECK_FACTOR * this.settings.gatewayCheckIntervalMs),
            openBillBefore,
            batchSize,
          );
          queue.push(...paid);
          if (paid.length < batchSize || this.stopped) exhausted = true;
        }
      })().finally(() => {
        leasing = undefined;
      });
      return leasing;
    };
    const next = async (): Promise<LeasedOrderCheck | undefined> => {
      while (queue.length === 0 && !exhausted) await leaseMore();
      const order = queue.shift();
      if (queue.length < concurrency && !exhausted) void leaseMore().catch(() => undefined);
      return order;
    };
    const worker = async () => {
      for (let order = await next(); order; order = await next()) {
        try {
          await this.verdicts.checkLeasedOrder(order);
          report.checked += 1;
        } catch (error) {
          report.failedChecks += 1;
          this.log.warn('gateway check failed; the order stays pending until the next check', {
            orderNo: order.orderNo,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
}
