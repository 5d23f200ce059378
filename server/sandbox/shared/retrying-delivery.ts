import { performance } from 'node:perf_hooks';
import { postNotification } from './notify-post';
import { runNotBefore } from './timers';

/**
 * Seconds between one notification attempt and the next in WeChat Pay's schedule: 15 s, 15 s,
 * 30 s, 3 m, 10 m, 20 m, 30 m, 30 m, 30 m, 60 m, 3 h, 3 h, 3 h, 6 h, 6 h (24 h 4 m in all, 16
 * attempts). Source: the schedule WeChat documents for v2 payment notifications
 * (pay.weixin.qq.com, "支付结果通知"), taken for APIv3 as payments-beyond.md ("WeChat Pay APIv3")
 * notes; emulated providers whose pages give no schedule use it too.
 */
export const WECHAT_NOTIFY_RETRY_INTERVALS_S: readonly number[] = Object.freeze([
  15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
]);

/** What one attempt of a delivery got. */
export interface DeliveryOutcome {
  /** 1-based, within the current chain. */
  attempt: number;
  /** When it was sent, ms since 1970 (the emulator's `now()`). */
  at: number;
  /** HTTP status, or null when no answer came. */
  status: number | null;
  /** The answer's body (its first 64 KiB), or why none came. */
  body: string;
  /** Whether the provider's rule counts the answer as an acknowledgement. */
  ok: boolean;
}

/** One notification to deliver until acknowledged: what differs between the emulated providers. */
export interface Delivery {
  /** One chain per key: a new delivery under the same key supersedes (cancels) the old one. */
  key: string;
  url: string;
  /** Start of every log line, e.g. `wechatpay TRANSACTION.SUCCESS`. */
  label: string;
  /** Body and headers of an attempt sent at `at` (ms since 1970); called afresh for each attempt, so signatures are fresh. A rejection ends the chain (logged as failed). */
  prepare(at: number): Promise<{ body: string; headers?: Record<string, string> }>;
  /** Whether an answer acknowledges the notification. */
  acknowledged(status: number | null, body: string): boolean;
  /** Told of each attempt's outcome before it is logged; `final` when the chain ends with it (acknowledged or given up). */
  record(outcome: DeliveryOutcome, final: boolean): void;
  /** Words put after `attempt N` in the log line (e.g. ` at 2026-01-01 08:00:00`). */
  describeAt?: (at: number) => string;
}

/** The schedule and transport of one emulated provider's notifications. */
export interface RetryingDeliveryOptions {
  /** Seconds from one attempt to the next; there are `length + 1` attempts in all. */
  intervalsS: readonly number[];
  /** Multiplies the intervals (tests: e.g. 0.001). */
  timeScale: number;
  now: () => number;
  log: (line: string) => void;
  userAgent: string;
  /** Why an aborted request was destroyed (seen by the receiver's logs, not by ours). */
  abortReason: string;
  /** Per-attempt timeout, ms. @default 10000 */
  timeoutMs?: number;
}

/** What every emulated provider's notifier is given: the clock, the log and the time scale. */
export type NotifierBasics = Pick<RetryingDeliveryOptions, 'timeScale' | 'now' | 'log' | 'timeoutMs'>;

interface Chain {
  cancelled: boolean;
  timer?: NodeJS.Timeout;
  abort?: () => void;
}

/**
 * Delivers notifications of an emulated provider the way the real ones do: POST, and if the answer
 * does not acknowledge it, again after each interval of the schedule, counted from the attempt
 * before (never earlier, see `runNotBefore`), until acknowledged or the schedule is spent. Keeps
 * one chain per key and the attempts in flight, so `close()` can stop them all. Resuming a chain
 * after a restart is the provider's part: it starts the delivery again from what it persisted.
 */
export class RetryingDelivery {
  private readonly chains = new Map<string, Chain>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly options: RetryingDeliveryOptions) {}

  /** Starts (or restarts, superseding the chain under the same key) a delivery; false once closed. */
  start(delivery: Delivery): boolean {
    if (this.closed) return false;
    const { key, label } = delivery;
    const previous = this.chains.get(key);
    if (previous) this.cancel(previous);
    const chain: Chain = { cancelled: false };
    this.chains.set(key, chain);
    const intervals = this.options.intervalsS;
    const attempts = intervals.length + 1;

    const attempt = (index: number): void => {
      if (chain.cancelled || this.closed) return;
      const run = (async () => {
        const at = this.options.now();
        const { body, headers } = await delivery.prepare(at);
        const sentAt = performance.now();
        const result = await postNotification(
          delivery.url,
          body,
          {
            headers,
            userAgent: this.options.userAgent,
            timeoutMs: this.options.timeoutMs ?? 10_000,
            abortReason: this.options.abortReason,
          },
          (abort) => (chain.abort = abort),
        );
        if (chain.cancelled || this.closed) return;
        const ok = delivery.acknowledged(result.status, result.body);
        const final = ok || index + 1 >= attempts;
        delivery.record({ attempt: index + 1, at, status: result.status, body: result.body, ok }, final);
        this.options.log(
          `${label} ${key} attempt ${index + 1}${delivery.describeAt?.(at) ?? ''} -> ${result.status ?? 'network error'}${ok ? ' acknowledged' : ''}`,
        );
        if (final) {
          if (!ok) this.options.log(`${label} ${key} gave up after ${attempts} attempts`);
          if (this.chains.get(key) === chain) this.chains.delete(key);
          return;
        }
        // Each interval runs from the attempt before it, as WeChat's schedule counts.
        runNotBefore(
          sentAt + intervals[index] * 1000 * this.options.timeScale,
          () => attempt(index + 1),
          (timer) => (chain.timer = timer),
        );
      })();
      this.inFlight.add(run);
      void run.catch((error: unknown) => this.options.log(`${label} ${key} failed: ${String(error)}`));
      void run.finally(() => this.inFlight.delete(run));
    };
    attempt(0);
    return true;
  }

  /** Stops every pending retry and aborts deliveries in flight; later `start`s do nothing. */
  async close(): Promise<void> {
    this.closed = true;
    for (const chain of this.chains.values()) this.cancel(chain);
    this.chains.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  private cancel(chain: Chain): void {
    chain.cancelled = true;
    if (chain.timer) clearTimeout(chain.timer);
    chain.abort?.();
  }
}
