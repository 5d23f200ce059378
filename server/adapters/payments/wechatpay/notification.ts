import { echoed } from '../../../domain/text';
import { createHash, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { decryptResource } from './aead';
import { WechatPayVerificationError } from './errors';
import {
  refundNoticeSchema,
  toRefund,
  toTransaction,
  transactionSchema,
  type WechatPayRefund,
  type WechatPayTransaction,
} from './resources';
import type { KeyLookupOptions } from './platform-keys';
import { verifySignedMessage, type MessageHeaders } from './signing';

/**
 * Notifications of WeChat Pay APIv3 (pay.weixin.qq.com, "支付成功回调通知", "退款结果通知",
 * "回调通知注意事项"; payments-beyond.md, "WeChat Pay APIv3"): a POST whose raw body is signed
 * like an answer and whose `resource` is AEAD_AES_256_GCM-encrypted with the APIv3 key. It is
 * acknowledged with 200 or 204 and no body; anything else (4xx/5xx with
 * `{"code":"FAIL","message"}`, or no answer) makes WeChat send it again for about 24 hours.
 */

/**
 * What a verified notification says, in our vocabulary:
 * - `transaction_succeeded`: TRANSACTION.SUCCESS, the payment went through;
 * - `refund_succeeded`: REFUND.SUCCESS;
 * - `refund_failed`: REFUND.ABNORMAL (the money could not reach the payer: handle by hand) or
 *   REFUND.CLOSED;
 * - `not_ours`: genuine, but for another 商户号 or app, with an amount in another currency than
 *   CNY (its total is no number of fen of ours), or an event this checkout does not handle;
 *   acknowledge it (WeChat would repeat it for a day), keep it for a person and change nothing.
 */
export type WechatPayNotification =
  | {
      kind: 'transaction_succeeded';
      id: string;
      transaction: WechatPayTransaction;
    }
  | { kind: 'refund_succeeded'; id: string; refund: WechatPayRefund }
  | { kind: 'refund_failed'; id: string; refund: WechatPayRefund }
  | {
      kind: 'not_ours';
      id: string;
      eventType: string;
      reason: string;
      /** The resource's merchant number (`out_refund_no`, else `out_trade_no`), when it was read. */
      reference?: string;
      /** The resource's amount (`amount.refund`, else `amount.total`), when it was read. */
      amount?: number;
      /** The decrypted resource, when it was read. */
      resource?: WechatPayTransaction | WechatPayRefund;
    };

const envelopeSchema = z.object({
  id: z.string(),
  create_time: z.string().optional(),
  event_type: z.string(),
  resource_type: z.string().optional(),
  summary: z.string().optional(),
  resource: z.object({
    algorithm: z.string(),
    ciphertext: z.string(),
    associated_data: z.string().optional(),
    nonce: z.string(),
    original_type: z.string().optional(),
  }),
});

/**
 * The key a `Wechatpay-Serial` names (`PlatformKeys.keyFor`): among the keys held with
 * `download: false`, else possibly after a download bought by `voucher`. Throws
 * `WechatPayVerificationError` `UNKNOWN_SERIAL` when none matches.
 */
export type NotificationKeyLookup = (serial: string, options?: KeyLookupOptions) => Promise<KeyObject>;

export interface NotificationContext {
  keyFor: NotificationKeyLookup;
  apiV3Key: string;
  /** Our 商户号: a resource for another is `not_ours`. */
  mchid: string;
  /** Our mini-program's AppID: a transaction for another is `not_ours`. */
  appid?: string;
  /** ms @default Date.now */
  now?: () => number;
  /** @default DEFAULT_MAX_SKEW_SECONDS */
  maxSkewSeconds?: number;
}

/**
 * Verifies a notification on its raw body (signature over `timestamp\nnonce\nbody\n`, timestamp
 * within the skew), decrypts its resource, and says what it means. Throws
 * `WechatPayVerificationError` for anything that cannot be trusted or read (`MISSING_HEADERS`,
 * `STALE_TIMESTAMP`, `UNKNOWN_SERIAL`, `BAD_SIGNATURE`, `BAD_CIPHERTEXT`, `BAD_BODY`); answer it
 * with `notificationRefusal(error)`.
 *
 * Anyone can POST a notification, so one naming a serial we do not hold may make us download the
 * platform certificates only when it shows it came from WeChat in a way a forger cannot fake: its
 * timestamp is within the skew and its resource decrypts, tag verified, with the APIv3 key (only
 * WeChat and the merchant hold it). Its digest is the download's voucher. Otherwise it is refused
 * `UNKNOWN_SERIAL` without a download. The signature is checked either way: a resource that
 * decrypts never stands in for it.
 */
export async function readNotification(
  request: {
    headers: MessageHeaders;
    body: string;
  },
  context: NotificationContext,
): Promise<WechatPayNotification> {
  let opened: OpenedNotification | undefined;
  const open = () => (opened ??= openNotification(request.body, context.apiV3Key));
  await verifySignedMessage(
    request.headers,
    request.body,
    async (serial) => {
      try {
        return await context.keyFor(serial, { download: false });
      } catch (error) {
        if (!WechatPayVerificationError.is(error) || error.reason !== 'UNKNOWN_SERIAL') throw error;
      }
      let voucher: string;
      try {
        voucher = open().voucher;
      } catch (error) {
        if (!WechatPayVerificationError.is(error)) throw error;
        throw new WechatPayVerificationError(
          'UNKNOWN_SERIAL',
          `no platform certificate or public key with serial ${echoed(serial)}, and no download for a ` +
            `notification whose resource does not decrypt with our APIv3 key (${error.reason})`,
        );
      }
      return context.keyFor(serial, { voucher });
    },
    { now: context.now, maxSkewSeconds: context.maxSkewSeconds },
  );
  const { id, eventType, plaintext } = open();

  if (eventType === 'TRANSACTION.SUCCESS') {
    const parsed = transactionSchema.safeParse(plaintext);
    if (
      !parsed.success ||
      parsed.data.trade_state !== 'SUCCESS' ||
      parsed.data.amount?.total === undefined ||
      !parsed.data.transaction_id
    ) {
      throw new WechatPayVerificationError('BAD_BODY', 'TRANSACTION.SUCCESS without a successful transaction');
    }
    const transaction = toTransaction(parsed.data);
    if (transaction.mchid !== context.mchid) return notOurs(id, eventType, `for 商户号 ${transaction.mchid}`);
    if (context.appid !== undefined && transaction.appid !== context.appid) {
      return notOurs(id, eventType, `for AppID ${transaction.appid ?? '(none)'}`);
    }
    const amount = transaction.amount as NonNullable<WechatPayTransaction['amount']>;
    if (amount.currency !== CURRENCY) {
      return {
        ...notOurs(id, eventType, currencyReason(amount.currency)),
        reference: transaction.outTradeNo,
        amount: amount.total,
        resource: transaction,
      };
    }
    return { kind: 'transaction_succeeded', id, transaction };
  }
  if (eventType.startsWith('REFUND.')) {
    const parsed = refundNoticeSchema.safeParse(plaintext);
    if (!parsed.success) throw new WechatPayVerificationError('BAD_BODY', `${eventType} without a refund`);
    const refund = toRefund(parsed.data);
    if (parsed.data.mchid !== context.mchid) return notOurs(id, eventType, `for 商户号 ${parsed.data.mchid}`);
    if (refund.amount.currency !== CURRENCY) {
      return {
        ...notOurs(id, eventType, currencyReason(refund.amount.currency)),
        reference: refund.outRefundNo,
        amount: refund.amount.refund,
        resource: refund,
      };
    }
    if (eventType === 'REFUND.SUCCESS' && refund.status === 'SUCCESS') return { kind: 'refund_succeeded', id, refund };
    if (
      (eventType === 'REFUND.ABNORMAL' && refund.status === 'ABNORMAL') ||
      (eventType === 'REFUND.CLOSED' && refund.status === 'CLOSED')
    ) {
      return { kind: 'refund_failed', id, refund };
    }
    throw new WechatPayVerificationError('BAD_BODY', `${eventType} with refund_status ${refund.status}`);
  }
  return notOurs(id, eventType, 'an event this checkout does not handle');
}

/** A notification's envelope with its resource decrypted, and the digest that vouches for it. */
interface OpenedNotification {
  id: string;
  eventType: string;
  plaintext: unknown;
  /** SHA-256 of the resource's ciphertext (which carries its AEAD tag), hex. */
  voucher: string;
}

/** Parses the envelope and decrypts its resource; throws `BAD_BODY` or `BAD_CIPHERTEXT`. */
function openNotification(body: string, apiV3Key: string): OpenedNotification {
  const envelope = envelopeSchema.safeParse(parseJson(body, 'the notification body'));
  if (!envelope.success)
    throw new WechatPayVerificationError('BAD_BODY', 'the notification is not {id, event_type, resource}');
  const { id, event_type: eventType, resource } = envelope.data;
  const plaintext = parseJson(decryptResource(resource, apiV3Key), 'the decrypted resource');
  return { id, eventType, plaintext, voucher: createHash('sha256').update(resource.ciphertext).digest('hex') };
}

function notOurs(id: string, eventType: string, reason: string): Extract<WechatPayNotification, { kind: 'not_ours' }> {
  return { kind: 'not_ours', id, eventType, reason };
}

/**
 * The one currency a mainland merchant's amounts are in ("JSAPI下单", "申请退款": `amount.currency`
 * CNY, 境内商户号仅支持人民币); an absent currency is read as CNY, its documented default.
 */
const CURRENCY = 'CNY';

function currencyReason(currency: string): string {
  return `amount.currency ${JSON.stringify(echoed(currency))} is not ${CURRENCY}: its amount is no number of fen`;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new WechatPayVerificationError('BAD_BODY', `${what} is not JSON`);
  }
}

/** The acknowledgement of a notification: 204 and no body ("回调通知注意事项": 200 or 204, no body). */
export const NOTIFICATION_ACKNOWLEDGED: Readonly<{ status: 204 }> = Object.freeze({ status: 204 });

/** The refusal of a notification: a 4xx/5xx and `{"code":"FAIL","message"}`; WeChat sends it again. */
export interface NotificationRefusal {
  status: number;
  body: { code: 'FAIL'; message: string };
}

/**
 * The answer refusing a notification for `error`: the status a `WechatPayVerificationError`
 * suggests, 500 for anything else (a failure on our side, e.g. WeChat unreachable for a
 * certificate download or the database down: WeChat will try again).
 */
export function notificationRefusal(error: unknown): NotificationRefusal {
  if (WechatPayVerificationError.is(error)) {
    return {
      status: error.httpStatus,
      body: { code: 'FAIL', message: `${error.reason}: ${error.message}` },
    };
  }
  return {
    status: 500,
    body: { code: 'FAIL', message: 'not processed, please retry' },
  };
}
