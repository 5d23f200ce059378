import Koa from 'koa';
import { createAlipayAppRoutes } from './alipay/app-pay';
import { createControlRoutes } from './control';
import { DouyinEmulator } from './douyin/login';
import { createGatewayRoutes, SANDBOX_ALIPAY_APP_ID } from './gateway/gateway';
import { envelope, ResultCode } from './gateway/gateway-protocol';
import { createH5PayRoutes } from './h5pay/pay-page';
import { AnswerHolds } from './gateway/held-answers';
import { echoed } from '../domain/text';
import { methodsServed } from '../http/protocol';
import { sendError } from './shared/http';
import { createNotifier } from './gateway/notifications';
import { GatewayJournal } from './gateway/persistence';
import { GatewayStore } from './gateway/store';
import { WechatEmulator } from './wechat/login';
import { createWechatPaySandbox, type WechatPaySandbox, type WechatPaySandboxKeys } from './wechatpay';
import { createDouyinPaySandbox, type DouyinPaySandbox, type DouyinPaySandboxKeys } from './douyin-pay';
import { WebhookDispatcher } from './gateway/webhooks';

/**
 * The offline sandbox: emulators of the aggregate gateway (seed 001 §3–4) and of WeChat's
 * and Douyin's mini-program logins, served by one Koa app at the services' real paths, plus
 * control endpoints under `/sandbox/`: among them the shopper's side of the channels, the
 * WeChat H5 cashier page (`/sandbox/wechat/h5pay`, behind `BC_WX_WAP` bills' `url`) and the
 * Alipay App leg (`/sandbox/alipay/app-pay`, for `ALI_APP` bills' `order_string`), which
 * together are what Douyin's tt.pay cashier hands the shopper to. Pointing a base URL at the
 * real service is the only change production needs. The gateway's state lives in memory, and
 * also in `dataDir` when given (./persistence.ts), so a restart keeps its bills and refunds.
 *
 * WeChat Pay APIv3 for direct merchants is emulated apart, in ./wechatpay (its own keys,
 * orders, refunds, notifications and `/sandbox/wechatpay/` control endpoints).
 *
 * The control endpoints (listed in ./control.ts) also finish refunds by hand (hold them
 * `processing`, then settle them succeeded or failed) and inject gateway faults: refusals
 * with a result code, and slow answers (`delay_ms`) for testing client timeouts.
 */

export interface SandboxOptions {
  gateway: { appId: string; appSecret: string; masterSecret: string; testSecret: string };
  wechat: {
    appId: string;
    secret: string;
    /** WeChat Pay merchant id shown in webhook detail. @default '1900000001' */
    mchId?: string;
    /** WeChat Pay v2 merchant key used for `pay_sign`. @default 'sandbox-wechat-pay-key-0000000000' */
    payKey?: string;
  };
  /**
   * The Douyin mini-program whose `tt.login` codes `POST /api/apps/v2/jscode2session` exchanges.
   * @default DEFAULT_DOUYIN ({appId: 'ttsandbox00000001', secret: 'sandbox-douyin-secret'})
   */
  douyin?: { appId: string; secret: string };
  /**
   * WeChat Pay APIv3 for direct merchants (./wechatpay), for the mini-program `wechat.appId`.
   * `mchid` @default `wechat.mchId`; `keys` @default generated on first use (kept in `dataDir`).
   */
  wechatpay?: { mchid?: string; keys?: WechatPaySandboxKeys };
  /** Douyin's 担保支付 and 通用交易系统 (./douyin-pay). `keys` @default generated on first use (kept in `dataDir`). */
  douyinPay?: { keys?: DouyinPaySandboxKeys };
  /** Multiplies the webhook retry delays (1 = real seconds; tests use e.g. 0.001). @default 1 */
  webhookTimeScale?: number;
  /** Code lifetime for WeChat and Douyin login codes, ms. @default 300000 (5 minutes) */
  loginCodeTtlMs?: number;
  /**
   * Where the gateway keeps its bills, refunds and webhooks still being delivered across
   * restarts (login codes and injected faults are not kept). @default in memory only
   */
  dataDir?: string;
  /** ms clock. @default Date.now */
  now?: () => number;
  /** @default no-op */
  log?: (line: string) => void;
}

