import Router from '@koa/router';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { z } from 'zod';
import { AppError } from '../../domain/errors';
import type { MerchantService } from '../../domain/merchant';
import { orderItemsSchema, orderNoParam } from '../inputs';
import { parseInput } from '../validation';

const checkoutBody = z.object({
  items: orderItemsSchema,
  appUserId: z.string().trim().min(1).max(64),
  attach: z
    .record(z.string(), z.unknown())
    .refine((value) => JSON.stringify(value).length <= 2048, 'at most 2 KB of JSON')
    .optional(),
});

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

/** The server-to-server API of the merchant's app backend. */
export function merchantRoutes(deps: { merchant: MerchantService; apiKey?: string }) {
  const router = new Router({ prefix: '/api/merchant' });
  router.use(requireMerchant(deps.apiKey));

  router.post('/checkouts', async (ctx) => {
    const body = parseInput(checkoutBody, ctx.request.body, 'body');
    ctx.status = 201;
    ctx.body = await deps.merchant.createCheckout(body);
  });

  router.get('/orders/:orderNo', async (ctx) => {
    ctx.body = { order: await deps.merchant.getOrder(orderNoParam(ctx.params.orderNo)) };
  });

  return router;
}
