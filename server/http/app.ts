import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import type { Catalog } from '../domain/catalog';
import type { CheckoutService, Logger } from '../domain/checkout';
import type { SessionService } from '../domain/sessions';
import { bodyError, errorHandler } from './errors';
import { requireHost, routeGuard } from './protocol';
import type { MerchantService } from '../domain/merchant';
import type { RefundService } from '../domain/refunds';
import type { GatewayWebhooks } from '../domain/webhooks';
import { gatewayWebhookRoutes } from './routes/gateway-webhook';
import { healthRoutes } from './routes/health';
import { merchantRoutes } from './routes/merchant';
import { shopperRoutes } from './routes/shopper';

export interface AppDependencies {
  sessions: SessionService;
  checkout: CheckoutService;
  merchant: MerchantService;
  refunds: RefundService;
  webhooks: GatewayWebhooks;
  /** Unset: the merchant API answers 404 MERCHANT_API_DISABLED. */
  merchantApiKey?: string;
  catalog: Catalog;
  log: Logger;
  /** Behind a reverse proxy: take the client IP (sent to Douyin as risk_info) from X-Forwarded-For. */
  trustProxy?: boolean;
}

export function createApp(deps: AppDependencies): Koa {
  const app = new Koa({ proxy: deps.trustProxy ?? false });
  app.silent = true;
  const health = healthRoutes();
  const shopper = shopperRoutes(deps);
  const webhook = gatewayWebhookRoutes(deps.webhooks);
  const merchant = merchantRoutes({ merchant: deps.merchant, refunds: deps.refunds, apiKey: deps.merchantApiKey });

  app.use(errorHandler(deps.log));
  app.use(requireHost());
  app.use(routeGuard(app));
  app.use(health.routes());
  app.use(
    bodyParser({
      enableTypes: ['json', 'text'],
      // The gateway documents application/json; other types still reach the verifier as text.
      extendTypes: { text: ['text/*', 'application/x-www-form-urlencoded'] },
      jsonLimit: '64kb',
      textLimit: '64kb',
      onError: (error) => {
        throw bodyError(error);
      },
    }),
  );
  app.use(webhook.routes());
  app.use(merchant.routes());
  app.use(shopper.routes());
  return app;
}