export interface Sandbox {
  app: Koa;
  /** The emulated WeChat Pay APIv3: its development keys (`keys()`), shared with the server in process. */
  wechatpay: Pick<WechatPaySandbox, 'keys'>;
  /** The emulated Douyin payment systems: their development keys, shared with the server in process. */
  douyinPay: Pick<DouyinPaySandbox, 'keys'>;
  /**
   * Sends every answer held back by a delay fault at once, stops pending webhook retries
   * and aborts deliveries in flight (with a `dataDir`, the next sandbox over it resumes them).
   */
  close(): Promise<void>;
}

export const DEFAULT_WECHAT_PAY_KEY = 'sandbox-wechat-pay-key-0000000000';
export const DEFAULT_WECHAT_MCH_ID = '1900000001';
export const DEFAULT_DOUYIN_APP_ID = 'ttsandbox00000001';
export const DEFAULT_DOUYIN_SECRET = 'sandbox-douyin-secret';
/** The Douyin mini-program the sandbox emulates when `SandboxOptions.douyin` is not given. */
export const DEFAULT_DOUYIN: Readonly<{ appId: string; secret: string }> = Object.freeze({
  appId: DEFAULT_DOUYIN_APP_ID,
  secret: DEFAULT_DOUYIN_SECRET,
});

export function createSandbox(options: SandboxOptions): Sandbox {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => undefined);
  const timeScale = options.webhookTimeScale ?? 1;
  if (!(timeScale > 0)) throw new RangeError('webhookTimeScale must be a positive number');
  const mchId = options.wechat.mchId ?? DEFAULT_WECHAT_MCH_ID;

  const store = new GatewayStore();
  const journal = options.dataDir ? GatewayJournal.open(options.dataDir, store) : undefined;
  const holds = new AnswerHolds();
  const dispatcher = new WebhookDispatcher({ timeScale, now, log });
  const notifier = createNotifier({
    store,
    dispatcher,
    appId: options.gateway.appId,
    masterSecret: options.gateway.masterSecret,
    wechatAppId: options.wechat.appId,
    mchId,
    now,
    log,
  });
  const gatewayDeps = {
    store,
    notifier,
    ...options.gateway,
    wechatAppId: options.wechat.appId,
    mchId,
    payKey: options.wechat.payKey ?? DEFAULT_WECHAT_PAY_KEY,
    now,
    log,
    holds,
  };
  const gateway = createGatewayRoutes(gatewayDeps);
  // Webhooks a previous run was still delivering go on (a restarted gateway keeps retrying).
  for (const bill of store.bills.values()) if (bill.notifying) notifier.notifyPayment(bill);
  for (const refund of store.refunds.values()) {
    const bill = store.bills.get(refund.billNo);
    if (refund.notifying && bill) notifier.notifyRefund(refund, bill);
  }
  const loginCodeTtlMs = options.loginCodeTtlMs ?? 5 * 60 * 1000;
  const wechat = new WechatEmulator({
    appId: options.wechat.appId,
    secret: options.wechat.secret,
    loginCodeTtlMs,
    now,
    log,
  });
  const douyinOptions = options.douyin ?? DEFAULT_DOUYIN;
  const douyin = new DouyinEmulator({
    appId: douyinOptions.appId,
    secret: douyinOptions.secret,
    loginCodeTtlMs,
    now,
    log,
  });
  const control = createControlRoutes({
    store,
    notifier,
    wechat,
    douyin,
    gateway: gatewayDeps,
    alipayPublicKey: gateway.alipayPublicKey,
  });
  const wechatpay = createWechatPaySandbox({
    mchid: options.wechatpay?.mchid ?? mchId,
    appid: options.wechat.appId,
    dataDir: options.dataDir,
    keys: options.wechatpay?.keys,
    timeScale,
    now,
    log,
  });
  const douyinPay = createDouyinPaySandbox({
    appId: douyinOptions.appId,
    secret: douyinOptions.secret,
    dataDir: options.dataDir,
    keys: options.douyinPay?.keys,
    timeScale,
    now,
    log,
  });
  const h5pay = createH5PayRoutes({ store, notifier, gateway: gatewayDeps, mchId, log });
  const alipayApp = createAlipayAppRoutes({
    store,
    notifier,
    gateway: gatewayDeps,
    alipayAppId: SANDBOX_ALIPAY_APP_ID,
    alipayPublicKey: gateway.alipayPublicKey,
    alipaySign: gateway.alipaySign,
    log,
  });

  const app = new Koa();
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      log(`sandbox ${ctx.method} ${ctx.path} failed: ${(error as Error).stack ?? String(error)}`);
      sendError(ctx, 500, 'INTERNAL', 'sandbox internal error (see its log)');
    }
  });
  const routers = [
    gateway.router,
    wechat.routes(),
    douyin.routes(),
    control,
    h5pay,
    alipayApp,
    ...wechatpay.routers,
    ...douyinPay.routers,
  ];
  for (const router of routers) app.use(router.routes());
  // What no route served: a path none has is 404; a method its routes lack is 405 with Allow
  // (RFC 9110 §15.5.6); OPTIONS is 204 with Allow.
  app.use((ctx) => {
    if (ctx.body !== undefined || ctx.status !== 404) return;
    const served = methodsServed(routers, ctx.path);
    const allow = served.length > 0 ? [...served, 'OPTIONS'].join(', ') : undefined;
    if (allow && ctx.method === 'OPTIONS') {
      ctx.set('Allow', allow);
      ctx.status = 204;
      return;
    }
    if (allow) ctx.set('Allow', allow);
    const status = allow ? 405 : 404;
    const refusal = allow
      ? `${ctx.method} is not served at ${echoed(ctx.path)}; allowed: ${allow}`
      : `no route ${ctx.method} ${echoed(ctx.path)}`;
    if (ctx.path.startsWith('/2/')) {
      // The official SDK JSON-parses every answer: even an unknown path answers JSON.
      ctx.status = status;
      ctx.body = envelope(ResultCode.RUNTIME_ERROR, `the sandbox does not emulate this: ${refusal}`);
    } else {
      sendError(ctx, status, allow ? 'METHOD_NOT_ALLOWED' : 'NOT_FOUND', refusal);
    }
  });

  return {
    app,
    wechatpay: { keys: wechatpay.keys },
    douyinPay: { keys: douyinPay.keys },
    close: async () => {
      holds.releaseAll();
      await Promise.all([dispatcher.close(), wechatpay.close(), douyinPay.close()]);
      journal?.close();
    },
  };
}

