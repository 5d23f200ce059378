import { z } from 'zod';
import { errorAnswers, jsonAnswer, type ApiOperation } from '../../openapi/operations';
import { errorCodesOf } from '../contract';
import type { ErrorBodyWriter } from '../errors';
import { NODE_REFUSALS } from '../node-server';

/**
 * The contract of Douyin 担保支付's callback endpoint (./douyin-ecpay-notify.ts): its path, the
 * answers Douyin reads and its OpenAPI operation (payments-beyond.md, "Douyin mini-program payment"
 * → 担保支付). A callback is taken when answered `{"err_no":0,"err_tips":"success"}` (the answer
 * seen in several integrations; Douyin's page does not spell it out); anything else makes Douyin
 * send it again.
 */

export const DOUYIN_ECPAY_NOTIFY_PATH = '/api/douyin/ecpay/notify';

/** What acknowledges a callback. */
export const ECPAY_ACKNOWLEDGEMENT = Object.freeze({ err_no: 0, err_tips: 'success' });

const acknowledgementSchema = z.strictObject({ err_no: z.literal(0), err_tips: z.literal('success') });

/**
 * Every refusal of the endpoint: a non-zero `err_no`, one of our `codes` leading `err_tips`.
 * (What Node refuses before any route is known is the common error body instead.)
 */
export function ecpayFailureSchema(codes: readonly string[]): z.ZodType {
  return z.strictObject({
    err_no: z.literal(1),
    err_tips: z
      .string()
      .regex(new RegExp(`^(?:${codes.join('|')}): `))
      .meta({ description: 'Our error code, a colon, then for people (may change): `WEBHOOK_SIGNATURE_INVALID: …`.' }),
  });
}

/** Writes a refusal of the endpoint in Douyin's words, with the status of `code` (see `errorHandler`). */
export const ecpayFailure: ErrorBodyWriter = (code, message) => ({ err_no: 1, err_tips: `${code}: ${message}` });

/** The OpenAPI operation of ./douyin-ecpay-notify.ts. */
export const douyinEcpayNotifyOperation: ApiOperation = {
  method: 'post',
  path: DOUYIN_ECPAY_NOTIFY_PATH,
  tags: ['douyin'],
  summary: "Douyin 担保支付's callbacks (payment, refund)",
  description:
    'Called by Douyin (担保支付), not by you. The body is read as text whatever its Content-Type and checked ' +
    'before anything in it is believed: `msg_signature` must be the SHA-1 of `[token, timestamp, nonce, msg]` ' +
    'sorted and joined (DOUYIN_PAY_TOKEN), and `timestamp` within 5 minutes of our clock. 200 ' +
    '`{"err_no":0,"err_tips":"success"}` acknowledges it once stored; every refusal is `{"err_no":1,"err_tips"}` ' +
    'with the status of the code leading `err_tips`, after which Douyin sends it again. What Node refuses ' +
    'before any route is known (an unparsable request line or headers, headers over 16 KB, a request too slow ' +
    'to arrive, an `Expect` other than 100-continue, `CONNECT`) is the common `{"error": {"code", "message"}}`.',
  request: {
    body: {
      required: true,
      content: {
        '*/*': {
          schema: z.string().meta({
            description:
              'JSON `{timestamp, nonce, msg, type: "payment"|"refund"|"settle", msg_signature}`, `msg` a JSON text.',
          }),
        },
      },
    },
  },
  responses: {
    200: jsonAnswer('Stored (or already stored).', acknowledgementSchema),
    ...errorAnswers(NODE_REFUSALS, {
      codes: errorCodesOf(
        'VALIDATION_FAILED',
        'UNSUPPORTED_MEDIA_TYPE',
        'WEBHOOK_INVALID',
        'WEBHOOK_SIGNATURE_INVALID',
        'WEBHOOK_UNKNOWN_TRANSACTION',
        'GATEWAY_UNAVAILABLE',
      ),
      schema: ecpayFailureSchema,
    }),
  },
};
