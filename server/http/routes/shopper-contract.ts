import { z } from 'zod';
import { jsonAnswer, type ApiOperation } from '../../openapi/operations';
import {
  errorsOf,
  JSON_API_ERRORS,
  orderSchema,
  orderStatusCodeSchema,
  orderStatusSchema,
  SHOPPER_SECURITY,
} from '../contract';
import { idempotencyKeySchema, orderItemsSchema, orderNoSchema } from '../inputs';

/**
 * The shopper API's contract (what the mini-program calls): the zod schemas its routes
 * (./shopper.ts) validate requests with, those of its answers, and its OpenAPI operations.
 */

const platformSchema = z.enum(['weapp', 'tt']);

const loginCode = z.string().trim().min(1).max(256);

export const sessionBody = z
  .object({
    platform: platformSchema,
    code: loginCode.meta({ description: 'From `wx.login` (`weapp`) or `tt.login` (`tt`).' }),
    anonymousCode: loginCode
      .optional()
      .meta({ description: '`tt` only: the `anonymousCode` of `tt.login`, when it gave one.' }),
  })
  .meta({ id: 'SessionRequest' });

export const orderBody = z.object({ items: orderItemsSchema }).meta({ id: 'OrderRequest' });

export const claimBody = z
  .object({
    token: z
      .string()
      .trim()
      .min(16)
      .max(128)
      .meta({ description: 'The `checkout` query parameter the mini-program was launched with.' }),
  })
  .meta({ id: 'ClaimRequest' });

export const payBody = z.object({ platform: platformSchema }).meta({ id: 'PayRequest' });

/** `Idempotency-Key` of `POST /api/orders`: optional there. */
export const orderIdempotencyKey = idempotencyKeySchema.optional();

const sessionAnswer = z
  .strictObject({ token: z.string(), expiresIn: z.number().int().meta({ description: 'Seconds.' }) })
  .meta({ id: 'Session' });

const catalogAnswer = z
  .strictObject({ items: z.array(z.strictObject({ sku: z.string(), title: z.string(), price: z.number().int() })) })
  .meta({ id: 'Catalog' });

const orderAnswer = z.strictObject({ order: orderSchema });

const weappPayment = z
  .strictObject({
    platform: z.literal('weapp'),
    requestPayment: z
      .strictObject({
        timeStamp: z.string(),
        nonceStr: z.string(),
        package: z.string(),
        signType: z.string(),
        paySign: z.string(),
      })
      .meta({ description: 'Pass to `wx.requestPayment` as is: the gateway signed it.' }),
  })
  .meta({ id: 'WeappPayment' });

const douyinOrderInfo = z
  .strictObject({
    app_id: z.string(),
    merchant_id: z.string(),
    sign_type: z.literal('MD5'),
    timestamp: z.string().meta({ description: 'Unix seconds.' }),
    version: z.literal('2.0'),
    trade_type: z.literal('H5'),
    product_code: z.literal('pay'),
    payment_type: z.literal('direct'),
    out_order_no: z.string().meta({ description: 'The order number.' }),
    uid: z.string(),
    total_amount: z.number().int().meta({ description: 'Fen.' }),
    currency: z.literal('CNY'),
    subject: z.string(),
    body: z.string(),
    trade_time: z.string().meta({ description: 'Unix seconds.' }),
    valid_time: z.string().meta({ description: 'Seconds left to pay.' }),
    notify_url: z.string(),
    wx_url: z.string().optional().meta({ description: 'The WeChat H5 leg; absent when the gateway refused it.' }),
    wx_type: z.literal('MWEB').optional(),
    alipay_url: z.string().optional().meta({ description: 'The Alipay leg; absent when the gateway refused it.' }),
    sign: z.string(),
    risk_info: z.string().optional().meta({ description: 'JSON text `{"ip": …}` (not signed).' }),
  })
  .meta({ description: 'Signed as Douyin documents; pass to `tt.pay` as is.' });

const douyinPayment = z
  .strictObject({ platform: z.literal('tt'), service: z.literal(1), orderInfo: douyinOrderInfo })
  .meta({ id: 'DouyinPayment', description: 'TT_PAYMENT_PROVIDER=cashier: pass to `tt.pay` as is.' });

const douyinGuaranteedPayment = z
  .strictObject({
    platform: z.literal('tt'),
    service: z.literal(5),
    orderInfo: z.strictObject({ order_id: z.string(), order_token: z.string() }),
  })
  .meta({
    id: 'DouyinGuaranteedPayment',
    description:
      "TT_PAYMENT_PROVIDER=guaranteed (担保支付): pass to `tt.pay` as is; Douyin's pre-order made both values.",
  });

const douyinTradePayment = z
  .strictObject({
    platform: z.literal('tt'),
    requestOrder: z.strictObject({
      data: z.string().meta({ description: 'The order as JSON text, exactly as signed.' }),
      byteAuthorization: z
        .string()
        .meta({ description: '`SHA256-RSA2048 appid=…,nonce_str=…,timestamp=…,key_version=…,signature=…`' }),
    }),
  })
  .meta({
    id: 'DouyinTradePayment',
    description: 'TT_PAYMENT_PROVIDER=trade (通用交易系统): pass `requestOrder` to `tt.requestOrder` as is.',
  });

