import { z } from 'zod';
import { jsonAnswer, type ApiOperation } from '../../../openapi/operations';
import { BAD_BODY, failures } from '../../control-contract';

/**
 * The contract of the emulated 通用交易系统's own control route (./index.ts): what a `tt` double
 * hands over when the mini-program calls `tt.requestOrder`, which has no HTTP path of Douyin's
 * that a merchant could call.
 */

export const REQUEST_ORDER_PATH = '/sandbox/douyin/trade/request-order';

/** `{data, byteAuthorization}`, exactly as the mini-program passed them to `tt.requestOrder`. */
export const requestOrderSchema = z
  .strictObject({
    data: z.string().meta({ description: 'The order JSON text the server signed.' }),
    byteAuthorization: z
      .string()
      .meta({ description: '`SHA256-RSA2048 appid=…,nonce_str=…,timestamp=…,key_version=…,signature=…`.' }),
  })
  .meta({ id: 'SandboxDouyinRequestOrder' });

/** What `tt.requestOrder`'s `success` gets (names as the client API page shows them: unconfirmed). */
export const requestOrderAnswerSchema = z
  .strictObject({
    orderId: z.string().meta({ description: "Douyin's order number." }),
    outOrderNo: z.string(),
    itemOrderList: z.array(z.strictObject({ itemOrderId: z.string(), skuId: z.string(), price: z.number().int() })),
  })
  .meta({ id: 'SandboxDouyinRequestOrderAnswer' });

export const requestOrderOperation: ApiOperation = {
  method: 'post',
  path: REQUEST_ORDER_PATH,
  tags: ['sandbox'],
  summary: '通用交易系统: what tt.requestOrder does inside Douyin',
  description:
    'Checks `byteAuthorization` with the app public key (the appid, the key_version, a timestamp within 5 minutes ' +
    'and the signature over `POST\\n/requestOrder\\n<timestamp>\\n<nonce_str>\\n<data>\\n`) and `data` (one SKU line ' +
    'adding up to `totalAmount`, `payExpireSeconds` 1–172800, `payNotifyUrl`), then creates the order, or answers ' +
    'the same order again while it is payable. Pay or close it with `POST /sandbox/douyin/orders/{outOrderNo}/settle`.',
  request: { body: { required: true, content: { 'application/json': { schema: requestOrderSchema } } } },
  responses: {
    200: jsonAnswer('The order Douyin made (or already had).', requestOrderAnswerSchema),
    ...failures(...BAD_BODY, ['SIGNATURE_INVALID', 400], ['ORDER_INVALID', 400], ['ORDER_STATE_CONFLICT', 409]),
  },
};
