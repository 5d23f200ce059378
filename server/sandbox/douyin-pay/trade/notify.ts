import { performance } from 'node:perf_hooks';
import { postNotification } from '../../shared/notify-post';
import { runNotBefore } from '../../shared/timers';
import type { DouyinPayKeyRing } from '../keys';
import { callbackHeaders } from './protocol';

/**
 * Callbacks of the emulated 通用交易系统 (payments-beyond.md, 通用交易系统, Callback): a POST of
 * `{version: "2.0", type, msg}` (`msg` JSON text) signed afresh at each attempt with the platform
 * private key (`Byte-Timestamp`, `Byte-Nonce-Str`, `Byte-Signature`, `Byte-Logid`). Acknowledged
 * by HTTP 200 whose JSON has `err_no: 0` (the answer `{"err_no":0,"err_tips":"success"}` the
 * callback pages ask for); anything else is retried. Douyin's retry schedule differs between
 * document versions (unconfirmed): this one retries after 15 s, 15 s, 30 s, 3 m, 10 m, 20 m,
 * 30 m, 30 m, 60 m, 3 h, scaled by `timeScale`.
 */
export const TRADE_CALLBACK_RETRY_INTERVALS_S: readonly number[] = Object.freeze([
  15, 15, 30, 180, 600, 1200, 1800, 1800, 3600, 10800,
]);

/** One delivery attempt, as `GET /sandbox/douyin/orders` does not show but tests may read. */
export interface CallbackAttempt {
  type: string;
  attempt: number;
  /** ms since 1970. */
  at: number;
  status: number | null;
  ok: boolean;
}

interface Chain {
  cancelled: boolean;
  timer?: NodeJS.Timeout;
  abort?: () => void;
}

export class TradeCallbackNotifier {
  private readonly chains = new Map<string, Chain>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly options: {
      keys: DouyinPayKeyRing;
      timeScale: number;
      now: () => number;
      log: (line: string) => void;
      timeoutMs?: number;
    },
  ) {}

  /**
   * Starts delivering `{version, type, msg}` to `url` under `key` (a newer one for the same key
   * supersedes it); `onDone` is told when it was acknowledged or given up.
   */
  send(
    key: string,
    url: string,
    type: 'payment' | 'refund',
    msg: Record<string, unknown>,
    deliveries: CallbackAttempt[],
    onDone: () => void,
  ): void {
    if (this.closed) return;
    const previous = this.chains.get(key);
    if (previous) this.cancel(previous);
    const chain: Chain = { cancelled: false };
    this.chains.set(key, chain);
    const body = JSON.stringify({ version: '2.0', type, msg: JSON.stringify(msg) });
    const attempts = TRADE_CALLBACK_RETRY_INTERVALS_S.length + 1;

    const attempt = (index: number): void => {
      if (chain.cancelled || this.closed) return;
      const run = (async () => {
        const keys = await this.options.keys.get();
        const at = this.options.now();
        const sentAt = performance.now();
        const result = await postNotification(
          url,
          body,
          {
            headers: callbackHeaders(body, keys.platformPrivateKey, at / 1000),
            userAgent: 'douyin-trade-sandbox',
            timeoutMs: this.options.timeoutMs ?? 10_000,
            abortReason: 'aborted: sandbox closing or callback superseded',
          },
          (abort) => (chain.abort = abort),
        );
        if (chain.cancelled || this.closed) return;
        const ok = result.status === 200 && acknowledged(result.body);
        deliveries.push({ type, attempt: index + 1, at, status: result.status, ok });
        this.options.log(
          `douyin trade ${type} ${key} attempt ${index + 1} -> ${result.status ?? 'network error'}${ok ? ' acknowledged' : ''}`,
        );
        if (ok || index + 1 >= attempts) {
          if (!ok) this.options.log(`douyin trade ${type} ${key} gave up after ${attempts} attempts`);
          if (this.chains.get(key) === chain) this.chains.delete(key);
          onDone();
          return;
        }
        const interval = TRADE_CALLBACK_RETRY_INTERVALS_S[index] * 1000 * this.options.timeScale;
        runNotBefore(
          sentAt + interval,
          () => attempt(index + 1),
          (timer) => (chain.timer = timer),
        );
      })();
      this.inFlight.add(run);
      void run.catch((error: unknown) => this.options.log(`douyin trade ${type} ${key} failed: ${String(error)}`));
      void run.finally(() => this.inFlight.delete(run));
    };
    attempt(0);
  }

  /** Stops every pending retry and aborts deliveries in flight. */
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

function acknowledged(text: string): boolean {
  try {
    const parsed = JSON.parse(text) as { err_no?: unknown };
    return parsed.err_no === 0;
  } catch {
    return false;
  }
}
