import { z } from 'zod';
import { errorAnswers, type ApiOperation } from '../../openapi/operations';
import { errorCodesOf, PROVIDER_NOTIFY_ERRORS } from '../contract';
import type { ErrorBodyWriter } from '../errors';
import { NODE_REFUSALS } from '../node-server';

/**
 * The contract of WeChat Pay's notification endpoint (./wechatpay-notify.ts): its path, the
 * failure answer WeChat Pay reads, and its OpenAPI operation. WeChat Pay's "支付成功回调通知" and
 * "退款结果通知" (pay.weixin.qq.com, 通知应答): a notification is taken when answered 200 or 204
 * with no body needed; a refusal is a 4xx or 5xx with `{"code": "FAIL", "message": …}`, after
 * which WeChat Pay sends it again (15s, 15s, 30s, 3m, 10m, 20m, 30m, … over 24h).
 */

export const WECHATPAY_NOTIFY_PATH = '/api/wechatpay/notify';

/**
 * Every refusal of the endpoint is this: WeChat Pay's failure answer, our code (one of `codes`)
 * leading the message.
 */
export function wechatPayFailureSchema(codes: readonly string[]): z.ZodType {
  return z.strictObject({
    code: z.literal('FAIL'),
    message: z
      .string()
      .regex(new RegExp(`^(?:${codes.join('|')}): `))
      .meta({ description: 'Our error code, a colon, then for people (may change): `WEBHOOK_SIGNATURE_INVALID: …`.' }),
  });
}

/** Writes a refusal of the endpoint in WeChat Pay's words, with the status of `code` (see `errorHandler`). */
export const wechatPayFailure: ErrorBodyWriter = (code, message) => ({ code: 'FAIL', message: `${code}: ${message}` });

/** The OpenAPI operation of ./wechatpay-notify.ts. */
export const wechatPayNotifyOperation: ApiOperation = {
  method: 'post',
  path: WECHATPAY_NOTIFY_PATH,
  tags: ['wechatpay'],
  summary: "WeChat Pay's notifications (TRANSACTION.SUCCESS, REFUND.*)",
  description:
    'Called by WeChat Pay (APIv3, direct merchant), not by you. The body is read as text whatever its ' +
    'Content-Type; only the verifier parses it, after checking `Wechatpay-Signature` over ' +
    '`Wechatpay-Timestamp`, `Wechatpay-Nonce` and the body with the key `Wechatpay-Serial` names, and then ' +
    'decrypts its resource with the APIv3 key. Each of those four headers must come once: one sent twice ' +
    'is `WEBHOOK_SIGNATURE_INVALID`, whichever value is genuine. 204 acknowledges it once stored (a verified ' +
    'notification nothing here can apply is stored for review and acknowledged too); every refusal of ours is ' +
    'WeChat Pay\'s failure answer `{"code": "FAIL", "message"}` with the status of the code leading the ' +
    'message, after which WeChat Pay sends it again. What Node refuses before any route is known (a request ' +
    'line or headers it cannot parse, headers over 16 KB, a request too slow to arrive, an `Expect` other ' +
    'than 100-continue, chunk extensions over 16 KB, `CONNECT`) is the common `{"error": {"code", "message"}}` ' +
    'instead: WeChat Pay retries it just the same.',
  request: {
    headers: z.object({
      'wechatpay-timestamp': z.string().meta({ description: 'Seconds since 1970; at most 5 minutes off.' }),
      'wechatpay-nonce': z.string(),
      'wechatpay-signature': z.string().meta({ description: 'Base64 RSA-SHA256 (SHA256-RSA2048).' }),
      'wechatpay-serial': z.string().meta({
        description: 'The platform certificate serial, or the 微信支付公钥 id `PUB_KEY_ID_…`, that signed it.',
      }),
    }),
    body: {
      required: true,
      content: {
        '*/*': { schema: z.string().meta({ description: "WeChat Pay's signed JSON notification, as text." }) },
      },
    },
  },
  responses: {
    204: { description: 'Stored (or already stored).' },
    ...errorAnswers(NODE_REFUSALS, {
      codes: errorCodesOf(...PROVIDER_NOTIFY_ERRORS),
      schema: wechatPayFailureSchema,
    }),
  },
};
