import { z } from 'zod';
import { jsonAnswer, type ApiOperation } from '../../openapi/operations';
import {
  errorsOf,
  JSON_API_ERRORS,
  MERCHANT_SECURITY,
  merchantOrderSchema,
  paymentForReviewSchema,
  refundSchema,
} from '../contract';
import { idempotencyKeySchema, orderItemsSchema, orderNoSchema } from '../inputs';

/**
 * The merchant API's contract (server to server): the zod schemas its routes (./merchant.ts)
 * validate requests with, those of its answers, and its OpenAPI operations.
 */

export const checkoutBody = z
  .object({
    items: orderItemsSchema,
    appUserId: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .meta({ description: "Your app's user: it comes back in lookups and notifications." }),
    attach: z
      .record(z.string(), z.unknown())
      .refine((value) => JSON.stringify(value).length <= 2048, 'at most 2 KB of JSON')
      .optional()
      .meta({ description: 'Any JSON object up to 2 KB, returned as given.' }),
  })
  .meta({ id: 'CheckoutRequest' });

export const refundBody = z
  .object({
    amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).meta({ description: 'Fen.' }),
    // Up to 80 characters (code points); NUL and unpaired surrogates are refused by parseInput.
    reason: z
      .string()
      .trim()
      .min(1)
      .refine((text) => [...text].length <= 80, 'at most 80 characters')
      .optional()
      .meta({ description: 'Up to 80 characters.' }),
  })
  .meta({ id: 'RefundRequest' });

export const paymentsQuery = z.object({
  disposition: z.enum(['amount_mismatch', 'refund_due', 'refunded']),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

const checkoutAnswer = z
  .strictObject({
    orderNo: z.string(),
    amount: z.number().int().meta({ description: 'Fen.' }),
    expiresAt: z.iso.datetime(),
    launch: z.strictObject({
      weapp: z.strictObject({ userName: z.string(), path: z.string() }).meta({
        description:
          "For `WXLaunchMiniProgramReq`: the mini-program's original id and the page with its one-time token.",
      }),
      tt: z.strictObject({ path: z.string() }),
    }),
  })
  .meta({ id: 'MerchantCheckout' });

const orderParams = z.object({ orderNo: orderNoSchema });
const refundAnswer = z.strictObject({ refund: refundSchema });

/** Codes every merchant route may answer: the API is off, or the key is missing or wrong. */
const MERCHANT_ERRORS = [...JSON_API_ERRORS, 'MERCHANT_API_DISABLED', 'MERCHANT_UNAUTHORIZED'] as const;

const tags = ['merchant'];
const security = MERCHANT_SECURITY;

/** The OpenAPI operations of ./merchant.ts. */
export const merchantOperations: ApiOperation[] = [
  {
    method: 'post',
    path: '/api/merchant/checkouts',
    tags,
    security,
    summary: 'Create a checkout for your app to open in the mini-program',
    request: { body: { required: true, content: { 'application/json': { schema: checkoutBody } } } },
    responses: {
      201: jsonAnswer('The order and how to launch the mini-program on it.', checkoutAnswer),
      ...errorsOf(...MERCHANT_ERRORS, 'UNKNOWN_SKU', 'ORDER_TOO_LARGE'),
    },
  },
  {
    method: 'get',
    path: '/api/merchant/orders/{orderNo}',
    tags,
    security,
    summary: 'Look an order up, with its payments and refunds',
    request: { params: orderParams },
    responses: {
      200: jsonAnswer('The order.', z.strictObject({ order: merchantOrderSchema })),
      ...errorsOf(...MERCHANT_ERRORS, 'ORDER_NOT_FOUND'),
    },
  },
  {
    method: 'post',
    path: '/api/merchant/orders/{orderNo}/refunds',
    tags,
    security,
    summary: 'Refund a paid order, in whole or in part',
    description: 'The same Idempotency-Key again answers the same refund (200) and never refunds twice.',
    request: {
      params: orderParams,
      headers: z.object({ 'Idempotency-Key': idempotencyKeySchema }),
      body: { required: true, content: { 'application/json': { schema: refundBody } } },
    },
    responses: {
      200: jsonAnswer('The refund this Idempotency-Key already made.', refundAnswer),
      201: jsonAnswer('The new refund (`pending` until the gateway says).', refundAnswer),
      ...errorsOf(
        ...MERCHANT_ERRORS,
        'IDEMPOTENCY_KEY_REQUIRED',
        'ORDER_NOT_FOUND',
        'ORDER_NOT_PAID',
        'REFUND_EXCEEDS_PAID',
        'IDEMPOTENCY_KEY_REUSED',
      ),
    },
  },
  {
    method: 'get',
    path: '/api/merchant/payments',
    tags,
    security,
    summary: 'Payments that need (or needed) a person, newest first',
    request: { query: paymentsQuery },
    responses: {
      200: jsonAnswer(
        'The payments with this disposition.',
        z.strictObject({ payments: z.array(paymentForReviewSchema) }),
      ),
      ...errorsOf(...MERCHANT_ERRORS),
    },
  },
];
