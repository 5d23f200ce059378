import Router from '@koa/router';
import type { ProviderNotifications } from '../../domain/webhooks';
import { describeRoutes } from '../../openapi/operations';
import { providerMessageOf, rawTextBody } from '../bodies';
import { DOUYIN_CALLBACK_ACK } from './douyin-callback-answers';
import { DOUYIN_TRADE_NOTIFY_PATH, douyinTradeNotifyOperation } from './douyin-trade-notify-contract';

/**
 * Douyin 通用交易系统's payment and refund callbacks (./douyin-trade-notify-contract.ts). The body
 * is read as text whatever its Content-Type and handed to the verifier unparsed, with the
 * `Byte-*` headers that sign it. The acknowledgement is sent only once what it says is
 * committed; every refusal is written in Douyin's words by the error handler (`douyinCallbackFailure`).
 */
export function douyinTradeNotifyRoutes(webhooks: ProviderNotifications) {
  const router = new Router();
  router.post(DOUYIN_TRADE_NOTIFY_PATH, rawTextBody(), async (ctx) => {
    await webhooks.receive('douyin_trade', providerMessageOf(ctx));
    ctx.body = DOUYIN_CALLBACK_ACK;
  });
  return describeRoutes(router, [douyinTradeNotifyOperation]);
}
