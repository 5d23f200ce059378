import Router from '@koa/router';
import type { ProviderNotifications } from '../../domain/webhooks';
import { describeRoutes } from '../../openapi/operations';
import { providerMessageOf, rawTextBody } from '../bodies';
import { WECHATPAY_NOTIFY_PATH, wechatPayNotifyOperation } from './wechatpay-notify-contract';

/**
 * WeChat Pay's notifications of payments and refunds (./wechatpay-notify-contract.ts). The body
 * is read as text whatever its Content-Type and handed to the verifier unparsed, with the
 * headers that sign it. 204 is sent only once what it says is committed; every refusal is
 * written as WeChat Pay's failure answer by the error handler (`wechatPayFailure`), so WeChat Pay
 * sends it again.
 */
export function wechatPayNotifyRoutes(webhooks: ProviderNotifications) {
  const router = new Router();
  router.post(WECHATPAY_NOTIFY_PATH, rawTextBody(), async (ctx) => {
    await webhooks.receive('wechatpay', providerMessageOf(ctx));
    ctx.status = 204;
  });
  return describeRoutes(router, [wechatPayNotifyOperation]);
}
