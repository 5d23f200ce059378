import { performance } from 'node:perf_hooks';
import type { GatewayWebhookMessage } from './webhook-message';
import { postNotification } from '../shared/notify-post';
import { runNotBefore } from '../shared/timers';

/**
 * Webhook delivery with the gateway's retry schedule (seed 001 §3.2): the first attempt
 * right away, then retries 2 s, 4 s, 8 s, … 2^17 s (about 36 h) after it, until the
 * receiver answers the body `success`. 18 attempts at most.
 */

/** Retries happen 2^1 … 2^17 seconds after the first attempt. */
export const WEBHOOK_RETRY_EXPONENTS = 17;

/** Offsets of every attempt from the first, in ms: `[0, 2000, 4000, …, 131072000] × timeScale`. */
export function webhookAttemptOffsetsMs(timeScale = 1): number[] {
  const offsets = [0];
  for (let k = 1; k <= WEBHOOK_RETRY_EXPONENTS; k += 1) offsets.push(2 ** k * 1000 * timeScale);
  return offsets;
}

/**
 * Whether a receiver's answer acknowledges the webhook: the manual wants the string
 * `success` and retries on anything else (a JSON `{"ok":true}` included). Surrounding
 * whitespace is tolerated (a trailing newline from `echo`); the status code is not looked at.
 */
export function isWebhookAcknowledged(body: string): boolean {
  return body.trim() === 'success';
}

export interface DeliveryAttempt {
  transaction_type: GatewayWebhookMessage['transaction_type'];
  transaction_id: string;
  /** 1 for the first delivery chain of this transaction, 2 after a re-notify, … */
  chain: number;
  /** 1-based attempt within the chain. */
  attempt: number;
  /** When the attempt was sent, ms (the sandbox clock). */
  at: number;
  /** HTTP status, or null when the request failed (refused, timed out, …). */
  status: number | null;
  /** First 200 characters of the answer (or of the network error). */
  body: string;
  ok: boolean;
}

export interface DeliveryJob {
  url: string;
  transactionType: GatewayWebhookMessage['transaction_type'];
  transactionId: string;
  /** Builds the message for one attempt, sent at `timestamp` (only the timestamp may change). */
  message: (timestamp: number) => GatewayWebhookMessage;
  /** Called after each attempt. */
  record: (attempt: DeliveryAttempt) => void;
  /** Chains of this transaction before this sandbox started (numbering goes on from there). */
  previousChains?: number;
  /** Called when the chain ends: acknowledged, or given up after the last attempt (not when cut short). */
  finished?: (acknowledged: boolean) => void;
}

export interface WebhookDispatcherOptions {
  timeScale: number;
  now: () => number;
  log: (line: string) => void;
  /** Per-attempt timeout, ms. */
  timeoutMs?: number;
}

interface Chain {
  cancelled: boolean;
  timer?: NodeJS.Timeout;
  abort?: () => void;
}

export class WebhookDispatcher {
  private readonly chains = new Map<string, Chain>();
  private readonly chainCounts = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly options: WebhookDispatcherOptions) {}

  /**
   * Starts delivering a message. A chain already running for the same transaction is
   * cancelled first: the newest message replaces it.
   */
  start(job: DeliveryJob): void {
    if (this.closed) return;
    const key = `${job.transactionType}:${job.transactionId}`;
    this.cancel(key);
    const chainNumber = Math.max(this.chainCounts.get(key) ?? 0, job.previousChains ?? 0) + 1;
    this.chainCounts.set(key, chainNumber);
    const chain: Chain = { cancelled: false };
    this.chains.set(key, chain);
    const startedAt = performance.now();
    const offsets = webhookAttemptOffsetsMs(this.options.timeScale);

    const attempt = (index: number): void => {
      if (chain.cancelled || this.closed) return;
      const run = this.attemptOnce(job, chain, chainNumber, index + 1).then((ok) => {
        if (ok || chain.cancelled || this.closed || index + 1 >= offsets.length) {
          const ended = !chain.cancelled && !this.closed;
          if (!ok && ended) this.options.log(`webhook ${key} gave up after ${offsets.length} attempts`);
          if (this.chains.get(key) === chain) this.chains.delete(key);
          if (ended) job.finished?.(ok);
          return;
        }
        runNotBefore(
          startedAt + offsets[index + 1],
          () => attempt(index + 1),
          (timer) => (chain.timer = timer),
        );
      });
      this.track(run);
    };
    attempt(0);
  }

  /** Stops every pending retry and aborts requests in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const key of [...this.chains.keys()]) this.cancel(key);
    await Promise.allSettled([...this.inFlight]);
  }

  private cancel(key: string): void {
    const chain = this.chains.get(key);
    if (!chain) return;
    chain.cancelled = true;
    if (chain.timer) clearTimeout(chain.timer);
    chain.abort?.();
    this.chains.delete(key);
  }

  private track(promise: Promise<void>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  private async attemptOnce(job: DeliveryJob, chain: Chain, chainNumber: number, attempt: number): Promise<boolean> {
    const at = this.options.now();
    const payload = JSON.stringify(job.message(at));
    const result = await postNotification(
      job.url,
      payload,
      {
        userAgent: 'gateway-sandbox-webhook/1.0',
        timeoutMs: this.options.timeoutMs ?? 10_000,
        abortReason: 'aborted: sandbox closing or webhook superseded',
      },
      (abort) => (chain.abort = abort),
    );
    // An attempt cut short by close() or by a newer chain is not a delivery outcome.
    if (chain.cancelled || this.closed) return false;
    const ok = result.status !== null && isWebhookAcknowledged(result.body);
    job.record({
      transaction_type: job.transactionType,
      transaction_id: job.transactionId,
      chain: chainNumber,
      attempt,
      at,
      status: result.status,
      body: result.body.slice(0, 200),
      ok,
    });
    this.options.log(
      `webhook ${job.transactionType} ${job.transactionId} attempt ${attempt} -> ` +
        `${result.status ?? 'network error'} ${ok ? 'acknowledged' : JSON.stringify(result.body.slice(0, 60))}`,
    );
    return ok;
  }
}
