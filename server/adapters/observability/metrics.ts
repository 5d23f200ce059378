import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../../domain/ports';

/** What storage says about the background work, read at each scrape. */
export interface Backlog {
  /** Merchant notifications not yet accepted by the merchant. */
  outboxDepth: number;
  /** When the oldest of them was queued; null when there is none. */
  oldestOutboxAt: Date | null;
  /**
   * Of the pending orders with a bill in flight, the oldest time the gateway was last asked about
   * one (or its bill last changed, if never asked); null when there is none.
   */
  oldestCheckAt: Date | null;
}

/** A cheap read of the backlog (SqlBacklog implements it). */
export interface BacklogSource {
  backlog(): Promise<Backlog>;
}

/** How an upstream call ended: `refused` = answered with an error code of its API; `failed` = no usable answer. */
export type UpstreamOutcome = 'ok' | 'refused' | 'unavailable' | 'failed';

/** How long a scrape waits for storage to tell the backlog, ms. */
const BACKLOG_READ_TIMEOUT_MS = 2000;

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Every metric of one checkout server, in a registry of its own (several servers share a process
 * in tests), served by `GET /metrics` in Prometheus' text format. Names and labels are listed in
 * the README ("Logs and metrics"); every label takes a bounded set of values.
 */
export class CheckoutMetrics {
  readonly registry = new Registry();
  private readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
  /**
   * The histogram's series by `method route status`: a status poll then finds its series with one
   * map lookup instead of prom-client hashing the label object on every observation. Bounded as
   * the labels are (known methods, route patterns or `unmatched`, statuses).
   */
  private readonly requestSeries = new Map<string, { observe(seconds: number): void }>();
  readonly upstreamDuration: Histogram<'upstream' | 'operation' | 'outcome'>;
  readonly ordersCreated: Counter;
  readonly billsOpened: Counter<'provider' | 'channel'>;
  readonly paymentsRecorded: Counter<'provider' | 'disposition' | 'source'>;
  readonly refunds: Counter<'provider' | 'kind' | 'outcome'>;
  readonly ordersExpired: Counter;
  readonly webhooks: Counter<'outcome'>;
  readonly notifications: Counter<'outcome'>;

  constructor(backlog: BacklogSource, clock: Clock) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requestDuration = new Histogram({
      name: 'checkout_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method, route pattern (or "unmatched") and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.upstreamDuration = new Histogram({
      name: 'checkout_upstream_request_duration_seconds',
      help: 'Calls to the payment providers and the login APIs, by upstream, operation and outcome.',
      labelNames: ['upstream', 'operation', 'outcome'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.ordersCreated = new Counter({ name: 'checkout_orders_created_total', help: 'Orders created.', registers });
    this.billsOpened = new Counter({
      name: 'checkout_bills_opened_total',
      help: 'Bills a payment provider opened, by provider (gateway, wechatpay) and channel.',
      labelNames: ['provider', 'channel'],
      registers,
    });
    this.paymentsRecorded = new Counter({
      name: 'checkout_payments_recorded_total',
      help: 'Payments recorded (each once), by provider, disposition and what told us (webhook or query).',
      labelNames: ['provider', 'disposition', 'source'],
      registers,
    });
    this.refunds = new Counter({
      name: 'checkout_refunds_total',
      help: 'Refunds requested and finished, by provider, kind (merchant or duplicate) and outcome.',
      labelNames: ['provider', 'kind', 'outcome'],
      registers,
    });
    this.ordersExpired = new Counter({
      name: 'checkout_orders_expired_total',
      help: 'Orders expired unpaid.',
      registers,
    });
    this.webhooks = new Counter({
      name: 'checkout_webhooks_total',
      help: "Provider notifications (the gateway's webhooks, WeChat Pay's notifications) received, by outcome.",
      labelNames: ['outcome'],
      registers,
    });
    this.notifications = new Counter({
      name: 'checkout_merchant_notifications_total',
      help: 'Merchant notification attempts, by outcome (delivered or retried).',
      labelNames: ['outcome'],
      registers,
    });

    // The backlog gauges come from one storage read, shared by every scrape while it runs. A scrape
    // waits for it BACKLOG_READ_TIMEOUT_MS at most: storage that hangs must not take every other
    // metric down with it (Prometheus gives up on a scrape after 10 s by default). A read that
    // failed or is late leaves the gauges as they were and sets checkout_backlog_read_success to 0.
    let reading: Promise<Backlog | undefined> | undefined;
    const read = (): Promise<Backlog | undefined> => {
      reading ??= backlog
        .backlog()
        .catch(() => undefined)
        .finally(() => setImmediate(() => (reading = undefined)));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(resolve, BACKLOG_READ_TIMEOUT_MS, undefined);
        timer.unref();
      });
      return Promise.race([reading, late]).finally(() => clearTimeout(timer));
    };
    new Gauge({
      name: 'checkout_backlog_read_success',
      help: 'Whether this scrape read the backlog gauges from storage in time (1) or not (0: they hold the last read).',
      registers,
      async collect() {
        this.set((await read()) ? 1 : 0);
      },
    });
    const ageSeconds = (since: Date | null) => (since ? Math.max(0, (clock().getTime() - since.getTime()) / 1000) : 0);
    new Gauge({
      name: 'checkout_merchant_outbox_depth',
      help: 'Merchant notifications waiting for the merchant to accept them.',
      registers,
      async collect() {
        const now = await read();
        if (now) this.set(now.outboxDepth);
      },
    });
    new Gauge({
      name: 'checkout_merchant_outbox_oldest_age_seconds',
      help: 'Age of the oldest merchant notification not yet accepted (0 when none waits).',
      registers,
      async collect() {
        const now = await read();
        if (now) this.set(ageSeconds(now.oldestOutboxAt));
      },
    });
    new Gauge({
      name: 'checkout_sweeper_lag_seconds',
      help:
        'Now minus the oldest last gateway check among pending orders with a bill in flight (0 when none): ' +
        'about the check interval plus a sweep while the sweeper keeps up.',
      registers,
      async collect() {
        const now = await read();
        if (now) this.set(ageSeconds(now.oldestCheckAt));
      },
    });
  }

  /** Counts one answered HTTP request. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let series = this.requestSeries.get(key);
    if (!series) {
      series = this.requestDuration.labels(method, route, String(status));
      this.requestSeries.set(key, series);
    }
    series.observe(seconds);
  }

  /** Counts one call to an upstream. */
  observeUpstream(upstream: string, operation: string, outcome: UpstreamOutcome, seconds: number): void {
    this.upstreamDuration.labels(upstream, operation, outcome).observe(seconds);
  }

  /** The Content-Type of `render()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in Prometheus' text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
