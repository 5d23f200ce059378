import { Router } from '@koa/router';
import { describeRoutes } from '../../openapi/operations';
import { readControlBody } from '../control';
import { echoed, sendError } from '../shared/http';
import { douyinPayControlOperations, douyinSettleSchema } from './control-contract';
import type { DouyinPayKeyRing } from './keys';
import type { DouyinPaySystem } from './system';

/**
 * Control endpoints of the emulated Douyin payment systems (contract: ./control-contract.ts):
 *   GET  /sandbox/douyin/keys      the development keys (./keys.ts)
 *   GET  /sandbox/douyin/orders    {orders: [{system, outOrderNo, orderId, totalAmount, status}]}
 *   POST /sandbox/douyin/orders/:outOrderNo/settle {result: "paid"|"closed", notify?: true}
 * An order number is looked for in every system (each merchant order number is one system's).
 */
export function createDouyinPayControlRoutes(deps: {
  keys: DouyinPayKeyRing;
  systems: readonly DouyinPaySystem[];
}): Router {
  const router = new Router({ prefix: '/sandbox/douyin' });

  router.get('/keys', async (ctx) => {
    const keys = await deps.keys.get();
    ctx.body = {
      appPublicKey: keys.appPublicKey,
      appPrivateKey: keys.appPrivateKey,
      platformPublicKey: keys.platformPublicKey,
      platformPrivateKey: keys.platformPrivateKey,
      keyVersion: keys.keyVersion,
      salt: keys.salt,
      token: keys.token,
    };
  });

  router.get('/orders', (ctx) => {
    ctx.body = { orders: deps.systems.flatMap((system) => system.orders()) };
  });

  router.post('/orders/:outOrderNo/settle', async (ctx) => {
    const input = await readControlBody(ctx, douyinSettleSchema);
    if (!input) return;
    const outOrderNo = String(ctx.params.outOrderNo);
    for (const system of deps.systems) {
      const settlement = await system.settle(outOrderNo, input.result, input.notify);
      if (settlement.outcome === 'not_found') continue;
      if (settlement.outcome === 'conflict') {
        sendError(ctx, 409, 'ORDER_STATE_CONFLICT', settlement.reason);
        return;
      }
      ctx.body = { order: settlement.order };
      return;
    }
    sendError(ctx, 404, 'NO_SUCH_ORDER', `no Douyin order ${echoed(outOrderNo)}`);
  });

  return describeRoutes(router, douyinPayControlOperations);
}