const paymentAnswer = z.union([weappPayment, douyinPayment, douyinGuaranteedPayment, douyinTradePayment]);

const statusAnswer = z
  .strictObject({
    orderNo: z.string(),
    status: orderStatusSchema,
    code: orderStatusCodeSchema,
    refundedAmount: z.number().int().meta({ description: 'Fen given back by the merchant; the order stays `paid`.' }),
  })
  .meta({ id: 'OrderStatusAnswer' });

const orderParams = z.object({ orderNo: orderNoSchema });

const tags = ['shopper'];

/** The OpenAPI operations of ./shopper.ts. */
export const shopperOperations: ApiOperation[] = [
  {
    method: 'get',
    path: '/api/catalog',
    tags,
    summary: 'The catalogue orders are priced from',
    responses: { 200: jsonAnswer('Every item, price in fen.', catalogAnswer), ...errorsOf(...JSON_API_ERRORS) },
  },
  {
    method: 'post',
    path: '/api/session',
    tags,
    summary: 'Log in with a wx.login / tt.login code',
    description: 'The server exchanges the code with WeChat or Douyin and keeps `session_key` to itself.',
    request: { body: { required: true, content: { 'application/json': { schema: sessionBody } } } },
    responses: {
      200: jsonAnswer('A session token for `Authorization: Bearer`.', sessionAnswer),
      ...errorsOf(
        ...JSON_API_ERRORS,
        'LOGIN_CODE_INVALID',
        'LOGIN_REJECTED',
        'LOGIN_RATE_LIMITED',
        'WECHAT_ERROR',
        'DOUYIN_ERROR',
        'WECHAT_UNAVAILABLE',
        'DOUYIN_UNAVAILABLE',
      ),
    },
  },
  {
    method: 'delete',
    path: '/api/session',
    tags,
    summary: 'Log out',
    description: "Deletes the bearer token's session; any token that is no longer valid is answered 204 too.",
    security: SHOPPER_SECURITY,
    responses: { 204: { description: 'Logged out (no body).' }, ...errorsOf(...JSON_API_ERRORS, 'SESSION_INVALID') },
  },
  {
    method: 'post',
    path: '/api/orders',
    tags,
    summary: 'Create an order, priced by the server',
    security: SHOPPER_SECURITY,
    request: {
      headers: z.object({ 'Idempotency-Key': orderIdempotencyKey }),
      body: { required: true, content: { 'application/json': { schema: orderBody } } },
    },
    responses: {
      201: jsonAnswer('The new order (or, for a retried Idempotency-Key, the same order).', orderAnswer),
      ...errorsOf(...JSON_API_ERRORS, 'SESSION_INVALID', 'UNKNOWN_SKU', 'ORDER_TOO_LARGE', 'IDEMPOTENCY_KEY_REUSED'),
    },
  },
  {
    method: 'post',
    path: '/api/checkouts/claim',
    tags,
    summary: "Take the order a merchant's app launched the mini-program with",
    security: SHOPPER_SECURITY,
    request: { body: { required: true, content: { 'application/json': { schema: claimBody } } } },
    responses: {
      200: jsonAnswer("The order, now the shopper's.", orderAnswer),
      ...errorsOf(
        ...JSON_API_ERRORS,
        'SESSION_INVALID',
        'CHECKOUT_TOKEN_INVALID',
        'CHECKOUT_TOKEN_USED',
        'CHECKOUT_TOKEN_EXPIRED',
      ),
    },
  },
  {
    method: 'post',
    path: '/api/orders/{orderNo}/pay',
    tags,
    summary: 'Start paying an order',
    description: 'WeChat: values for `wx.requestPayment`. Douyin: `orderInfo` for `tt.pay`.',
    security: SHOPPER_SECURITY,
    request: { params: orderParams, body: { required: true, content: { 'application/json': { schema: payBody } } } },
    responses: {
      200: jsonAnswer("What the platform's payment call takes.", paymentAnswer),
      ...errorsOf(
        ...JSON_API_ERRORS,
        'SESSION_INVALID',
        'PLATFORM_MISMATCH',
        'ORDER_NOT_FOUND',
        'ORDER_ALREADY_PAID',
        'ORDER_EXPIRED',
        'PAYMENT_IN_PROGRESS',
        'GATEWAY_ERROR',
        'GATEWAY_UNAVAILABLE',
      ),
    },
  },
  {
    method: 'get',
    path: '/api/orders/{orderNo}/status',
    tags,
    summary: "Poll an order's status",
    description: 'Answered from what is stored; never waits on the gateway.',
    security: SHOPPER_SECURITY,
    request: { params: orderParams },
    responses: {
      200: jsonAnswer('The status and its code.', statusAnswer),
      ...errorsOf(...JSON_API_ERRORS, 'SESSION_INVALID', 'ORDER_NOT_FOUND'),
    },
  },
];
