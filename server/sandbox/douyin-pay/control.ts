import { Router } from '@koa/router';
import { describeRoutes } from '../../openapi/operations';
import { readControlBody } from '../control';
import { echoed, sendError } from '../shared/http';
import { refundHoldSchema } from '../control-contract';
import { douyinPayControlOperations, douyinRefundSettleSchema, douyinSettleSchema } from './control-contract';
import type { DouyinPayKeyRing } from './keys';
import type { DouyinPaySystem, DouyinRefundHolds } from './system';

/**
 * Control endpoints of the emulated Douyin payment systems (contract: ./control-contract.ts):
 *   GET  /sandbox/douyin/keys      the development keys (./keys.ts)
 *   GET  /sandbox/douyin/orders    {orders: [{system, outOrderNo, orderId, totalAmount, status}]}
 *   POST /sandbox/douyin/orders/:outOrderNo/settle {result: "paid"|"closed", notify?: true}
 *   GET  /sandbox/douyin/refunds   {refunds: [{system, outRefundNo, refundId, outOrderNo, amount, status}]}
 *   POST /sandbox/douyin/refunds/hold {count?: 1}   201 {hold: {count, pending}}: the next refunds
 *        of either system stay processing
 *   DELETE /sandbox/douyin/refunds/hold   {released}
 *   POST /sandbox/douyin/refunds/:outRefundNo/settle {result: "succeeded"|"failed", notify?: true}
 *        {refund, notifying}: finishes a processing refund, with its signed refund callback
 * An order or refund number is looked for in every system (each merchant number is one system's).
 */
export function createDouyinPayControlRoutes(deps: {
  keys: DouyinPayKeyRing;
  systems: readonly DouyinPaySystem[];
  holds: DouyinRefundHolds;
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

  router.get('/refunds', (ctx) => {
    ctx.body = { refunds: deps.systems.flatMap((system) => system.refunds()) };
  });

  router.post('/refunds/hold', async (ctx) => {
    const input = await readControlBody(ctx, refundHoldSchema);
    if (!input) return;
    ctx.status = 201;
    ctx.body = { hold: { count: input.count, pending: deps.holds.add(input.count) } };
  });

  router.delete('/refunds/hold', (ctx) => {
    ctx.body = { released: deps.holds.release() };
  });

  router.post('/refunds/:outRefundNo/settle', async (ctx) => {
    const input = await readControlBody(ctx, douyinRefundSettleSchema);
    if (!input) return;
    const outRefundNo = String(ctx.params.outRefundNo);
    for (const system of deps.systems) {
      const settlement = await system.settleRefund(outRefundNo, input.result, input.notify);
      if (settlement.outcome === 'not_found') continue;
      if (settlement.outcome === 'finished') {
        sendError(ctx, 409, 'REFUND_FINISHED', `${settlement.reason}; a finished refund cannot change`);
        return;
      }
      ctx.body = { refund: settlement.refund, notifying: settlement.notifying };
      return;
    }
    sendError(ctx, 404, 'NO_SUCH_REFUND', `no Douyin refund ${echoed(outRefundNo)}`);
  });

  return describeRoutes(router, douyinPayControlOperations);
}
