import Router from '@koa/router';
import type { ProviderNotifications } from '../../domain/webhooks';
import { describeRoutes } from '../../openapi/operations';
import { providerMessageOf, rawTextBody } from '../bodies';
import { DOUYIN_CALLBACK_ACK } from './douyin-callback-answers';
import { DOUYIN_ECPAY_NOTIFY_PATH, douyinEcpayNotifyOperation } from './douyin-ecpay-notify-contract';

/**
 * Douyin 担保支付's payment and refund callbacks (./douyin-ecpay-notify-contract.ts). The body is
 * read as text and handed to the verifier unparsed. The acknowledgement is sent only once what it
 * says is committed; every refusal is written in Douyin's words by the error handler
 * (`douyinCallbackFailure`), so Douyin sends it again.
 */
export function douyinEcpayNotifyRoutes(webhooks: ProviderNotifications) {
  const router = new Router();
  router.post(DOUYIN_ECPAY_NOTIFY_PATH, rawTextBody(), async (ctx) => {
    await webhooks.receive('douyin_guaranteed', providerMessageOf(ctx));
    ctx.body = DOUYIN_CALLBACK_ACK;
  });
  return describeRoutes(router, [douyinEcpayNotifyOperation]);
}
