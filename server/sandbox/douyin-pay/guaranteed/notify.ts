import { performance } from 'node:perf_hooks';
import { randomString } from '../../shared/random';
import { postNotification } from '../../shared/notify-post';
import { runNotBefore } from '../../shared/timers';
import { chinaDateTime } from '../../shared/time';
import type { DouyinPayKeyRing } from '../keys';
import { callbackSignature } from './signing';
import type { CallbackAttempt, GuaranteedOrder, GuaranteedRefund } from './store';

/**
 * Callbacks of the emulated 担保支付 (payments-beyond.md, "Douyin mini-program payment" → 担保支付):
 * a POST of JSON `{timestamp, nonce, msg, type, msg_signature}`, signed afresh at each attempt.
 * Acknowledged only by HTTP 200 with `err_no` 0 in a JSON body; anything else is sent again
 * after 15 s, 15 s, 30 s, 3 m, 10 m, 20 m, 30 m, 30 m, 30 m, 60 m, 3 h, 3 h, 3 h, 6 h, 6 h (Douyin's
 * page gives no schedule: this is WeChat's, which the other emulated providers use), scaled by
 * `timeScale` for tests.
 */

/** Seconds between one attempt and the next. */
export const CALLBACK_RETRY_INTERVALS_S: readonly number[] = Object.freeze([
  15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
]);

/** `timeScale` multiplies the retry intervals (tests: e.g. 0.001). */
export interface GuaranteedNotifierOptions {
  appId: string;
  keys: DouyinPayKeyRing;
  /** Saved after each attempt is recorded. */
  store: { save(): void };
  timeScale: number;
  now: () => number;
  log: (line: string) => void;
  /** Per-attempt timeout, ms. @default 10000 */
  timeoutMs?: number;
}

interface Chain {
  cancelled: boolean;
  timer?: NodeJS.Timeout;
  abort?: () => void;
}

/** Whether a callback's answer acknowledges it: 200 and `{"err_no": 0, …}`. */
export function isCallbackAcknowledged(status: number | null, body: string): boolean {
  if (status !== 200) return false;
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && (parsed as { err_no?: unknown }).err_no === 0;
  } catch {
    return false;
  }
}

/** The `msg` of a payment callback: what Douyin tells of a paid order. */
export function paymentMessage(appId: string, order: GuaranteedOrder): string {
  return JSON.stringify({
    appid: appId,
    cp_orderno: order.outOrderNo,
    cp_extra: order.cpExtra,
    way: order.way ?? '1',
    channel_no: order.channelNo ?? '',
    channel_gateway_no: '',
    payment_order_no: order.channelNo ?? '',
    out_channel_order_no: '',
    total_amount: order.totalAmount,
    status: 'SUCCESS',
    seller_uid: '70000000000000000001',
    extra: '',
    item_id: '',
    paid_at: Math.floor((order.paidAt ?? 0) / 1000),
    message: '',
    order_id: order.orderId,
  });
}

/** The `msg` of a refund callback. */
export function refundMessage(appId: string, refund: GuaranteedRefund, order: GuaranteedOrder): string {
  return JSON.stringify({
    appid: appId,
    cp_refundno: refund.outRefundNo,
    cp_extra: refund.cpExtra,
    status: refund.status,
    refund_amount: refund.refundAmount,
    is_all_settled: false,
    refunded_at: refund.refundedAt ?? 0,
    message: refund.status === 'SUCCESS' ? '' : '退款失败',
    order_id: order.orderId,
    refund_no: refund.refundNo,
  });
}

/** Sends the callbacks, one retry chain per order or refund (a new one supersedes the old). */
export class GuaranteedNotifier {
  private readonly chains = new Map<string, Chain>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly options: GuaranteedNotifierOptions) {}

  /** Starts the payment callback of a paid order; false when it has no `notify_url`. */
  notifyPayment(order: GuaranteedOrder): boolean {
    if (!order.notifyUrl) return false;
    this.start(`payment:${order.outOrderNo}`, order.deliveries, order.notifyUrl, 'payment', () =>
      paymentMessage(this.options.appId, order),
    );
    return true;
  }

  /** Starts the refund callback of a finished refund; false when it has no `notify_url`. */
  notifyRefund(refund: GuaranteedRefund, order: GuaranteedOrder): boolean {
    if (!refund.notifyUrl || refund.status === 'PROCESSING') return false;
    this.start(`refund:${refund.outRefundNo}`, refund.deliveries, refund.notifyUrl, 'refund', () =>
      refundMessage(this.options.appId, refund, order),
    );
    return true;
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

  private start(
    key: string,
    deliveries: CallbackAttempt[],
    url: string,
    type: 'payment' | 'refund',
    message: () => string,
  ): void {
    if (this.closed) return;
    const previous = this.chains.get(key);
    if (previous) this.cancel(previous);
    const chain: Chain = { cancelled: false };
    this.chains.set(key, chain);
    const msg = message();
    const attempts = CALLBACK_RETRY_INTERVALS_S.length + 1;

    const attempt = (index: number): void => {
      if (chain.cancelled || this.closed) return;
      const run = (async () => {
        const { token } = await this.options.keys.get();
        const at = this.options.now();
        const timestamp = String(Math.floor(at / 1000));
        const nonce = randomString(8, '0123456789');
        const body = JSON.stringify({
          timestamp,
          nonce,
          msg,
          type,
          msg_signature: callbackSignature(token, timestamp, nonce, msg),
        });
        const sentAt = performance.now();
        const result = await postNotification(
          url,
          body,
          {
            userAgent: 'Mozilla/5.0 (douyin-ecpay-sandbox)',
            timeoutMs: this.options.timeoutMs ?? 10_000,
            abortReason: 'aborted: sandbox closing or callback superseded',
          },
          (abort) => (chain.abort = abort),
        );
        if (chain.cancelled || this.closed) return;
        const ok = isCallbackAcknowledged(result.status, result.body);
        deliveries.push({ type, attempt: index + 1, at, status: result.status, body: result.body.slice(0, 200), ok });
        this.options.store.save();
        this.options.log(
          `douyin ecpay ${type} ${key} attempt ${index + 1} at ${chinaDateTime(at)} -> ${result.status ?? 'network error'}${ok ? ' acknowledged' : ''}`,
        );
        if (ok || index + 1 >= attempts) {
          if (!ok) this.options.log(`douyin ecpay ${type} ${key} gave up after ${attempts} attempts`);
          if (this.chains.get(key) === chain) this.chains.delete(key);
          return;
        }
        const interval = CALLBACK_RETRY_INTERVALS_S[index] * 1000 * this.options.timeScale;
        runNotBefore(
          sentAt + interval,
          () => attempt(index + 1),
          (timer) => (chain.timer = timer),
        );
      })();
      this.inFlight.add(run);
      void run.catch((error: unknown) => this.options.log(`douyin ecpay ${type} ${key} failed: ${String(error)}`));
      void run.finally(() => this.inFlight.delete(run));
    };
    attempt(0);
  }
}
