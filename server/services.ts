import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Config } from './config';
import { loadCatalog } from './adapters/catalog-file';
import { BeeCloudGateway } from './adapters/payments/gateway/beecloud';
import { Database, openPglite, openPostgres, pgliteClusterDirectory } from './adapters/storage/database';
import { DataDirInUseError } from './adapters/storage/data-dir-lock';
import { migrate } from './adapters/storage/migrations';
import { SqlBacklog } from './adapters/storage/backlog';
import { SqlUnitOfWork } from './adapters/storage/unit-of-work';
import { WechatLogin } from './adapters/logins/wechat/code2session';
import { DouyinLogin } from './adapters/logins/douyin/code2session';
import { SignedDouyinCashier } from './adapters/payments/douyin-cashier/order-info';
import { CheckoutSettings, DEFAULT_CHECKOUT_SETTINGS } from './domain/checkout-settings';
import { OrderService } from './domain/orders';
import { BillService } from './domain/payments/bills';
import { DouyinCashierPayment } from './domain/payments/douyin-cashier';
import { PaymentService } from './domain/payments/start-payment';
import { PaymentVerdicts } from './domain/payments/verdicts';
import { OrderStatusReadModel } from './read-model/order-statuses';
import type { Clock } from './domain/ports';
import { SessionService } from './domain/sessions';
import { MerchantService } from './domain/merchant';
import { DEFAULT_REFUND_SETTINGS, RefundService, RefundSettings } from './domain/refunds';
import { DEFAULT_SWEEPER_SETTINGS, Sweeper, SweeperSettings } from './domain/sweeper';
import { ProviderNotifications } from './domain/webhooks';
import { ChannelRoutes, PaymentProviders } from './domain/payment-providers';
import { MerchantNotifier, MerchantNotifierOptions } from './adapters/merchant/notifier';
import { createApp } from './http/app';
import { createCheckoutServer } from './http/node-server';
import { UNMATCHED_ROUTE } from './http/request-observer';
import { createLogger, loggerPort, RootLogger } from './adapters/observability/logger';
import { CheckoutMetrics } from './adapters/observability/metrics';
import { observedEvents } from './adapters/observability/events';
import { requestObserver } from './adapters/observability/requests';
import {
  observedCertificateDownloads,
  observedLogin,
  observedProvider,
  upstreamObserver,
  type UpstreamObserver,
} from './adapters/observability/upstreams';
import { createSandbox, Sandbox, SandboxOptions } from './sandbox';
import { createWechatPay } from './adapters/payments/wechatpay';
import { WECHATPAY_PREPAY_VALID_MS } from './adapters/payments/wechatpay/provider';
import { createDouyinGuaranteed } from './adapters/payments/douyin-guaranteed';
import { DOUYIN_ECPAY_NOTIFY_PATH } from './http/routes/douyin-ecpay-notify-contract';
import { deferredProvider } from './adapters/payments/deferred';
import { createDouyinTrade, DOUYIN_TRADE_PAYER_MADE_BILLS } from './adapters/payments/douyin-trade';
import type { PaymentProvider, PaymentProviderId } from './domain/payment-provider';
import { listenFailure, newDirectoryFor, reasonOf, StartupError, withoutPassword } from './startup';

const SESSION_PRUNE_INTERVAL_MS = 60 * 60 * 1000;
/** How long stopping waits for gateway checks and refunds in flight. */
const STOP_GRACE_MS = 2000;

export interface StartOptions {
  /** Use this database instead of opening one from the config (tests). */
  database?: Database;
  clock?: Clock;
  /** The root logger (tests: a silent one, or one writing to memory); by default from `config.logging`. */
  logger?: RootLogger;
  settings?: Partial<Omit<CheckoutSettings, 'notifyUrl'>>;
  refunds?: Partial<RefundSettings>;
  /** `enabled: false` leaves sweeping to explicit `sweeper.sweepOnce()` calls (tests). */
  sweeper?: Partial<Pick<SweeperSettings, 'intervalMs' | 'batchSize' | 'concurrency'>> & { enabled?: boolean };
  /**
   * `dataDir`: where the sandbox keeps the gateway's state; by default `DATA_DIR/sandbox`, or
   * memory only when the caller passes its own database (tests).
   */
  sandbox?: Partial<Pick<SandboxOptions, 'webhookTimeScale' | 'loginCodeTtlMs' | 'dataDir'>> & {
    wechatPayKey?: string;
  };
  merchantNotifier?: Pick<MerchantNotifierOptions, 'pollIntervalMs' | 'backoffBaseMs' | 'timeoutMs'>;
}

