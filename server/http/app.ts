import Koa from 'koa';
import type { Catalog } from '../domain/catalog';
import type { Logger } from '../domain/observability';
import type { OrderService } from '../domain/orders';
import type { PaymentService } from '../domain/payments/start-payment';
import type { SessionService } from '../domain/sessions';
import type { OrderStatusReadModel } from '../read-model/order-statuses';
import { refuseDeclaredOversizedBody } from './bodies';
import { errorHandler } from './errors';
import { refuseUnserved, requireHost, servedRoutes } from './protocol';
import { observeRequests, RequestObserver } from './request-observer';
import type { MerchantService } from '../domain/merchant';
import type { RefundService } from '../domain/refunds';
import type { ProviderNotifications } from '../domain/webhooks';
import { buildApiDocument, type ApiDocumentOptions } from './api-document';
import { apiDocumentRoutes } from './routes/api-document';
import { gatewayWebhookRoutes } from './routes/gateway-webhook';
import { healthRoutes } from './routes/health';
import { merchantRoutes } from './routes/merchant';
import { MetricsSource, metricsRoutes } from './routes/metrics';
import { shopperRoutes } from './routes/shopper';
import { wechatPayNotifyRoutes } from './routes/wechatpay-notify';
import { douyinEcpayNotifyRoutes } from './routes/douyin-ecpay-notify';
import { douyinCallbackFailure } from './routes/douyin-callback-answers';
import { DOUYIN_ECPAY_NOTIFY_PATH } from './routes/douyin-ecpay-notify-contract';
import { douyinTradeNotifyRoutes } from './routes/douyin-trade-notify';
import { DOUYIN_TRADE_NOTIFY_PATH } from './routes/douyin-trade-notify-contract';
import { WECHATPAY_NOTIFY_PATH, wechatPayFailure } from './routes/wechatpay-notify-contract';

export interface AppDependencies {
  sessions: SessionService;
  orders: OrderService;
  payments: PaymentService;
  /** What status polls are answered from. */
  statuses: OrderStatusReadModel;
  merchant: MerchantService;
  refunds: RefundService;
  webhooks: ProviderNotifications;
  /** Unset: the merchant API answers 404 MERCHANT_API_DISABLED. */
  merchantApiKey?: string;
  catalog: Catalog;
  log: Logger;
  /** Told of every request (its id, route, status and duration): logs and metrics. */
  requests: RequestObserver;
  /** Served at `GET /metrics`. */
  metrics: MetricsSource;
  /** Set: `/metrics` needs `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  /** Behind a reverse proxy: take the client IP (sent to Douyin as risk_info) from X-Forwarded-For. */
  trustProxy?: boolean;
  /** `GET /openapi.json`: PUBLIC_BASE_URL when configured, and the sandbox when it runs (see ApiDocumentOptions). */
  apiDocument?: Omit<ApiDocumentOptions, 'app'>;
}

export function createApp(deps: AppDependencies): Koa {
  const app = new Koa({ proxy: deps.trustProxy ?? false });
  app.silent = true;
  const health = healthRoutes();
  const apiDocument = apiDocumentRoutes(() => buildApiDocument({ ...deps.apiDocument, app }));
  const metrics = metricsRoutes(deps.metrics, deps.metricsToken);
  const shopper = shopperRoutes(deps);
  const webhook = gatewayWebhookRoutes(deps.webhooks);
  const wechatPayNotify = wechatPayNotifyRoutes(deps.webhooks);
  const ecpayNotify = douyinEcpayNotifyRoutes(deps.webhooks);
  const douyinTradeNotify = douyinTradeNotifyRoutes(deps.webhooks);
  const merchant = merchantRoutes({ merchant: deps.merchant, refunds: deps.refunds, apiKey: deps.merchantApiKey });

  app.use(observeRequests(deps.requests, () => servedRoutes(app).map((route) => route.path)));
  // WeChat Pay and Douyin read a refusal only in their own words, whatever refused it.
  app.use(
    errorHandler(deps.log, {
      [WECHATPAY_NOTIFY_PATH]: wechatPayFailure,
      [DOUYIN_ECPAY_NOTIFY_PATH]: douyinCallbackFailure,
      [DOUYIN_TRADE_NOTIFY_PATH]: douyinCallbackFailure,
    }),
  );
  app.use(refuseDeclaredOversizedBody());
  app.use(requireHost());
  // Status polls are most of the traffic: the shopper's router is asked first. Each router reads
  // a body only for a route of its own, so nothing is read for a request no route serves.
  app.use(shopper.routes());
  app.use(merchant.routes());
  app.use(webhook.routes());
  app.use(wechatPayNotify.routes());
  app.use(ecpayNotify.routes());
  app.use(douyinTradeNotify.routes());
  app.use(health.routes());
  app.use(apiDocument.routes());
  app.use(metrics.routes());
  app.use(refuseUnserved(app));
  return app;
}
