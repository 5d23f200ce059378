import { jsonBody } from '../bodies';
import { refuseUnstorableInput } from '../validation';
import Router from '@koa/router';
import { AppError } from '../../domain/errors';
import type { Catalog } from '../../domain/catalog';
import type { OrderService } from '../../domain/orders';
import type { PaymentService } from '../../domain/payments/start-payment';
import type { SessionService, Shopper } from '../../domain/sessions';
import type { MerchantService } from '../../domain/merchant';
import type { OrderStatusReadModel } from '../../read-model/order-statuses';
import { bearerToken, requireShopper } from '../auth';
import { orderNoParam } from '../inputs';
import { describeRoutes } from '../../openapi/operations';
import { claimBody, orderBody, orderIdempotencyKey, payBody, sessionBody, shopperOperations } from './shopper-contract';
import { parseInput } from '../validation';

/** The API the mini-program calls; its contract is in ./shopper-contract.ts. */
export function shopperRoutes(deps: {
  sessions: SessionService;
  orders: OrderService;
  payments: PaymentService;
  statuses: OrderStatusReadModel;
  merchant: MerchantService;
  catalog: Catalog;
}) {
  const { sessions, orders, payments, statuses, merchant, catalog } = deps;
  const router = new Router<{ shopper: Shopper }>({ prefix: '/api' });
  router.use(jsonBody(), refuseUnstorableInput());
  const items = catalog.items.map(({ sku, title, price }) => ({ sku, title, price }));

  router.get('/catalog', (ctx) => {
    ctx.body = { items };
  });

  router.post('/session', async (ctx) => {
    const body = parseInput(sessionBody, ctx.request.body, 'body');
    const codes = body.platform === 'tt' ? { code: body.code, anonymousCode: body.anonymousCode } : { code: body.code };
    ctx.body = await sessions.open(body.platform, codes);
  });

  // Log out. 204 for any token, even one already logged out (RFC 7009 §2.2 answers revocation of
  // an invalid token the same way): a retried logout succeeds and nothing is learnt about tokens.
  router.delete('/session', async (ctx) => {
    await sessions.revoke(bearerToken(ctx));
    ctx.status = 204;
  });

  const authenticated = requireShopper(sessions);

  router.post('/orders', authenticated, async (ctx) => {
    const body = parseInput(orderBody, ctx.request.body, 'body');
    const key = parseInput(orderIdempotencyKey, ctx.get('idempotency-key') || undefined, 'Idempotency-Key');
    ctx.status = 201;
    ctx.body = { order: await orders.createOrder(ctx.state.shopper, body.items, key) };
  });

  // The mini-program opened by a merchant's app exchanges the launch token for the app's order.
  router.post('/checkouts/claim', authenticated, async (ctx) => {
    const body = parseInput(claimBody, ctx.request.body, 'body');
    ctx.body = { order: await merchant.claim(ctx.state.shopper, body.token) };
  });

  router.post('/orders/:orderNo/pay', authenticated, async (ctx) => {
    const number = orderNoParam(ctx.params.orderNo);
    const body = parseInput(payBody, ctx.request.body, 'body');
    if (body.platform !== ctx.state.shopper.platform) {
      throw new AppError(
        'PLATFORM_MISMATCH',
        `body.platform is ${body.platform} but this session was opened on ${ctx.state.shopper.platform}`,
      );
    }
    ctx.body = await payments.startPayment(ctx.state.shopper, number, { ip: ctx.ip });
  });

  router.get('/orders/:orderNo/status', authenticated, async (ctx) => {
    ctx.body = await statuses.orderStatus(ctx.state.shopper, orderNoParam(ctx.params.orderNo));
  });

  return describeRoutes(router, shopperOperations);
}
