import type { ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { ErrorCode } from '../domain/errors';
import { ORDER_STATUS_CODES, type OrderStatus } from '../domain/order-status';
import { errorAnswers } from '../openapi/operations';
import { HTTP_STATUS } from './errors';
import { NODE_REFUSALS } from './node-server';

/**
 * What more than one route of the checkout server answers, as zod schemas for its OpenAPI
 * document: the error answers by code, the security schemes, and the order and refund shapes.
 * Money is integer fen; times are ISO 8601 (UTC). Answer objects are strict: a field the
 * schema does not name is a field the document does not promise (the answer test checks it).
 */

/** The `securitySchemes` of the document, and which one each API takes. */
export const SECURITY_SCHEMES = {
  shopperSession: {
    type: 'http',
    scheme: 'bearer',
    description: 'The `token` of `POST /api/session` (a shopper session, 2 hours).',
  },
  merchantApiKey: {
    type: 'http',
    scheme: 'bearer',
    description: "MERCHANT_API_KEY, for the merchant's backend only (compared in constant time).",
  },
  metricsToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'METRICS_TOKEN, when set (`GET /metrics` is open otherwise).',
  },
} as const;
export const SHOPPER_SECURITY = [{ shopperSession: [] }];
export const MERCHANT_SECURITY = [{ merchantApiKey: [] }];

/**
 * What the app may answer any request on a served path, before or whatever its route, in the
 * route's own words (`errorHandler`): no usable Host (./protocol.ts), a declared body over 64 KB
 * (./bodies.ts), a method the path does not serve (`refuseUnserved`), or a bug on our side.
 */
const ANY_ROUTED_REQUEST: ErrorCode[] = ['MALFORMED_REQUEST', 'BODY_TOO_LARGE', 'METHOD_NOT_ALLOWED', 'INTERNAL'];

/**
 * What every route of the shopper and merchant APIs may answer besides: their query and JSON body
 * are read and checked before the route (./bodies.ts, ./validation.ts), whatever the method.
 */
export const JSON_API_ERRORS: ErrorCode[] = ['VALIDATION_FAILED', 'UNSUPPORTED_MEDIA_TYPE'];

/**
 * What the notification routes of WeChat Pay, 担保支付 and 通用交易系统 may answer besides any
 * routed request's: a body that does not read, a signature that does not verify, a bill or refund
 * we never opened, and GATEWAY_UNAVAILABLE when the provider could not be heard while reading it.
 */
export const PROVIDER_NOTIFY_ERRORS: ErrorCode[] = [
  ...JSON_API_ERRORS,
  'WEBHOOK_INVALID',
  'WEBHOOK_SIGNATURE_INVALID',
  'WEBHOOK_UNKNOWN_TRANSACTION',
  'GATEWAY_UNAVAILABLE',
];

/** The codes a route that can fail with `codes` answers in its own words (any routed request's too), with their statuses (./errors.ts). */
export function errorCodesOf(...codes: ErrorCode[]): Array<readonly [code: ErrorCode, status: number]> {
  return [...ANY_ROUTED_REQUEST, ...codes].map((code) => [code, HTTP_STATUS[code]] as const);
}

/**
 * The error answers of a route that can fail with `codes`, by status: those and any routed
 * request's (./errors.ts), and what Node refuses before any route is known (`NODE_REFUSALS`), all
 * in the common body.
 */
export function errorsOf(...codes: ErrorCode[]): Record<string, ResponseConfig> {
  return errorAnswers([...NODE_REFUSALS, ...errorCodesOf(...codes)]);
}

const fen = z.number().int().meta({ description: 'Integer fen (1 CNY = 100 fen).' });
const isoTime = z.iso.datetime();

export const orderStatusSchema = z
  .enum(Object.keys(ORDER_STATUS_CODES) as [OrderStatus, ...OrderStatus[]])
  .meta({ id: 'OrderStatus', description: '`paid` (0), `expired` (1), `failed` (2), `closed` (3), `pending` (9).' });

export const orderStatusCodeSchema = z
  .union([z.literal(0), z.literal(1), z.literal(2), z.literal(3), z.literal(9)])
  .meta({
    id: 'OrderStatusCode',
    description: "The status as Douyin's getOrderStatus code: 0 paid, 1 expired, 2 failed, 3 closed, 9 pending.",
  });

const orderShape = {
  orderNo: z.string(),
  amount: fen,
  currency: z.literal('CNY'),
  status: orderStatusSchema,
  items: z.array(
    z.strictObject({
      sku: z.string(),
      title: z.string(),
      quantity: z.number().int(),
      price: fen,
      amount: fen,
    }),
  ),
  expiresAt: isoTime,
};

/** An order as its shopper sees it, priced by the server. */
export const orderSchema = z.strictObject(orderShape).meta({ id: 'Order' });

/** A refund as the merchant API shows it. */
export const refundSchema = z
  .strictObject({
    refundNo: z.string(),
    orderNo: z.string(),
    amount: fen,
    status: z.enum(['pending', 'succeeded', 'failed']),
    kind: z.enum(['merchant', 'duplicate']).meta({
      description: '`merchant`: asked through the merchant API; `duplicate`: a second payment returned by itself.',
    }),
    reason: z.string().nullable(),
    createdAt: isoTime,
    finishedAt: isoTime.optional(),
    failureReason: z.string().optional(),
  })
  .meta({ id: 'Refund' });

const paymentShape = {
  billNo: z.string(),
  amount: fen,
  channel: z.string().meta({ description: 'The gateway channel, e.g. `WX_MINI`, `BC_WX_WAP`, `ALI_APP`.' }),
  disposition: z.enum(['applied', 'refund_due', 'refunded', 'amount_mismatch']),
  source: z.enum(['webhook', 'query']),
  gatewayTradeNo: z.string().optional(),
  receivedAt: isoTime,
};

/** A payment the gateway reported, as the merchant API shows it. */
export const paymentSchema = z.strictObject(paymentShape).meta({ id: 'Payment' });

/** An order as the merchant API shows it: the shopper's view and what the merchant's app gave and got. */
export const merchantOrderSchema = z
  .strictObject({
    ...orderShape,
    code: orderStatusCodeSchema,
    appUserId: z.string().optional(),
    attach: z.record(z.string(), z.unknown()).optional(),
    claimed: z.boolean(),
    paidAt: isoTime.optional(),
    refundedAmount: fen,
    payments: z.array(paymentSchema),
    refunds: z.array(refundSchema),
  })
  .meta({ id: 'MerchantOrder' });

/** One entry of `GET /api/merchant/payments`. */
export const paymentForReviewSchema = z
  .strictObject({
    ...paymentShape,
    orderNo: z.string(),
    order: z.strictObject({
      orderNo: z.string(),
      amount: fen,
      status: orderStatusSchema,
      code: orderStatusCodeSchema,
      appUserId: z.string().optional(),
      createdAt: isoTime,
      paidAt: isoTime.optional(),
    }),
    refund: refundSchema.optional(),
  })
  .meta({ id: 'PaymentForReview' });
