import { z } from 'zod';
import { jsonAnswer, type ApiOperation } from '../../openapi/operations';
import { BAD_BODY, failures } from '../control-contract';

/**
 * The contract of the Douyin payment systems' control routes under `/sandbox/douyin/` (./control.ts):
 * request and answer schemas and their OpenAPI operations. Fees are fen.
 */

/** `{result, notify}` of `POST /sandbox/douyin/orders/:outOrderNo/settle`. */
export const douyinSettleSchema = z
  .object({
    result: z
      .enum(['paid', 'closed'])
      .meta({ description: '`paid`: the shopper pays; `closed`: the order closes unpaid.' }),
    notify: z
      .boolean()
      .default(true)
      .meta({ description: '`false`: no payment callback (a lost one; queries show the order paid).' }),
  })
  .strict()
  .meta({ id: 'SandboxDouyinSettleRequest' });

export const douyinKeysSchema = z
  .strictObject({
    appPublicKey: z
      .string()
      .meta({ description: '通用交易系统: the app public key (SPKI PEM), as uploaded to Douyin.' }),
    appPrivateKey: z.string().meta({ description: 'Its private half (PKCS#8 PEM): signs `byteAuthorization`.' }),
    platformPublicKey: z
      .string()
      .meta({ description: "通用交易系统: Douyin's platform public key: verifies callbacks." }),
    platformPrivateKey: z.string().meta({ description: 'Its private half, with which the sandbox signs.' }),
    keyVersion: z.string().meta({ description: "The app key's `key_version`." }),
    salt: z.string().meta({ description: '担保支付: the SALT of request `sign`.' }),
    token: z.string().meta({ description: "担保支付: the token of callbacks' `msg_signature`." }),
  })
  .meta({ id: 'SandboxDouyinKeys' });

export const douyinOrderSchema = z
  .strictObject({
    system: z.enum(['guaranteed', 'trade']).meta({ description: '`guaranteed`: 担保支付; `trade`: 通用交易系统.' }),
    outOrderNo: z.string(),
    orderId: z.string().meta({ description: "Douyin's order number." }),
    totalAmount: z.number().int().meta({ description: 'Fen.' }),
    status: z.enum(['pending', 'paid', 'closed']),
  })
  .meta({ id: 'SandboxDouyinOrder' });

const tags = ['sandbox'];
const NO_SUCH_ORDER = ['NO_SUCH_ORDER', 404] as const;
const CONFLICT = ['ORDER_STATE_CONFLICT', 409] as const;

/** The OpenAPI operations of ./control.ts. */
export const douyinPayControlOperations: ApiOperation[] = [
  {
    method: 'get',
    path: '/sandbox/douyin/keys',
    tags,
    summary: "The emulated Douyin payment systems' development keys",
    description: 'Generated on the first call (or read from the data directory). Development keys only.',
    responses: { 200: jsonAnswer('The keys.', douyinKeysSchema), ...failures() },
  },
  {
    method: 'get',
    path: '/sandbox/douyin/orders',
    tags,
    summary: 'Every order of the emulated 担保支付 and 通用交易系统',
    responses: {
      200: jsonAnswer('Oldest first within each system.', z.strictObject({ orders: z.array(douyinOrderSchema) })),
      ...failures(),
    },
  },
  {
    method: 'post',
    path: '/sandbox/douyin/orders/{outOrderNo}/settle',
    tags,
    summary: 'Pay or close an order as the shopper or Douyin would',
    request: {
      params: z.object({ outOrderNo: z.string() }),
      body: { required: true, content: { 'application/json': { schema: douyinSettleSchema } } },
    },
    responses: {
      200: jsonAnswer('The order after settling.', z.strictObject({ order: douyinOrderSchema })),
      ...failures(...BAD_BODY, NO_SUCH_ORDER, CONFLICT),
    },
  },
];
