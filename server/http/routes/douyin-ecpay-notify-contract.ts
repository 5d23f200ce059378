import { z } from 'zod';
import { errorAnswers, jsonAnswer, type ApiOperation } from '../../openapi/operations';
import { errorCodesOf, PROVIDER_NOTIFY_ERRORS } from '../contract';
import { NODE_REFUSALS } from '../node-server';
import {
  douyinCallbackAckSchema,
  douyinCallbackFailureSchema,
  NODE_REFUSALS_IN_WORDS,
} from './douyin-callback-answers';

/**
 * The contract of Douyin 担保支付's callback endpoint (./douyin-ecpay-notify.ts): its path, the
 * answers Douyin reads and its OpenAPI operation (payments-beyond.md, "Douyin mini-program payment"
 * → 担保支付). A callback is taken when answered `{"err_no":0,"err_tips":"success"}` (the answer
 * seen in several integrations; Douyin's page does not spell it out); anything else makes Douyin
 * send it again.
 */

export const DOUYIN_ECPAY_NOTIFY_PATH = '/api/douyin/ecpay/notify';

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
    'with the status of the code leading `err_tips`, after which Douyin sends it again. ' +
    NODE_REFUSALS_IN_WORDS,
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
    200: jsonAnswer('Stored (or already stored).', douyinCallbackAckSchema),
    ...errorAnswers(NODE_REFUSALS, {
      codes: errorCodesOf(...PROVIDER_NOTIFY_ERRORS),
      schema: douyinCallbackFailureSchema,
    }),
  },
};
