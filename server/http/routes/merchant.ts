import { jsonBody } from '../bodies';
import { refuseUnstorableInput } from '../validation';
import Router from '@koa/router';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { AppError } from '../../domain/errors';
import type { MerchantService } from '../../domain/merchant';
import type { RefundService } from '../../domain/refunds';
import { describeRoutes } from '../../openapi/operations';
import { idempotencyKeySchema, orderNoParam } from '../inputs';
import { checkoutBody, merchantOperations, paymentsQuery, refundBody } from './merchant-contract';
import { parseInput } from '../validation';

const digest = (text: string) => createHash('sha256').update(text).digest();

/** `Authorization: Bearer <MERCHANT_API_KEY>`, compared in constant time. */
function requireMerchant(apiKey: string | undefined) {
  const expected = apiKey === undefined ? undefined : digest(apiKey);
  return async (ctx: Context, next: Next) => {
    if (!expected) {
      throw new AppError('MERCHANT_API_DISABLED', 'The merchant API is off: set MERCHANT_API_KEY to enable it');
    }
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))?.[1];
    // Comparing digests keeps the comparison constant-time whatever the presented length.
    if (!presented || !timingSafeEqual(digest(presented), expected)) {
      throw new AppError('MERCHANT_UNAUTHORIZED', 'Missing or wrong merchant API key');
    }
    await next();
  };
}

/** The server-to-server API of the merchant's app backend; its contract is in ./merchant-contract.ts. */
export function merchantRoutes(deps: { merchant: MerchantService; refunds: RefundService; apiKey?: string }) {
  const router = new Router({ prefix: '/api/merchant' });
  router.use(jsonBody(), refuseUnstorableInput());
  router.use(requireMerchant(deps.apiKey));

  router.post('/checkouts', async (ctx) => {
    const body = parseInput(checkoutBody, ctx.request.body, 'body');
    ctx.status = 201;
    ctx.body = await deps.merchant.createCheckout(body);
  });

  router.get('/orders/:orderNo', async (ctx) => {
    ctx.body = { order: await deps.merchant.getOrder(orderNoParam(ctx.params.orderNo)) };
  });

  // A refund of a paid order (seed 001 §4.3.1 at the gateway). Idempotency-Key is required: a
  // refund retried without one could be made twice.
  router.post('/orders/:orderNo/refunds', async (ctx) => {
    const orderNo = orderNoParam(ctx.params.orderNo);
    const rawKey = ctx.get('idempotency-key');
    if (rawKey === '') {
      throw new AppError(
        'IDEMPOTENCY_KEY_REQUIRED',
        'Send an Idempotency-Key header: retrying with the same key never refunds twice',
      );
    }
    const key = parseInput(idempotencyKeySchema, rawKey, 'Idempotency-Key');
    const body = parseInput(refundBody, ctx.request.body, 'body');
    const { refund, created } = await deps.refunds.refund(orderNo, body, key);
    ctx.status = created ? 201 : 200;
    ctx.body = { refund };
  });

  router.get('/payments', async (ctx) => {
    const query = parseInput(paymentsQuery, ctx.query, 'query');
    ctx.body = { payments: await deps.merchant.listPayments(query.disposition, query.limit, query.offset) };
  });

  return describeRoutes(router, merchantOperations);
}