/** The upstreams the sandbox can stand in for, as the ready line names them. */
export const EMULATED_UPSTREAMS = [
  'payment gateway',
  'WeChat login',
  'Douyin login',
  'WeChat Pay',
  'Douyin 担保支付',
  'Douyin 通用交易系统',
] as const;
export type EmulatedUpstream = (typeof EMULATED_UPSTREAMS)[number];

export interface RunningServices {
  serverUrl: string;
  /** Set when the sandbox runs (some upstream has no base URL configured). */
  sandboxUrl?: string;
  /** The sandbox's Koa app, while it runs (its routes are listed in the OpenAPI document). */
  sandboxApp?: Koa;
  database: Database;
  orders: OrderService;
  payments: PaymentService;
  /** The providers' verdicts, and the provider checks polls start in the background (`drain` waits for them). */
  verdicts: PaymentVerdicts;
  /** The status read model polls are answered from. */
  statuses: OrderStatusReadModel;
  refunds: RefundService;
  sweeper: Sweeper;
  sessions: SessionService;
  app: Koa;
  /** Who opens new bills of each payment method (`WX_MINI`: WEAPP_PAYMENT_PROVIDER; `TT_MINI`: TT_PAYMENT_PROVIDER). */
  paymentRoutes: ChannelRoutes;
  /**
   * Every provider this instance asks about bills and refunds: those of `paymentRoutes`, and
   * WeChat Pay whenever its bills opened earlier can still be asked about (its credentials, or the sandbox).
   */
  paymentProviders: PaymentProviderId[];
  /** The upstreams the server reaches through the sandbox (their base URL unset), in EMULATED_UPSTREAMS order. */
  emulated: EmulatedUpstream[];
  /** What `GET /metrics` serves. */
  metrics: CheckoutMetrics;
  /**
   * Stops: new connections are refused at once, requests in flight finish (cut after
   * `STOP_GRACE_MS`), background work is drained, then storage closes (releasing `DATA_DIR`).
   */
  close(): Promise<void>;
}

/**
 * Listens first; a handler can be attached afterwards (the server's own needs the bound address).
 * A port in use or a bad HOST throws a StartupError naming `variable` or HOST.
 */
async function listen(
  server: Server,
  port: number,
  host: string,
  variable: 'PORT' | 'SANDBOX_PORT',
): Promise<{ server: Server; url: string }> {
  server.keepAliveTimeout = 65_000;
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (error) {
    throw listenFailure(error, variable, port, host);
  }
  const address = server.address() as AddressInfo;
  const hostname = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { server, url: `http://${hostname}:${address.port}` };
}

/**
 * Stops accepting, lets requests in flight finish, then closes what is left: a connection that
 * finishes its request later stays open as keep-alive and would hold the stop for the whole
 * keep-alive timeout.
 */
