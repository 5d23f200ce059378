import { randomUUID } from 'node:crypto';
import type { SandboxKeyRing, WechatPaySandboxKeys } from './keys';
import { encryptResource, signatureHeaders } from './protocol';
import type { NotificationAttempt, Refund, Transaction, WechatPayStore } from './store';
import { rfc3339China } from './time';
import { type NotifierBasics, RetryingDelivery, WECHAT_NOTIFY_RETRY_INTERVALS_S } from '../shared/retrying-delivery';

/**
 * Notifications of the emulated WeChat Pay (pay.weixin.qq.com, "支付成功回调通知", "退款结果通知";
 * payments-beyond.md, "WeChat Pay APIv3"): a POST of `{id, create_time, event_type,
 * resource_type, summary, resource}` whose resource is encrypted with the APIv3 key and whose
 * headers are signed like an answer, again at each attempt (a receiver bounds the timestamp's
 * age). Any 2xx acknowledges; anything else is retried 15 s, 15 s, 30 s, 3 m, 10 m, 20 m, 30 m,
 * 30 m, 30 m, 60 m, 3 h, 3 h, 3 h, 6 h, 6 h after the attempt before it (24 h 4 m in all; the
 * schedule is the one WeChat documents for v2 notifications, taken for v3 as payments-beyond.md
 * notes), scaled by `timeScale` for tests.
 */

/** Seconds between one attempt and the next: WeChat's schedule (see `WECHAT_NOTIFY_RETRY_INTERVALS_S`). */
export const NOTIFICATION_RETRY_INTERVALS_S: readonly number[] = WECHAT_NOTIFY_RETRY_INTERVALS_S;

/** Offsets of every attempt from the first when each is sent at once, ms (16 attempts): `[0, 15000, 30000, 60000, …] × timeScale`. */
export function notificationAttemptOffsetsMs(timeScale = 1): number[] {
  const offsets = [0];
  for (const interval of NOTIFICATION_RETRY_INTERVALS_S)
    offsets.push(offsets[offsets.length - 1] + interval * 1000 * timeScale);
  return offsets;
}

/** The keys that sign and encrypt, and the store each attempt is recorded in. */
export interface WechatPayNotifierOptions extends NotifierBasics {
  keys: SandboxKeyRing;
  store: WechatPayStore;
}

interface Subject {
  deliveries: NotificationAttempt[];
  notifying?: boolean;
}

export class WechatPayNotifier {
  private readonly delivery: RetryingDelivery;

  constructor(private readonly options: WechatPayNotifierOptions) {
    this.delivery = new RetryingDelivery({
      ...options,
      intervalsS: NOTIFICATION_RETRY_INTERVALS_S,
      userAgent: 'Mozilla/4.0 (wechatpay-sandbox)',
      abortReason: 'aborted: sandbox closing or notification superseded',
    });
  }

  /** Starts TRANSACTION.SUCCESS for a paid transaction; false when it has no notify_url. */
  notifyTransaction(transaction: Transaction): boolean {
    if (!transaction.notifyUrl) return false;
    const keys = this.options.keys;
    this.start(
      `transaction:${transaction.outTradeNo}`,
      transaction,
      transaction.notifyUrl,
      'TRANSACTION.SUCCESS',
      async () =>
        envelope(
          await keys.get(),
          this.options.now(),
          'TRANSACTION.SUCCESS',
          '支付成功',
          'transaction',
          transactionResource(transaction),
        ),
    );
    return true;
  }

  /** Starts REFUND.SUCCESS, REFUND.ABNORMAL or REFUND.CLOSED for a finished refund; false without notify_url. */
  notifyRefund(refund: Refund, transaction: Transaction): boolean {
    if (!refund.notifyUrl || refund.status === 'PROCESSING') return false;
    const event = `REFUND.${refund.status}`;
    const summary = { SUCCESS: '退款成功', ABNORMAL: '退款异常', CLOSED: '退款关闭' }[refund.status];
    this.start(`refund:${refund.outRefundNo}`, refund, refund.notifyUrl, event, async () =>
      envelope(
        await this.options.keys.get(),
        this.options.now(),
        event,
        summary,
        'refund',
        refundResource(refund, transaction),
      ),
    );
    return true;
  }

  /** Stops every pending retry and aborts deliveries in flight (a `notifying` subject resumes on the next start). */
  close(): Promise<void> {
    return this.delivery.close();
  }

  /** The envelope is built once per chain; only its signature headers are fresh at each attempt. */
  private start(key: string, subject: Subject, url: string, event: string, build: () => Promise<string>): void {
    let body: Promise<string> | undefined;
    const { store, keys } = this.options;
    const started = this.delivery.start({
      key,
      url,
      label: `wechatpay ${event}`,
      prepare: async (at) => {
        body ??= build();
        const text = await body;
        return { body: text, headers: signatureHeaders(await keys.get(), text, at) };
      },
      acknowledged: (status) => status !== null && status >= 200 && status < 300,
      record: (outcome, final) => {
        subject.deliveries.push({ event_type: event, ...outcome, body: outcome.body.slice(0, 200) });
        if (final) subject.notifying = false;
        store.save();
      },
    });
    if (!started) return;
    subject.notifying = true;
    store.save();
  }
}

function envelope(
  keys: WechatPaySandboxKeys,
  now: number,
  eventType: string,
  summary: string,
  originalType: 'transaction' | 'refund',
  resource: Record<string, unknown>,
): string {
  return JSON.stringify({
    id: randomUUID(),
    create_time: rfc3339China(now),
    resource_type: 'encrypt-resource',
    event_type: eventType,
    summary,
    resource: {
      original_type: originalType,
      ...encryptResource(JSON.stringify(resource), keys.apiV3Key, originalType),
    },
  });
}

/** A transaction as "查询订单" and TRANSACTION.SUCCESS show it. */
export function transactionResource(transaction: Transaction): Record<string, unknown> {
  const paid = transaction.tradeState === 'SUCCESS' || transaction.tradeState === 'REFUND';
  const resource: Record<string, unknown> = {
    appid: transaction.appid,
    mchid: transaction.mchid,
    out_trade_no: transaction.outTradeNo,
    trade_type: 'JSAPI',
    trade_state: transaction.tradeState,
    trade_state_desc: { NOTPAY: '未支付', SUCCESS: '支付成功', REFUND: '转入退款', CLOSED: '已关闭' }[
      transaction.tradeState
    ],
    attach: transaction.attach ?? '',
    payer: { openid: transaction.openid },
    amount: paid
      ? { total: transaction.total, payer_total: transaction.total, currency: 'CNY', payer_currency: 'CNY' }
      : { total: transaction.total, currency: 'CNY' },
  };
  if (paid) {
    Object.assign(resource, {
      transaction_id: transaction.transactionId,
      bank_type: 'OTHERS',
      success_time: rfc3339China(transaction.successTime ?? transaction.createdAt),
    });
  }
  return resource;
}

/** A refund as REFUND.* notifications show it ("退款结果通知"). */
function refundResource(refund: Refund, transaction: Transaction): Record<string, unknown> {
  const resource: Record<string, unknown> = {
    mchid: transaction.mchid,
    out_trade_no: refund.outTradeNo,
    transaction_id: refund.transactionId,
    out_refund_no: refund.outRefundNo,
    refund_id: refund.refundId,
    refund_status: refund.status,
    user_received_account: '支付用户零钱',
    amount: { total: refund.total, refund: refund.refund, payer_total: refund.total, payer_refund: refund.refund },
  };
  if (refund.successTime !== undefined) resource.success_time = rfc3339China(refund.successTime);
  return resource;
}
