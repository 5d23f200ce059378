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
 * The contract of the endpoint Douyin's 通用交易系统 calls back (./douyin-trade-notify.ts): its
 * path, its answers and its OpenAPI operation. The callback pages (payments-beyond.md, 通用交易系统,
 * Callback) ask for HTTP 200 with `{"err_no": 0, "err_tips": "success"}`; anything else is sent
 * again later (the schedule is unconfirmed).
 */

export const DOUYIN_TRADE_NOTIFY_PATH = '/api/douyin/trade/notify';

const failureCodes = errorCodesOf(...PROVIDER_NOTIFY_ERRORS);

/** The OpenAPI operation of ./douyin-trade-notify.ts. */
export const douyinTradeNotifyOperation: ApiOperation = {
  method: 'post',
  path: DOUYIN_TRADE_NOTIFY_PATH,
  tags: ['douyin'],
  summary: "Douyin 通用交易系统's callbacks (payment, refund)",
  description:
    'Called by Douyin (TT_PAYMENT_PROVIDER=trade), not by you. The body is read as text whatever its Content-Type; ' +
    'only the verifier parses it, after checking `Byte-Signature` (RSA-SHA256 with the platform public key) over ' +
    '`Byte-Timestamp\\nByte-Nonce-Str\\nbody\\n`, the timestamp within 5 minutes. 200 `{"err_no": 0, "err_tips": ' +
    '"success"}` acknowledges it once stored; every refusal is `{"err_no": 1, "err_tips"}` with the status of the code ' +
    'leading `err_tips`, after which Douyin sends it again. ' +
    NODE_REFUSALS_IN_WORDS,
  request: {
    headers: z.object({
      'byte-timestamp': z.string().meta({ description: 'Seconds since 1970; at most 5 minutes off.' }),
      'byte-nonce-str': z.string(),
      'byte-signature': z.string().meta({ description: 'Base64 RSA-SHA256.' }),
    }),
    body: {
      required: true,
      content: {
        '*/*': { schema: z.string().meta({ description: '`{"version", "type", "msg"}` as text, `msg` JSON text.' }) },
      },
    },
  },
  responses: {
    200: jsonAnswer('Stored (or already stored).', douyinCallbackAckSchema),
    ...errorAnswers(NODE_REFUSALS, { codes: failureCodes, schema: douyinCallbackFailureSchema }),
  },
};