async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    const straggling = setInterval(() => server.closeIdleConnections(), 100);
    const forced = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
    server.close(() => {
      clearInterval(straggling);
      clearTimeout(forced);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** Opens the configured storage; one that cannot be opened throws a StartupError naming DATABASE_URL or DATA_DIR. */
export async function openDatabase(config: Config): Promise<Database> {
  if (config.databaseUrl) {
    try {
      return await openPostgres(config.databaseUrl);
    } catch (error) {
      throw new StartupError(
        'DATABASE_URL',
        `DATABASE_URL ${withoutPassword(config.databaseUrl)} cannot be used: ${reasonOf(error)}`,
      );
    }
  }
  try {
    return await openPglite(config.dataDir);
  } catch (error) {
    // Its own message already names DATA_DIR and the process that holds it.
    if (error instanceof DataDirInUseError) throw error;
    throw new StartupError('DATA_DIR', `DATA_DIR ${config.dataDir} cannot be used: ${reasonOf(error)}`);
  }
}

/**
 * The sandbox, keeping the gateway's state in `directory` (DATA_DIR/sandbox unless a test chose
 * another) when given. A directory the file system refuses (a file in its place, no permission)
 * throws a StartupError naming DATA_DIR.
 */
function openSandbox(config: Config, directory: string | undefined, options: Omit<SandboxOptions, 'dataDir'>) {
  try {
    return createSandbox({ ...options, dataDir: directory });
  } catch (error) {
    // A system call's failure (it carries `syscall`) is the file system's answer, not a bug.
    const systemCall = typeof (error as { syscall?: unknown } | null)?.syscall === 'string';
    if (!systemCall || directory !== join(config.dataDir, 'sandbox')) throw error;
    throw new StartupError(
      'DATA_DIR',
      `DATA_DIR ${config.dataDir} cannot be used: the sandbox keeps its state in ${directory}: ${reasonOf(error)}`,
    );
  }
}

/**
 * WeChat Pay APIv3, when this instance needs it, else undefined: built at once when it opens
 * mini-program bills (WEAPP_PAYMENT_PROVIDER=wechatpay) or the merchant's credentials are
 * configured, so that bills and refunds opened there are still asked about, closed and notified
 * after WEAPP_PAYMENT_PROVIDER goes back to the gateway. On the sandbox while the gateway opens the
 * bills, it is built on first use (the sandbox's development keys take a moment to generate).
 * Calls take GATEWAY_TIMEOUT_MS; its platform-certificate downloads are counted and logged through
 * `observed`. A start with WeChat Pay selected whose sandbox keys cannot be had
 * throws a StartupError naming WEAPP_PAYMENT_PROVIDER.
 */
async function wechatPayProvider(
  config: Config,
  where: { notifyUrl: string; sandbox?: { url: string; keys: Sandbox['wechatpay']['keys'] } },
  observed: { logger: RootLogger; upstream: UpstreamObserver },
): Promise<PaymentProvider | undefined> {
  const setup = {
    wechatpay: config.wechatpay,
    appid: config.wechat.appId,
    notifyUrl: where.notifyUrl,
    sandbox: where.sandbox,
    timeoutMs: config.gateway.timeoutMs,
    onCertificateDownload: observedCertificateDownloads(observed.logger, observed.upstream),
  };
  const build = async () => (await createWechatPay(setup)).provider;
  if (config.weappPaymentProvider === 'wechatpay' || config.wechatpay.merchant) {
    try {
      return await build();
    } catch (error) {
      throw new StartupError('WEAPP_PAYMENT_PROVIDER', `WeChat Pay cannot be set up: ${reasonOf(error)}`);
    }
  }
  if (!where.sandbox || config.wechatpay.baseUrl !== undefined) return undefined;
  return deferredProvider(
    {
      id: 'wechatpay',
      channels: new Set(['WX_MINI']),
      idempotentRefunds: true,
      clientParamsValidMs: WECHATPAY_PREPAY_VALID_MS,
    },
    build,
  );
}

/**
 * Douyin's 担保支付, when this instance can talk to it, else undefined: with the merchant's SALT and
 * token (DOUYIN_API_BASE_URL set), or on the sandbox with its development keys (read on first
 * use, so an instance that never uses it generates nothing). Kept while TT_PAYMENT_PROVIDER is
 * `cashier` so that bills and refunds opened there are still asked about and notified.
 */
function douyinGuaranteedProvider(
  config: Config,
  where: { notifyUrl: string; sandbox?: { url: string; keys: Sandbox['douyinPay']['keys'] } },
): PaymentProvider | undefined {
  const common = { appId: config.douyin.appId, notifyUrl: where.notifyUrl, timeoutMs: config.gateway.timeoutMs };
  if (config.douyin.apiBaseUrl !== undefined) {
    if (!config.douyinGuaranteed) return undefined;
    return createDouyinGuaranteed({
      ...common,
      baseUrl: config.douyin.apiBaseUrl,
      credentials: config.douyinGuaranteed,
    });
  }
  if (!where.sandbox) return undefined;
  const keys = where.sandbox.keys;
  return createDouyinGuaranteed({
    ...common,
    baseUrl: where.sandbox.url,
    credentials: async () => {
      const { salt, token } = await keys();
      return { salt, token };
    },
  });
}

/**
 * Douyin's 通用交易系统, when this instance needs it, else undefined: built at once when it opens
 * Douyin bills (TT_PAYMENT_PROVIDER=trade) or its credentials are configured, so that bills and
 * refunds opened there are still asked about and notified after switching back to the cashier. On
 * the sandbox while the cashier is chosen, it is built on first use (the sandbox's development keys
 * take a moment to generate). A start with it chosen that cannot build it throws a StartupError
 * naming TT_PAYMENT_PROVIDER.
 */
async function douyinTradeProvider(
  config: Config,
  where: { notifyUrl: string; now: () => number; sandbox?: { url: string; keys: Sandbox['douyinPay']['keys'] } },
): Promise<PaymentProvider | undefined> {
  const build = () =>
    createDouyinTrade({
      credentials: config.douyinTrade,
      appId: config.douyin.appId,
      secret: config.douyin.secret,
      notifyUrl: where.notifyUrl,
      sandbox: where.sandbox,
      timeoutMs: config.gateway.timeoutMs,
      now: where.now,
    });
  if (config.ttPaymentProvider === 'trade' || config.douyinTrade) {
    try {
      return await build();
    } catch (error) {
      throw new StartupError('TT_PAYMENT_PROVIDER', `Douyin 通用交易系统 cannot be set up: ${reasonOf(error)}`);
    }
  }
  if (!where.sandbox || config.douyin.apiBaseUrl !== undefined) return undefined;
  // It has no close operation: the deferred one must not offer one either.
  return deferredProvider(
    {
      id: 'douyin_trade',
      channels: new Set(['TT_MINI']),
      idempotentRefunds: false,
      payerMadeBills: DOUYIN_TRADE_PAYER_MADE_BILLS,
    },
    build,
    false,
  );
}

/**
 * Boots the checkout server and, when an upstream is emulated, the sandbox: storage and
 * migrations first, then the sandbox (so the server knows its address), then the server.
 * A start that fails closes what it opened and removes the data directory it created; a
 * failure the operator can fix (see StartupError) is thrown as one.
 */
export async function startServices(config: Config, options: StartOptions = {}): Promise<RunningServices> {
  const logger = options.logger ?? createLogger(config.logging);
  const log = loggerPort(logger);
  const clock = options.clock ?? (() => new Date());
  const catalog = loadCatalog(config.catalogFile);
  const closers: Array<() => Promise<void>> = [];
  const keptInDataDir = !options.database && !config.databaseUrl;
  const sandboxDirectory = options.sandbox?.dataDir ?? (options.database ? undefined : join(config.dataDir, 'sandbox'));
  // DATA_DIR itself when it is new, else what the start adds to it: a pre-existing one is never removed.
  const createdDirectories = new Set(
    [
      keptInDataDir ? newDirectoryFor(pgliteClusterDirectory(config.dataDir)) : undefined,
      sandboxDirectory && !options.sandbox?.dataDir ? newDirectoryFor(sandboxDirectory) : undefined,
    ].filter((directory): directory is string => directory !== undefined),
  );

  try {
    const database = options.database ?? (await openDatabase(config));
    if (!options.database) closers.push(() => database.close());
    await migrate(database);

    let sandboxUrl: string | undefined;
    let sandboxApp: Koa | undefined;
    let sandbox: Sandbox | undefined;
    if (config.sandboxEnabled) {
      const opened = openSandbox(config, sandboxDirectory, {
        gateway: {
          appId: config.gateway.appId,
          appSecret: config.gateway.appSecret,
          masterSecret: config.gateway.masterSecret,
          testSecret: config.gateway.testSecret ?? '',
        },
        wechat: { appId: config.wechat.appId, secret: config.wechat.secret, payKey: options.sandbox?.wechatPayKey },
        douyin: { appId: config.douyin.appId, secret: config.douyin.secret },
        webhookTimeScale: options.sandbox?.webhookTimeScale,
        loginCodeTtlMs: options.sandbox?.loginCodeTtlMs,
        log: (line) => logger.info({ component: 'sandbox' }, line),
      });
      sandbox = opened;
      // Node's own refusals get the error contract's JSON here too, as the sandbox's control routes document.
      const sandboxServer = createCheckoutServer((refusal) =>
        logger.info(
          { component: 'sandbox', reqId: refusal.requestId, status: refusal.status, code: refusal.code },
          'request refused before the app',
        ),
      );
      // eslint-disable-next-line @typescript-eslint/no-misused-promises -- Koa's callback never rejects
      sandboxServer.on('request', opened.app.callback());
      closers.unshift(async () => {
        await opened.close();
        if (sandboxServer.listening) await closeServer(sandboxServer);
      });
      sandboxUrl = (await listen(sandboxServer, config.sandboxPort, config.host, 'SANDBOX_PORT')).url;
      sandboxApp = opened.app;
    }

    // What the server reaches through the sandbox, recorded where each client is given its URL.
    const emulated = new Set<EmulatedUpstream>();
    const throughSandbox = (upstream: EmulatedUpstream): string => {
      if (!sandboxUrl) throw new Error(`${upstream} has no base URL and the sandbox does not run`);
      emulated.add(upstream);
      return sandboxUrl;
    };

    const store = SqlUnitOfWork.over(database);
    const metrics = new CheckoutMetrics(new SqlBacklog(database), clock);
    const events = observedEvents(logger, metrics);
    const upstream = upstreamObserver(logger, metrics);
    const sessions = new SessionService(
      store,
      {
        weapp: observedLogin(
          'wechat',
          new WechatLogin({
            apiBaseUrl: config.wechat.apiBaseUrl ?? throughSandbox('WeChat login'),
            appId: config.wechat.appId,
            secret: config.wechat.secret,
          }),
          upstream,
        ),
        tt: observedLogin(
          'douyin',
          new DouyinLogin({
            apiBaseUrl: config.douyin.apiBaseUrl ?? throughSandbox('Douyin login'),
            appId: config.douyin.appId,
            secret: config.douyin.secret,
          }),
          upstream,
        ),
      },
      clock,
    );
    // The webhook URL depends on the port actually bound, so the server listens before wiring.
    const { server, url: serverUrl } = await listen(
      createCheckoutServer((refusal) => {
        logger.info(
          { reqId: refusal.requestId, status: refusal.status, code: refusal.code, reason: refusal.message },
          'request refused before the app',
        );
        // Counted like every request; Node refused it before its method or route could be trusted.
        metrics.observeRequest('unknown', UNMATCHED_ROUTE, refusal.status, 0);
      }),
      config.port,
      config.host,
      'PORT',
    );
    let serverClosed: Promise<void> | undefined;
    const stopServing = () => (serverClosed ??= closeServer(server));
    closers.unshift(stopServing);

    const douyinCashier = config.douyin.cashier && new SignedDouyinCashier(config.douyin.cashier);
    const notifyUrl = `${config.publicBaseUrl ?? serverUrl}/api/gateway/webhook`;
    const wechatpay = await wechatPayProvider(
      config,
      {
        notifyUrl: `${config.publicBaseUrl ?? serverUrl}/api/wechatpay/notify`,
        sandbox: sandbox && sandboxUrl ? { url: sandboxUrl, keys: sandbox.wechatpay.keys } : undefined,
      },
      { logger, upstream },
    );
    // Built (at once or on first use) without WECHATPAY_BASE_URL, WeChat Pay is the sandbox's.
    if (wechatpay && config.wechatpay.baseUrl === undefined) throughSandbox('WeChat Pay');
    const douyinTrade = await douyinTradeProvider(config, {
      notifyUrl: `${config.publicBaseUrl ?? serverUrl}/api/douyin/trade/notify`,
      now: () => clock().getTime(),
      sandbox: sandbox && sandboxUrl ? { url: sandboxUrl, keys: sandbox.douyinPay.keys } : undefined,
    });
    if (douyinTrade && config.douyin.apiBaseUrl === undefined) throughSandbox('Douyin 通用交易系统');
    const gateway = observedProvider(
      new BeeCloudGateway({
        baseUrl: config.gateway.baseUrl ?? throughSandbox('payment gateway'),
        appId: config.gateway.appId,
        appSecret: config.gateway.appSecret,
        masterSecret: config.gateway.masterSecret,
        testSecret: config.gateway.testMode ? config.gateway.testSecret : undefined,
        timeoutMs: config.gateway.timeoutMs,
        notifyUrl,
      }),
      upstream,
    );
    // Douyin's cashier legs stay at the gateway; bills keep the provider they were opened at.
    const douyinGuaranteed = douyinGuaranteedProvider(config, {
      notifyUrl: `${config.publicBaseUrl ?? serverUrl}${DOUYIN_ECPAY_NOTIFY_PATH}`,
      sandbox: sandbox && sandboxUrl ? { url: sandboxUrl, keys: sandbox.douyinPay.keys } : undefined,
    });
    if (douyinGuaranteed && config.douyin.apiBaseUrl === undefined) throughSandbox('Douyin 担保支付');
    const paymentRoutes: ChannelRoutes = {
      WX_MINI: config.weappPaymentProvider,
      BC_WX_WAP: 'gateway',
      ALI_APP: 'gateway',
      ...(config.ttPaymentProvider === 'guaranteed' && { TT_MINI: 'douyin_guaranteed' as const }),
      ...(config.ttPaymentProvider === 'trade' && { TT_MINI: 'douyin_trade' as const }),
    };
    const providers = new PaymentProviders(
      [gateway, wechatpay, douyinGuaranteed, douyinTrade]
        .filter((provider) => provider !== undefined)
        .map((provider) => (provider === gateway ? gateway : observedProvider(provider, upstream))),
      paymentRoutes,
    );
    const notifyMerchant = config.merchant.notifyUrl !== undefined;
    const checkoutSettings: CheckoutSettings = {
      ...DEFAULT_CHECKOUT_SETTINGS,
      orderTtlSeconds: config.orderTtlSeconds,
      gatewayCheckIntervalMs: config.sweeper.gatewayCheckIntervalSeconds * 1000,
      webhookGraceMs: config.sweeper.webhookGraceSeconds * 1000,
      // Never declare a bill lost while its request may still be open: well past the client's timeout.
      unconfirmedBillGraceMs: Math.max(DEFAULT_CHECKOUT_SETTINGS.unconfirmedBillGraceMs, 3 * config.gateway.timeoutMs),
      ...options.settings,
      notifyUrl,
      notifyMerchant,
    };
    const refunds = new RefundService(
      store,
      providers,
      clock,
      {
        ...DEFAULT_REFUND_SETTINGS,
        autoRefundDuplicates: config.autoRefundDuplicates,
        checkIntervalMs: config.sweeper.gatewayCheckIntervalSeconds * 1000,
        // Never declare a request lost while it may still be open: well past the client's timeout.
        unknownOutcomeGraceMs: Math.max(DEFAULT_REFUND_SETTINGS.unknownOutcomeGraceMs, 3 * config.gateway.timeoutMs),
        ...options.refunds,
        notifyMerchant,
      },
      log,
      events,
    );
    // The read model asks the verdicts to check a late order; the verdicts tell it what changed.
    const statuses = new OrderStatusReadModel(store, clock, checkoutSettings, log, {
      checkInBackground: (orderNo) => verdicts.checkInBackground(orderNo),
    });
    const verdicts = new PaymentVerdicts(store, providers, clock, checkoutSettings, log, events, statuses, refunds);
    const bills = new BillService(store, providers, clock, checkoutSettings, log, events, verdicts);
    const orders = new OrderService(store, catalog, clock, checkoutSettings, events, statuses);
    const payments = new PaymentService(
      orders,
      bills,
      douyinCashier && new DouyinCashierPayment(bills, douyinCashier, clock, checkoutSettings, log),
      store,
      clock,
      checkoutSettings,
      statuses,
    );
    const webhooks = new ProviderNotifications(store, providers, verdicts, refunds, clock, log, events);
    const sweeper = new Sweeper(
      store,
      verdicts,
      statuses,
      refunds,
      clock,
      {
        ...DEFAULT_SWEEPER_SETTINGS,
        intervalMs: config.sweeper.intervalSeconds * 1000,
        concurrency: config.sweeper.concurrency,
        ...options.sweeper,
        gatewayCheckIntervalMs: checkoutSettings.gatewayCheckIntervalMs,
        webhookGraceMs: checkoutSettings.webhookGraceMs,
        notifyMerchant,
      },
      log,
      events,
    );
    closers.unshift(async () => {
      // Work cut short here is safe: a lease or claim lapses and another sweep redoes it. A
      // hung gateway must not hold the stop for a whole gateway timeout.
      await Promise.race([
        Promise.all([sweeper.stop(), verdicts.drain(), refunds.drain()]),
        new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref()),
      ]);
    });
    const stopListening = await database.listen('order_changed', {
      onNotification: (orderNo) => statuses.forgetOrder(orderNo),
      onGap: () => statuses.forgetAllOrders(),
    });
    closers.unshift(stopListening);
    const stopListeningToSessions = await database.listen('session_changed', {
      // '*': the table was truncated (migration 007).
      onNotification: (tokenHash) =>
        tokenHash === '*' ? sessions.forgetAllSessions() : sessions.forgetSession(tokenHash),
      onGap: () => sessions.forgetAllSessions(),
    });
    closers.unshift(stopListeningToSessions);

    const merchant = new MerchantService(
      store,
      catalog,
      clock,
      {
        orderTtlSeconds: checkoutSettings.orderTtlSeconds,
        checkoutPagePath: 'pages/checkout/index',
        miniprogramUsername: config.merchant.miniprogramUsername,
      },
      events,
    );
    const app = createApp({
      sessions,
      orders,
      payments,
      statuses,
      merchant,
      refunds,
      webhooks,
      merchantApiKey: config.merchant.apiKey,
      catalog,
      log,
      requests: requestObserver(logger, metrics),
      metrics,
      metricsToken: config.metricsToken,
      trustProxy: config.trustProxy,
      apiDocument: {
        publicBaseUrl: config.publicBaseUrl,
        sandbox: sandboxApp && sandboxUrl ? { app: sandboxApp, url: sandboxUrl } : undefined,
      },
    });
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- Koa's callback never rejects
    server.on('request', app.callback());

    if (config.merchant.notifyUrl && config.merchant.notifySecret) {
      const notifier = new MerchantNotifier({
        url: config.merchant.notifyUrl,
        secret: config.merchant.notifySecret,
        store,
        merchant,
        clock,
        log,
        events,
        ...options.merchantNotifier,
      });
      notifier.start();
      closers.unshift(() => notifier.stop());
    }

    if (options.sweeper?.enabled !== false) sweeper.start();

    const pruning = setInterval(() => {
      sessions.pruneExpired().catch((error: unknown) => log.warn('session pruning failed', { error: String(error) }));
    }, SESSION_PRUNE_INTERVAL_MS);
    pruning.unref();
    closers.unshift(async () => clearInterval(pruning));

    return {
      serverUrl,
      sandboxUrl,
      sandboxApp,
      database,
      orders,
      payments,
      verdicts,
      statuses,
      refunds,
      sweeper,
      sessions,
      app,
      paymentRoutes,
      paymentProviders: providers.all().map((provider) => provider.id),
      emulated: EMULATED_UPSTREAMS.filter((upstream) => emulated.has(upstream)),
      metrics,
      async close() {
        // Refuse new connections at once and let requests in flight finish before the work they
        // may start (gateway checks, refunds) is drained and storage closes.
        await stopServing();
        for (const close of closers) await close();
      },
    };
  } catch (error) {
    for (const close of closers) await close().catch(() => undefined);
    for (const directory of createdDirectories) rmSync(directory, { recursive: true, force: true });
    throw error;
  }
}
