import { type NotifierBasics, RetryingDelivery } from '../../shared/retrying-delivery';
import { isCallbackAcknowledged } from '../acknowledgement';
import type { DouyinPayKeyRing } from '../keys';
import { callbackHeaders } from './protocol';

/**
 * Callbacks of the emulated 通用交易系统 (payments-beyond.md, 通用交易系统, Callback): a POST of
 * `{version: "2.0", type, msg}` (`msg` JSON text) signed afresh at each attempt with the platform
 * private key (`Byte-Timestamp`, `Byte-Nonce-Str`, `Byte-Signature`, `Byte-Logid`). Acknowledged
 * by HTTP 200 whose JSON has `err_no: 0` (the answer `{"err_no":0,"err_tips":"success"}` the
 * callback pages ask for); anything else is retried. Douyin's retry schedule differs between
 * document versions (payments-beyond.md, 通用交易系统 → Callback: unconfirmed), so this one is the
 * emulator's own, shorter than WeChat's: after 15 s, 15 s, 30 s, 3 m, 10 m, 20 m, 30 m, 30 m,
 * 60 m, 3 h, scaled by `timeScale`.
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

/** Delivers 通用交易系统 callbacks, one retry chain per key. */
export class TradeCallbackNotifier {
  private readonly delivery: RetryingDelivery;

  constructor(private readonly options: NotifierBasics & { keys: DouyinPayKeyRing }) {
    this.delivery = new RetryingDelivery({
      ...options,
      intervalsS: TRADE_CALLBACK_RETRY_INTERVALS_S,
      userAgent: 'douyin-trade-sandbox',
      abortReason: 'aborted: sandbox closing or callback superseded',
    });
  }

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
    const body = JSON.stringify({ version: '2.0', type, msg: JSON.stringify(msg) });
    const keys = this.options.keys;
    this.delivery.start({
      key,
      url,
      label: `douyin trade ${type}`,
      prepare: async (at) => ({
        body,
        headers: callbackHeaders(body, (await keys.get()).platformPrivateKey, at / 1000),
      }),
      acknowledged: isCallbackAcknowledged,
      record: ({ attempt, at, status, ok }, final) => {
        deliveries.push({ type, attempt, at, status, ok });
        if (final) onDone();
      },
    });
  }

  /** Stops every pending retry and aborts deliveries in flight. */
  close(): Promise<void> {
    return this.delivery.close();
  }
}