export {
  gatewayAppSign,
  gatewayWebhookSignature,
  md5Hex,
  verifyAlipayOrderString,
  wechatPaySign,
} from './shared/signing';
export type { GatewayWebhookSignatureInput, WechatPaySignType } from './shared/signing';
export {
  buildPaymentWebhook,
  buildRefundWebhook,
  channelTypeOf,
  fenToYuan,
  refundMessageDetail,
  SANDBOX_ALIPAY_SELLER_ID,
  signWebhook,
} from './gateway/webhook-message';
export type {
  GatewayChannelType,
  GatewayWebhookMessage,
  PaymentOutcome,
  PaymentWebhookInput,
  RefundChannelStatus,
  RefundWebhookInput,
  WebhookCredentials,
  WebhookTransactionType,
} from './gateway/webhook-message';
export { isWebhookAcknowledged, webhookAttemptOffsetsMs, WEBHOOK_RETRY_EXPONENTS } from './gateway/webhooks';
export type { DeliveryAttempt } from './gateway/webhooks';
export { NO_REFUND_CALLBACK_CHANNELS, RESULT_MESSAGES, sendsRefundWebhook } from './gateway/gateway-protocol';
export { SANDBOX_ALIPAY_APP_ID, SUPPORTED_CHANNELS } from './gateway/gateway';
export { INJECTABLE_LOGIN_ERRORS } from './wechat/login';
export { DOUYIN_LOGIN_ERRORS, INJECTABLE_DOUYIN_LOGIN_ERRORS } from './douyin/login';
export type { DouyinAnswer, InjectableDouyinLoginError, MintedDouyinCode } from './douyin/login';
export type { AlipayAppResult } from './alipay/app-pay';
export type { InjectableLoginError } from './wechat/login';
export { chinaDate8 } from './shared/time';
export type { BillStatus, RefundFailureStatus, RefundStatus } from './gateway/store';
