import { z } from 'zod';
import { jsonAnswer, type ApiOperation } from '../../openapi/operations';
import { BAD_BODY, failures, refundHoldAnswer, refundHoldSchema, refundReleaseAnswer } from '../control-contract';

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

/** `{result, notify}` of `POST /sandbox/douyin/refunds/:outRefundNo/settle`. */
export const douyinRefundSettleSchema = z
  .strictObject({
    result: z
      .enum(['succeeded', 'failed'])
      .meta({ description: '`succeeded`: refund status SUCCESS; `failed`: FAIL, its amount refundable again.' }),
    notify: z.boolean().default(true).meta({
      description: '`false`: no refund callback (a lost one; the refund query shows the outcome all the same).',
    }),
  })
  .meta({ id: 'SandboxDouyinRefundSettleRequest' });

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

export const douyinRefundSchema = z
  .strictObject({
    system: z.enum(['guaranteed', 'trade']).meta({ description: '`guaranteed`: 担保支付; `trade`: 通用交易系统.' }),
    outRefundNo: z.string(),
    refundId: z.string().meta({ description: "Douyin's refund number (`refund_id`; 担保支付's `refund_no`)." }),
    outOrderNo: z.string(),
    amount: z.number().int().meta({ description: 'Fen.' }),
    status: z.enum(['processing', 'succeeded', 'failed']),
  })
  .meta({ id: 'SandboxDouyinRefund' });

const tags = ['sandbox'];
const NO_SUCH_ORDER = ['NO_SUCH_ORDER', 404] as const;
const NO_SUCH_REFUND = ['NO_SUCH_REFUND', 404] as const;
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
  {
    method: 'get',
    path: '/sandbox/douyin/refunds',
    tags,
    summary: 'Every refund of the emulated 担保支付 and 通用交易系统',
    responses: {
      200: jsonAnswer('Oldest first within each system.', z.strictObject({ refunds: z.array(douyinRefundSchema) })),
      ...failures(),
    },
  },
  {
    method: 'post',
    path: '/sandbox/douyin/refunds/hold',
    tags,
    summary: 'Keep the next refunds of either system processing',
    description:
      'By default a refund succeeds right after its answer. A held one stays processing (the refund query says ' +
      'so) until `POST /sandbox/douyin/refunds/{outRefundNo}/settle`.',
    request: { body: { content: { 'application/json': { schema: refundHoldSchema } } } },
    responses: { 201: refundHoldAnswer, ...failures(...BAD_BODY) },
  },
  {
    method: 'delete',
    path: '/sandbox/douyin/refunds/hold',
    tags,
    summary: 'Let refunds succeed at once again',
    responses: { 200: refundReleaseAnswer, ...failures() },
  },
  {
    method: 'post',
    path: '/sandbox/douyin/refunds/{outRefundNo}/settle',
    tags,
    summary: 'Finish a processing refund, succeeded or failed',
    description:
      "Sends the system's signed refund callback (status SUCCESS or FAIL) to the refund's notify URL, unless " +
      '`notify` is false. A failed refund gives its amount back to the order.',
    request: {
      params: z.object({ outRefundNo: z.string() }),
      body: { required: true, content: { 'application/json': { schema: douyinRefundSettleSchema } } },
    },
    responses: {
      200: jsonAnswer(
        'The refund, and whether a refund callback delivery started.',
        z.strictObject({ refund: douyinRefundSchema, notifying: z.boolean() }),
      ),
      ...failures(...BAD_BODY, NO_SUCH_REFUND, ['REFUND_FINISHED', 409]),
    },
  },
];
