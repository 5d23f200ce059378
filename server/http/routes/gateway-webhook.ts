import Router from '@koa/router';
import type { GatewayWebhooks } from '../../domain/webhooks';
import { rawTextBody } from '../bodies';

/**
 * The gateway's webhook (seed 001 §3), PAY and REFUND alike. The literal body `success` is the acknowledgement and is
 * sent only after the verdict is committed; every other answer makes the gateway retry. The body
 * is read as text whatever its Content-Type and handed to the verifier unparsed.
 */
export function gatewayWebhookRoutes(webhooks: GatewayWebhooks) {
  const router = new Router();
  router.post('/api/gateway/webhook', rawTextBody(), async (ctx) => {
    const raw = typeof ctx.request.rawBody === 'string' ? ctx.request.rawBody : '';
    await webhooks.receive(raw);
    ctx.type = 'text/plain';
    ctx.body = 'success';
  });
  return router;
}
