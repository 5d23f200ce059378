import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { LOG_LEVELS, LogFormat, LogLevel } from './adapters/observability/logger';
import { PLAIN_AUTHORIZATION_VALUE } from './adapters/payments/douyin-trade/signing';
import { whyNotPublic } from './public-url';

/**
 * The only module that reads `process.env`. Everything else receives a `Config`.
 *
 * A service whose base URL is unset is served by the offline sandbox; its secrets then
 * default to the development values below, which the sandbox shares. Once a base URL
 * points at the real service, every secret it needs must be set explicitly.
 */

export const DEVELOPMENT_SECRETS = {
  gatewayAppId: 'sandbox-app-0001',
  gatewayAppSecret: 'sandbox-app-secret',
  gatewayMasterSecret: 'sandbox-master-secret',
  gatewayTestSecret: 'sandbox-test-secret',
  wechatAppId: 'wxsandbox00000001',
  wechatSecret: 'sandbox-wechat-secret',
  douyinAppId: 'ttsandbox00000001',
  douyinSecret: 'sandbox-douyin-secret',
  douyinPayAppId: '800000000001',
  douyinMerchantId: '1900000001',
  douyinPaySecret: 'sandbox-douyin-pay-secret',
  merchantApiKey: 'sandbox-merchant-api-key',
  wechatMiniprogramUsername: 'gh_00000000sandbox',
} as const;

const port = z.coerce.number().int().min(0).max(65535);
const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();
const optionalUrl = optionalText.pipe(
  z
    .url({ protocol: /^https?$/ })
    // A user or password in a URL is written wherever the URL is (error messages, logs, the
    // outbox's last error), and fetch refuses such URLs anyway.
    .refine((url) => !/^https?:\/\/[^/?#]*@/i.test(url), 'must not carry a user or password')
    .optional(),
);
/**
 * An upstream's base URL: an origin only. Its clients put each API's absolute path on it
 * (`new URL('/v3/…', base)`), which drops any path, query or fragment it had — a proxy's path
 * prefix would be bypassed without a word — so those are refused instead.
 */
const upstreamBaseUrl = optionalUrl.refine((url) => {
  if (url === undefined) return true;
  const parsed = new URL(url);
  return parsed.pathname === '/' && parsed.search === '' && parsed.hash === '';
}, 'must be an origin (scheme, host and port) with no path, query or fragment: the API paths are put on it');
const flag = z
  .enum(['true', 'false', '1', '0', ''])
  .optional()
  .transform((value) => value === 'true' || value === '1');

const environmentSchema = z.object({
  PORT: port.default(3000),
  SANDBOX_PORT: port.default(3100),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().trim().min(1).default('./.data'),
  DATABASE_URL: optionalText.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
  ),
  // Notify URLs are this plus a path: a query or fragment would end up in the middle of them
  // (and WeChat Pay refuses a notify_url with parameters, "JSAPI下单").
  PUBLIC_BASE_URL: optionalUrl.refine(
    (url) => url === undefined || !/[?#]/.test(url),
    'must have no query string or fragment: notification paths are appended to it',
  ),
  ALLOW_UNREACHABLE_WEBHOOKS: flag,
  GATEWAY_BASE_URL: upstreamBaseUrl,
  GATEWAY_APP_ID: optionalText,
  GATEWAY_APP_SECRET: optionalText,
  GATEWAY_MASTER_SECRET: optionalText,
  GATEWAY_TEST_SECRET: optionalText,
  WECHAT_API_BASE_URL: upstreamBaseUrl,
  WECHAT_APPID: optionalText,
  WECHAT_SECRET: optionalText,
  WEAPP_PAYMENT_PROVIDER: optionalText.pipe(z.enum(['gateway', 'wechatpay']).default('gateway')),
  WECHATPAY_BASE_URL: upstreamBaseUrl,
  WECHATPAY_MCHID: optionalText.pipe(
    z
      .string()
      .regex(/^\d{1,32}$/, 'must be the 商户号 (digits)')
      .optional(),
  ),
  WECHATPAY_SERIAL_NO: optionalText.pipe(
    z
      .string()
      .regex(/^[0-9A-Fa-f]{1,64}$/, "must be the serial number of the merchant's API certificate (hex)")
      .optional(),
  ),
  WECHATPAY_PRIVATE_KEY_FILE: optionalText,
  WECHATPAY_APIV3_KEY: optionalText.pipe(
    z
      .string()
      .refine((key) => Buffer.byteLength(key, 'utf8') === 32, 'must be 32 characters (the APIv3 key)')
      .optional(),
  ),
  WECHATPAY_PUBLIC_KEY_ID: optionalText.pipe(
    z
      .string()
      .regex(/^PUB_KEY_ID_[0-9A-Za-z_]+$/, "must be the 微信支付公钥's id, PUB_KEY_ID_…")
      .optional(),
  ),
  WECHATPAY_PUBLIC_KEY_FILE: optionalText,
  DOUYIN_API_BASE_URL: upstreamBaseUrl,
  DOUYIN_APPID: optionalText,
  DOUYIN_SECRET: optionalText,
  DOUYIN_PAY_APP_ID: optionalText,
  DOUYIN_MERCHANT_ID: optionalText,
  DOUYIN_PAY_SECRET: optionalText,
  TT_PAYMENT_PROVIDER: optionalText.pipe(z.enum(['cashier', 'guaranteed', 'trade']).default('cashier')),
  DOUYIN_PAY_SALT: optionalText,
  DOUYIN_PAY_TOKEN: optionalText,
  DOUYIN_OPEN_API_BASE_URL: upstreamBaseUrl,
  DOUYIN_APP_PRIVATE_KEY_FILE: optionalText,
  DOUYIN_KEY_VERSION: optionalText,
  DOUYIN_PLATFORM_PUBLIC_KEY_FILE: optionalText,
  MERCHANT_API_KEY: optionalText,
  WECHAT_MINIPROGRAM_USERNAME: optionalText.pipe(
    z
      .string()
      .regex(/^gh_[0-9a-zA-Z_]+$/, "must be the mini-program's original id, gh_…")
      .optional(),
  ),
  MERCHANT_NOTIFY_URL: optionalUrl,
  MERCHANT_NOTIFY_SECRET: optionalText,
  TRUST_PROXY: flag,
  CATALOG_FILE: optionalText,
  ORDER_TTL_SECONDS: z.coerce.number().int().min(120).max(86_400).default(900),
  AUTO_REFUND_DUPLICATES: z
    .enum(['true', 'false', '1', '0', ''])
    .optional()
    .transform((value) => value === undefined || value === '' || value === 'true' || value === '1'),
  SWEEP_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(5),
  SWEEP_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(32),
  GATEWAY_CHECK_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(10),
  WEBHOOK_GRACE_SECONDS: z.coerce.number().int().min(0).max(3600).default(10),
  GATEWAY_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  LOG_LEVEL: optionalText.pipe(z.enum(LOG_LEVELS).default('info')),
  LOG_FORMAT: optionalText.pipe(z.enum(['json', 'pretty']).optional()),
  METRICS_TOKEN: optionalText.pipe(
    z
      .string()
      .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII characters (it is sent as a bearer token)')
      .min(16, 'must be at least 16 characters (a guessable token protects nothing)')
      .optional(),
  ),
});

export interface Config {
  port: number;
  sandboxPort: number;
  host: string;
  dataDir: string;
  databaseUrl?: string;
  /**
   * Base URL the gateway calls back (the webhook lives at `/api/gateway/webhook`).
   * Unset: `http://HOST:PORT`, taken from the address the server actually listens on; a real
   * gateway or Douyin requires it, and it must be a public address, unless
   * `ALLOW_UNREACHABLE_WEBHOOKS` is true.
   */
  publicBaseUrl?: string;
  /** True when at least one upstream is emulated, so `npm start` also runs the sandbox. */
  sandboxEnabled: boolean;
  gateway: {
    /** Unset: the sandbox on SANDBOX_PORT. */
    baseUrl?: string;
    appId: string;
    appSecret: string;
    masterSecret: string;
    /** Signs requests to the gateway's test mode (`/2/rest/sandbox/*`). */
    testSecret?: string;
    /** True when GATEWAY_TEST_SECRET is set: bills go to the gateway's test mode. */
    testMode: boolean;
    /** How long a gateway call may take before its outcome counts as unknown, ms. */
    timeoutMs: number;
  };
  wechat: {
    /** Unset: the sandbox on SANDBOX_PORT. */
    apiBaseUrl?: string;
    appId: string;
    secret: string;
  };
  /** Who opens the bills of WeChat mini-program payments (`WX_MINI`): the aggregate gateway or WeChat Pay. */
  weappPaymentProvider: 'gateway' | 'wechatpay';
  /** WeChat Pay APIv3 as a direct merchant (the mini-program's AppID is `wechat.appId`). */
  wechatpay: {
    /** Unset: the sandbox on SANDBOX_PORT, with the development keys it hands out. */
    baseUrl?: string;
    /** Set exactly when `baseUrl` is. */
    merchant?: WechatPayMerchant;
  };
  douyin: {
    /** Unset: the sandbox on SANDBOX_PORT. */
    apiBaseUrl?: string;
    appId: string;
    secret: string;
    /**
     * The legacy cashier's `app_id` and `merchant_id` and the secret that signs `orderInfo`:
     * always on the sandbox; against the real Douyin required with `TT_PAYMENT_PROVIDER=cashier`,
     * else present only when set (all three or none), to finish cashier payments from before a switch.
     */
    cashier?: { payAppId: string; merchantId: string; paySecret: string };
  };
  /**
   * How Douyin mini-program payments are taken: `cashier`, the legacy cashier (`tt.pay` service 1
   * over the gateway's two legs); `guaranteed`, 担保支付 (`tt.pay` service 5, `TT_MINI` bills at
   * Douyin); `trade`, Douyin's 通用交易系统 (`tt.requestOrder`, `TT_MINI` bills).
   */
  ttPaymentProvider: 'cashier' | 'guaranteed' | 'trade';
  /**
   * 担保支付's SALT (request `sign`) and callback token: set when `douyin.apiBaseUrl` is and they
   * are given (required then with `guaranteed`); unset on the sandbox, whose keys the server takes.
   */
  douyinGuaranteed: { salt: string; token: string } | undefined;
  /**
   * 通用交易系统's credentials when `DOUYIN_API_BASE_URL` is set and they are given (required with
   * `TT_PAYMENT_PROVIDER=trade`); undefined on the sandbox, whose development keys are used.
   */
  douyinTrade?: DouyinTradeCredentials;
  /** The server-to-server API a merchant's app backend calls. */
  merchant: {
    /** Unset: the merchant API is off (it has a development key while the gateway is the sandbox). */
    apiKey?: string;
    /** The WeChat mini-program's original id (`gh_…`), what `WXLaunchMiniProgramReq.userName` takes. */
    miniprogramUsername: string;
    /** Where final order states are POSTed, signed with `notifySecret`. */
    notifyUrl?: string;
    notifySecret?: string;
  };
  /** Take the client IP from X-Forwarded-For (behind a reverse proxy). */
  trustProxy: boolean;
  catalogFile?: string;
  /** How long an order can be paid, seconds. */
  orderTtlSeconds: number;
  /** Return a second payment for an already paid order at the gateway by itself. */
  autoRefundDuplicates: boolean;
  /** The server's log: pino's level, and `auto` (pretty on a terminal, JSON lines otherwise) unless LOG_FORMAT says. */
  logging: { level: LogLevel; format: LogFormat };
  /** Set: `GET /metrics` needs `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  /** The background sweeper that finds lost webhooks, expires orders and drives refunds. */
  sweeper: {
    /** How often it runs, seconds. */
    intervalSeconds: number;
    /** Gateway queries it keeps in flight at once on each instance. */
    concurrency: number;
    /** At most one gateway query per order per this many seconds (all instances together). */
    gatewayCheckIntervalSeconds: number;
    /** A bill open this long without its webhook is asked about, seconds. */
    webhookGraceSeconds: number;
  };
}

/** Douyin 通用交易系统 credentials, read and checked at boot (the client token uses `douyin.appId` and `douyin.secret`). */
export interface DouyinTradeCredentials {
  /** `https://open.douyin.com` unless DOUYIN_OPEN_API_BASE_URL says otherwise. */
  openApiBaseUrl: string;
  /** The app private key, PEM; its public half is uploaded in 开发设置 → 密钥设置. */
  appPrivateKeyPem: string;
  /** The version the console gave that upload (`key_version`). */
  keyVersion: string;
  /** Douyin's platform public key, PEM, from the same console page. */
  platformPublicKeyPem: string;
}

/** A direct WeChat Pay merchant's credentials, read and checked at boot. */
export interface WechatPayMerchant {
  /** 商户号 */
  mchid: string;
  /** The serial number of the merchant's API certificate. */
  serialNo: string;
  /** The merchant's API private key (`apiclient_key.pem`), PEM. */
  privateKeyPem: string;
  /** 32 characters. */
  apiV3Key: string;
  /** The 微信支付公钥 (`pub_key.pem`) and its id, for merchants that have one. */
  publicKey?: { id: string; pem: string };
}

/** Every environment variable the server reads, in the order `.env.example` and the README list them. */
export const ENVIRONMENT_VARIABLES: readonly string[] = Object.keys(environmentSchema.shape);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  const problems: string[] = [];

  const gatewaySandboxed = e.GATEWAY_BASE_URL === undefined;
  const wechatSandboxed = e.WECHAT_API_BASE_URL === undefined;
  const douyinSandboxed = e.DOUYIN_API_BASE_URL === undefined;

  function secret(name: keyof typeof e, sandboxed: boolean, fallback: string, why: string): string {
    const value = e[name] as string | undefined;
    if (value !== undefined) return value;
    if (sandboxed) return fallback;
    problems.push(`${name} is required when ${why} is set`);
    return '';
  }

  const gateway = {
    baseUrl: e.GATEWAY_BASE_URL,
    appId: secret('GATEWAY_APP_ID', gatewaySandboxed, DEVELOPMENT_SECRETS.gatewayAppId, 'GATEWAY_BASE_URL'),
    appSecret: secret('GATEWAY_APP_SECRET', gatewaySandboxed, DEVELOPMENT_SECRETS.gatewayAppSecret, 'GATEWAY_BASE_URL'),
    masterSecret: secret(
      'GATEWAY_MASTER_SECRET',
      gatewaySandboxed,
      DEVELOPMENT_SECRETS.gatewayMasterSecret,
      'GATEWAY_BASE_URL',
    ),
    testSecret: gatewaySandboxed
      ? (e.GATEWAY_TEST_SECRET ?? DEVELOPMENT_SECRETS.gatewayTestSecret)
      : e.GATEWAY_TEST_SECRET,
    testMode: e.GATEWAY_TEST_SECRET !== undefined,
    timeoutMs: e.GATEWAY_TIMEOUT_MS,
  };
  const wechat = {
    apiBaseUrl: e.WECHAT_API_BASE_URL,
    appId: secret('WECHAT_APPID', wechatSandboxed, DEVELOPMENT_SECRETS.wechatAppId, 'WECHAT_API_BASE_URL'),
    secret: secret('WECHAT_SECRET', wechatSandboxed, DEVELOPMENT_SECRETS.wechatSecret, 'WECHAT_API_BASE_URL'),
  };

  const douyin = {
    apiBaseUrl: e.DOUYIN_API_BASE_URL,
    appId: secret('DOUYIN_APPID', douyinSandboxed, DEVELOPMENT_SECRETS.douyinAppId, 'DOUYIN_API_BASE_URL'),
    secret: secret('DOUYIN_SECRET', douyinSandboxed, DEVELOPMENT_SECRETS.douyinSecret, 'DOUYIN_API_BASE_URL'),
    cashier: douyinCashierCredentials(e, problems),
  };

  refuseSettingsWithoutUpstream(e, problems);
  const douyinGuaranteed = douyinGuaranteedSecrets(e, problems);

  const wechatpay = { baseUrl: e.WECHATPAY_BASE_URL, merchant: wechatPayMerchant(e, problems) };
  const douyinTrade = douyinTradeCredentials(e, problems);
  const wechatpayInUse = e.WEAPP_PAYMENT_PROVIDER === 'wechatpay';

  const merchantApiKey = e.MERCHANT_API_KEY ?? (gatewaySandboxed ? DEVELOPMENT_SECRETS.merchantApiKey : undefined);
  const merchant = {
    apiKey: merchantApiKey,
    miniprogramUsername:
      e.WECHAT_MINIPROGRAM_USERNAME ??
      (wechatSandboxed || e.MERCHANT_API_KEY === undefined ? DEVELOPMENT_SECRETS.wechatMiniprogramUsername : ''),
    notifyUrl: e.MERCHANT_NOTIFY_URL,
    notifySecret: e.MERCHANT_NOTIFY_SECRET,
  };
  if (merchant.miniprogramUsername === '') {
    problems.push('WECHAT_MINIPROGRAM_USERNAME is required when MERCHANT_API_KEY and WECHAT_API_BASE_URL are set');
  }
  if (merchant.notifyUrl && !merchant.notifySecret) {
    problems.push('MERCHANT_NOTIFY_SECRET is required when MERCHANT_NOTIFY_URL is set');
  }

  // Both hand our webhook URL to a service on the internet: seed 001 §3.1 (the gateway wants
  // "a publicly reachable address and port", HTTP or HTTPS) and Douyin's orderInfo.notify_url.
  // WeChat Pay's notify_url as well, which must be HTTPS ("JSAPI下单": notify_url 必须为https).
  // Douyin's 通用交易系统 likewise takes an HTTPS payNotifyUrl only (payments-beyond.md, `data`).
  const wechatpayCallsBack = wechatpayInUse && wechatpay.baseUrl !== undefined;
  const httpsOnly = [
    wechatpayCallsBack
      ? {
          when: 'WEAPP_PAYMENT_PROVIDER=wechatpay and WECHATPAY_BASE_URL',
          who: 'WeChat Pay sends notifications to HTTPS addresses only',
        }
      : undefined,
    !douyinSandboxed && e.TT_PAYMENT_PROVIDER === 'trade'
      ? {
          when: 'TT_PAYMENT_PROVIDER=trade and DOUYIN_API_BASE_URL',
          who: "Douyin's 通用交易系统 takes an HTTPS payNotifyUrl only",
        }
      : undefined,
  ].filter((rule) => rule !== undefined);
  const callingBack = [
    gatewaySandboxed
      ? undefined
      : { variable: 'GATEWAY_BASE_URL', caller: 'the gateway', path: '/api/gateway/webhook' },
    douyinSandboxed
      ? undefined
      : {
          variable: 'DOUYIN_API_BASE_URL',
          caller: 'Douyin',
          path:
            e.TT_PAYMENT_PROVIDER === 'guaranteed'
              ? '/api/douyin/ecpay/notify'
              : e.TT_PAYMENT_PROVIDER === 'trade'
                ? '/api/douyin/trade/notify'
                : '/api/gateway/webhook',
        },
    wechatpayCallsBack
      ? { variable: 'WECHATPAY_BASE_URL', caller: 'WeChat Pay', path: '/api/wechatpay/notify' }
      : undefined,
  ].filter((upstream) => upstream !== undefined);
  if (callingBack.length > 0 && !e.ALLOW_UNREACHABLE_WEBHOOKS) {
    const set = `${callingBack.map((upstream) => upstream.variable).join(' and ')} ${callingBack.length > 1 ? 'are' : 'is'} set`;
    const paths = [...new Set(callingBack.map((upstream) => `PUBLIC_BASE_URL${upstream.path}`))].join(' and ');
    const why =
      `${callingBack.map((upstream) => upstream.caller).join(' and ')} will call ${paths}` +
      ' from the internet (ALLOW_UNREACHABLE_WEBHOOKS=true starts anyway)';
    if (e.PUBLIC_BASE_URL === undefined) {
      problems.push(`PUBLIC_BASE_URL is required when ${set}: ${why}`);
    } else {
      const unreachable = whyNotPublic(e.PUBLIC_BASE_URL);
      if (unreachable) problems.push(`PUBLIC_BASE_URL cannot be reached from the internet (${unreachable}): ${why}`);
      else if (!e.PUBLIC_BASE_URL.toLowerCase().startsWith('https://')) {
        for (const { when, who } of httpsOnly) {
          problems.push(
            `PUBLIC_BASE_URL must be https:// when ${when} are set: ${who} (ALLOW_UNREACHABLE_WEBHOOKS=true starts anyway)`,
          );
        }
      }
    }
  }

  const sandboxEnabled =
    gatewaySandboxed || wechatSandboxed || douyinSandboxed || (wechatpayInUse && wechatpay.baseUrl === undefined);
  if (sandboxEnabled && e.PORT !== 0 && e.PORT === e.SANDBOX_PORT) {
    problems.push(`PORT and SANDBOX_PORT are both ${e.PORT}: the server and the sandbox need a port each`);
  }

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    port: e.PORT,
    sandboxPort: e.SANDBOX_PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    publicBaseUrl: e.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    sandboxEnabled,
    gateway,
    wechat,
    weappPaymentProvider: e.WEAPP_PAYMENT_PROVIDER,
    wechatpay,
    douyin,
    ttPaymentProvider: e.TT_PAYMENT_PROVIDER,
    douyinGuaranteed,
    douyinTrade,
    merchant,
    trustProxy: e.TRUST_PROXY,
    catalogFile: e.CATALOG_FILE,
    orderTtlSeconds: e.ORDER_TTL_SECONDS,
    autoRefundDuplicates: e.AUTO_REFUND_DUPLICATES,
    logging: { level: e.LOG_LEVEL, format: e.LOG_FORMAT ?? 'auto' },
    metricsToken: e.METRICS_TOKEN,
    sweeper: {
      intervalSeconds: e.SWEEP_INTERVAL_SECONDS,
      concurrency: e.SWEEP_CONCURRENCY,
      gatewayCheckIntervalSeconds: e.GATEWAY_CHECK_INTERVAL_SECONDS,
      webhookGraceSeconds: e.WEBHOOK_GRACE_SECONDS,
    },
  };
}

type Environment = z.infer<typeof environmentSchema>;

/**
 * Settings read only when their upstream's base URL is set, and the sandbox control that hands out
 * the development keys used instead. Without the base URL the sandbox signs and verifies with its
 * own keys, so such a setting would be silently unused: a merchant who sets a real SALT or key and
 * tests on the sandbox would believe it checked.
 */
const UPSTREAM_ONLY_SETTINGS: ReadonlyArray<{
  baseUrl: keyof Environment;
  keys: string;
  names: ReadonlyArray<keyof Environment>;
}> = [
  {
    baseUrl: 'WECHATPAY_BASE_URL',
    keys: 'GET /sandbox/wechatpay/keys',
    names: [
      'WECHATPAY_MCHID',
      'WECHATPAY_SERIAL_NO',
      'WECHATPAY_PRIVATE_KEY_FILE',
      'WECHATPAY_APIV3_KEY',
      'WECHATPAY_PUBLIC_KEY_ID',
      'WECHATPAY_PUBLIC_KEY_FILE',
    ],
  },
  {
    baseUrl: 'DOUYIN_API_BASE_URL',
    keys: 'GET /sandbox/douyin/keys',
    names: [
      'DOUYIN_PAY_SALT',
      'DOUYIN_PAY_TOKEN',
      'DOUYIN_OPEN_API_BASE_URL',
      'DOUYIN_APP_PRIVATE_KEY_FILE',
      'DOUYIN_KEY_VERSION',
      'DOUYIN_PLATFORM_PUBLIC_KEY_FILE',
    ],
  },
];

/** Adds a problem for every setting of `UPSTREAM_ONLY_SETTINGS` given without its base URL. */
function refuseSettingsWithoutUpstream(e: Environment, problems: string[]): void {
  for (const { baseUrl, keys, names } of UPSTREAM_ONLY_SETTINGS) {
    if (e[baseUrl] !== undefined) continue;
    for (const name of names) {
      if (e[name] === undefined) continue;
      const instead = name.endsWith('_BASE_URL')
        ? 'the sandbox serves that API instead'
        : `the sandbox's development keys (${keys}) are used instead`;
      problems.push(`${name} is used only with ${baseUrl} set: without it ${instead}; set ${baseUrl} or unset ${name}`);
    }
  }
}

/**
 * The legacy cashier's credentials (`DOUYIN_PAY_APP_ID`, `DOUYIN_MERCHANT_ID`,
 * `DOUYIN_PAY_SECRET`): the development ones on the sandbox; against the real Douyin, required
 * with `TT_PAYMENT_PROVIDER=cashier`, and otherwise read when set (all three or none: a merchant
 * on 担保支付 or the 通用交易系统 alone never signed up for the cashier), so that orders paying
 * through the cashier from before a switch can still be handed out. Missing ones are `problems`.
 */
function douyinCashierCredentials(
  e: Environment,
  problems: string[],
): { payAppId: string; merchantId: string; paySecret: string } | undefined {
  if (e.DOUYIN_API_BASE_URL === undefined) {
    return {
      payAppId: e.DOUYIN_PAY_APP_ID ?? DEVELOPMENT_SECRETS.douyinPayAppId,
      merchantId: e.DOUYIN_MERCHANT_ID ?? DEVELOPMENT_SECRETS.douyinMerchantId,
      paySecret: e.DOUYIN_PAY_SECRET ?? DEVELOPMENT_SECRETS.douyinPaySecret,
    };
  }
  const names = ['DOUYIN_PAY_APP_ID', 'DOUYIN_MERCHANT_ID', 'DOUYIN_PAY_SECRET'] as const;
  const chosen = e.TT_PAYMENT_PROVIDER === 'cashier';
  if (!chosen && names.every((name) => e[name] === undefined)) return undefined;
  const missing = names.filter((name) => e[name] === undefined);
  for (const name of missing) {
    problems.push(
      chosen
        ? `${name} is required when DOUYIN_API_BASE_URL is set and TT_PAYMENT_PROVIDER=cashier (the default)`
        : `${name} goes with ${names.filter((other) => other !== name).join(' and ')}: set all three or none`,
    );
  }
  if (missing.length > 0) return undefined;
  return { payAppId: e.DOUYIN_PAY_APP_ID!, merchantId: e.DOUYIN_MERCHANT_ID!, paySecret: e.DOUYIN_PAY_SECRET! };
}

/**
 * 担保支付's SALT and token when `DOUYIN_API_BASE_URL` is set and both are given (undefined on the
 * sandbox, whose development keys are used). With `TT_PAYMENT_PROVIDER=guaranteed` and
 * `DOUYIN_API_BASE_URL`, a missing one is a problem; one given without the other always is.
 */
function douyinGuaranteedSecrets(e: Environment, problems: string[]): { salt: string; token: string } | undefined {
  if (e.DOUYIN_API_BASE_URL === undefined) return undefined;
  const chosen = e.TT_PAYMENT_PROVIDER === 'guaranteed';
  const missing = (['DOUYIN_PAY_SALT', 'DOUYIN_PAY_TOKEN'] as const).filter((name) => e[name] === undefined);
  if (missing.length === 0) return { salt: e.DOUYIN_PAY_SALT!, token: e.DOUYIN_PAY_TOKEN! };
  if (chosen || missing.length === 1) {
    for (const name of missing) {
      problems.push(
        chosen
          ? `${name} is required when TT_PAYMENT_PROVIDER=guaranteed and DOUYIN_API_BASE_URL are set`
          : `${name} is required when ${name === 'DOUYIN_PAY_SALT' ? 'DOUYIN_PAY_TOKEN' : 'DOUYIN_PAY_SALT'} is set`,
      );
    }
  }
  return undefined;
}

/**
 * The merchant's WeChat Pay credentials when `WECHATPAY_BASE_URL` is set (undefined otherwise: the
 * sandbox hands out development keys), with every problem added to `problems`: a required
 * variable unset, a key file that cannot be read or holds no key of the right kind, a public key
 * id without its file or the reverse.
 */
function wechatPayMerchant(e: Environment, problems: string[]): WechatPayMerchant | undefined {
  if (e.WECHATPAY_BASE_URL === undefined) return undefined;
  const required = (name: keyof Environment): string => {
    const value = e[name] as string | undefined;
    if (value === undefined) problems.push(`${name} is required when WECHATPAY_BASE_URL is set`);
    return value ?? '';
  };
  const mchid = required('WECHATPAY_MCHID');
  const serialNo = required('WECHATPAY_SERIAL_NO');
  const apiV3Key = required('WECHATPAY_APIV3_KEY');
  const privateKeyFile = required('WECHATPAY_PRIVATE_KEY_FILE');
  const privateKeyPem =
    privateKeyFile === ''
      ? ''
      : pemFile(
          'WECHATPAY_PRIVATE_KEY_FILE',
          privateKeyFile,
          problems,
          merchantKeyProblem,
          `the merchant's API private key, apiclient_key.pem: an RSA private key of at least ${MIN_RSA_BITS} bits`,
        );
  let publicKey: WechatPayMerchant['publicKey'];
  if ((e.WECHATPAY_PUBLIC_KEY_ID === undefined) !== (e.WECHATPAY_PUBLIC_KEY_FILE === undefined)) {
    problems.push(
      'WECHATPAY_PUBLIC_KEY_ID and WECHATPAY_PUBLIC_KEY_FILE go together: set both (微信支付公钥) or neither',
    );
  } else if (e.WECHATPAY_PUBLIC_KEY_ID !== undefined && e.WECHATPAY_PUBLIC_KEY_FILE !== undefined) {
    const pem = pemFile(
      'WECHATPAY_PUBLIC_KEY_FILE',
      e.WECHATPAY_PUBLIC_KEY_FILE,
      problems,
      platformPublicKeyProblem,
      `the 微信支付公钥, pub_key.pem: an RSA public key (BEGIN PUBLIC KEY) of at least ${MIN_RSA_BITS} bits`,
    );
    publicKey = { id: e.WECHATPAY_PUBLIC_KEY_ID, pem };
  }
  return { mchid, serialNo, privateKeyPem, apiV3Key, publicKey };
}

/**
 * The least RSA modulus of the keys WeChat Pay APIv3 and Douyin's 通用交易系统 sign with: their
 * schemes are `WECHATPAY2-SHA256-RSA2048` (pay.weixin.qq.com, "签名生成") and `SHA256-RSA2048`
 * (payments-beyond.md, "WeChat Pay APIv3" and 通用交易系统 `byteAuthorization`).
 */
const MIN_RSA_BITS = 2048;

/** The PEM labels in `text` (`PRIVATE KEY`, `CERTIFICATE` …), in order. */
function pemLabels(text: string): string[] {
  return [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((match) => match[1]);
}

/** What a key is, in words and without any of its material: `a 1024-bit RSA private key`, `an EC (prime256v1) public key`. */
function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  const bits = details.modulusLength !== undefined ? `${details.modulusLength}-bit ` : '';
  const curve = details.namedCurve !== undefined ? ` (${details.namedCurve})` : '';
  const type = (key.asymmetricKeyType ?? 'unknown').toUpperCase().replace(/^ED/, 'Ed');
  const words = `${bits}${type}${curve} ${key.type} key`;
  // Acronyms are read letter by letter ("an RSA", "an EC"), sizes as numbers ("an 8192-bit").
  return `${/^(8|11-|18|[AEFHILMNORSX])/.test(words) ? 'an' : 'a'} ${words}`;
}

/** Why `key` cannot sign or verify `…SHA256-RSA2048`, or undefined when it can. */
function rsaProblem(key: KeyObject): string | undefined {
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MIN_RSA_BITS) return `holds ${describeKey(key)}`;
  return undefined;
}

/**
 * What is wrong with the merchant's API private key file: anything but an unencrypted RSA private
 * key of `MIN_RSA_BITS` or more, named by what it holds (a public key, a certificate, an EC key…).
 */
function merchantKeyProblem(pem: string): string | undefined {
  return rsaPrivateKeyProblem(pem, 'holds an X.509 certificate (apiclient_cert.pem?), not the private key');
}

/**
 * What is wrong with a private key file that signs `…SHA256-RSA2048`: anything but an unencrypted
 * RSA private key of `MIN_RSA_BITS` or more, named by what it holds; `certificate` is what is said
 * of an X.509 certificate.
 */
function rsaPrivateKeyProblem(pem: string, certificate: string): string | undefined {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    const labels = pemLabels(pem);
    if (labels.includes('ENCRYPTED PRIVATE KEY') || /Proc-Type: 4,ENCRYPTED/.test(pem)) {
      return 'holds an encrypted private key (the server takes it unencrypted)';
    }
    if (labels[0] === 'CERTIFICATE') return certificate;
    let other: KeyObject;
    try {
      other = createPublicKey(pem);
    } catch {
      return 'is not a PEM key';
    }
    return `holds ${describeKey(other)}, not a private key`;
  }
  return rsaProblem(key);
}

/**
 * What is wrong with the 微信支付公钥 file: anything but an SPKI RSA public key (`BEGIN PUBLIC KEY`)
 * of `MIN_RSA_BITS` or more (createPublicKey alone would take a certificate, or a private key and
 * derive its public half).
 */
function platformPublicKeyProblem(pem: string): string | undefined {
  const first = pemLabels(pem)[0];
  if (first === 'CERTIFICATE') return 'holds an X.509 certificate, not a public key';
  if (first !== undefined && first.endsWith('PRIVATE KEY')) return 'holds a private key';
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return 'is not a PEM key';
  }
  // WeChat hands the key out as SPKI; another form means another file than pub_key.pem.
  if (first !== 'PUBLIC KEY') return `holds ${describeKey(key)} in another form (BEGIN ${first})`;
  return rsaProblem(key);
}

/**
 * What is wrong with Douyin's platform public key file: anything but an RSA public key of
 * `MIN_RSA_BITS` or more, SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`) — both
 * hold nothing but the key, and the console shows it as text a merchant wraps in PEM either way.
 * A private key or a certificate is another file (createPublicKey would derive or extract a key).
 */
function douyinPlatformKeyProblem(pem: string): string | undefined {
  const first = pemLabels(pem)[0];
  if (first === 'CERTIFICATE') return 'holds an X.509 certificate, not a public key';
  if (/PRIVATE KEY/.test(pem)) return 'holds a private key';
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return 'is not a PEM key';
  }
  return rsaProblem(key);
}

/**
 * Douyin 通用交易系统 credentials when `DOUYIN_API_BASE_URL` is set: required with
 * `TT_PAYMENT_PROVIDER=trade`, read whenever given (so bills opened there are still asked about
 * after switching back to the cashier); undefined on the sandbox. Every problem is added to
 * `problems`: a variable missing; a file unreadable or holding anything but an RSA key of
 * `MIN_RSA_BITS` or more of its kind (an EC key would be used under `SHA256-RSA2048` all the
 * same, and Douyin refuse every order); a key version or AppID that would not read back the same
 * from `byteAuthorization`.
 */
function douyinTradeCredentials(e: Environment, problems: string[]): DouyinTradeCredentials | undefined {
  if (e.DOUYIN_API_BASE_URL === undefined) return undefined;
  const names = ['DOUYIN_APP_PRIVATE_KEY_FILE', 'DOUYIN_KEY_VERSION', 'DOUYIN_PLATFORM_PUBLIC_KEY_FILE'] as const;
  const chosen = e.TT_PAYMENT_PROVIDER === 'trade';
  if (!chosen && names.every((name) => e[name] === undefined)) return undefined;
  for (const name of names) {
    if (e[name] === undefined) {
      problems.push(
        chosen
          ? `${name} is required when DOUYIN_API_BASE_URL is set and TT_PAYMENT_PROVIDER=trade`
          : `${name} goes with ${names.filter((other) => other !== name).join(' and ')}: set all three or none`,
      );
    }
  }
  // Both are pasted into byteAuthorization as they are (`appid=…,key_version=…`): a `,` or `=`
  // in one would be read as parts of its own (`1,signature=x`), so only plain values are taken.
  const pasted = {
    DOUYIN_KEY_VERSION: 'the version the console gave the uploaded app public key, e.g. 1',
    DOUYIN_APPID: "the mini-program's AppID, tt…",
  } as const;
  for (const [name, what] of Object.entries(pasted) as Array<[keyof typeof pasted, string]>) {
    const value = e[name];
    if (value === undefined || PLAIN_AUTHORIZATION_VALUE.test(value)) continue;
    problems.push(
      `${name} ${JSON.stringify(value.slice(0, 80))} cannot go into byteAuthorization: it must be ${what} ` +
        "(1 to 64 letters, digits, '.', '_' or '-')",
    );
  }
  const appPrivateKeyPem =
    e.DOUYIN_APP_PRIVATE_KEY_FILE === undefined
      ? ''
      : pemFile(
          'DOUYIN_APP_PRIVATE_KEY_FILE',
          e.DOUYIN_APP_PRIVATE_KEY_FILE,
          problems,
          (pem) => rsaPrivateKeyProblem(pem, 'holds an X.509 certificate, not the private key'),
          `the app private key whose public half is uploaded in 开发设置 → 密钥设置: an RSA private key of at least ${MIN_RSA_BITS} bits (byteAuthorization is SHA256-RSA2048)`,
        );
  const platformPublicKeyPem =
    e.DOUYIN_PLATFORM_PUBLIC_KEY_FILE === undefined
      ? ''
      : pemFile(
          'DOUYIN_PLATFORM_PUBLIC_KEY_FILE',
          e.DOUYIN_PLATFORM_PUBLIC_KEY_FILE,
          problems,
          douyinPlatformKeyProblem,
          `Douyin's platform public key: an RSA public key of at least ${MIN_RSA_BITS} bits (callbacks are signed RSA-SHA256)`,
        );
  return {
    openApiBaseUrl: e.DOUYIN_OPEN_API_BASE_URL ?? 'https://open.douyin.com',
    appPrivateKeyPem,
    keyVersion: e.DOUYIN_KEY_VERSION ?? '',
    platformPublicKeyPem,
  };
}

/**
 * The text of the PEM file `path` that `variable` names, checked by `check` (which throws or
 * names what is wrong); '' after adding a problem when it cannot be read or is not `what`.
 */
/** The largest key or certificate file read at boot, bytes (a 4096-bit RSA key in PEM is about 3.3 KB). */
const MAX_KEY_FILE_BYTES = 64 * 1024;

function pemFile(
  variable: string,
  path: string,
  problems: string[],
  check: (pem: string) => string | undefined,
  what: string,
): string {
  let text: string;
  try {
    // Looked at before it is read: a device (/dev/zero) would fill the memory and a FIFO block the
    // start for ever, and a key file is a few KB.
    const file = statSync(path);
    if (!file.isFile()) {
      problems.push(`${variable} ${path} is not a regular file: it must be ${what}`);
      return '';
    }
    if (file.size > MAX_KEY_FILE_BYTES) {
      problems.push(
        `${variable} ${path} is ${file.size} bytes, more than a key file's ${MAX_KEY_FILE_BYTES}: it must be ${what}`,
      );
      return '';
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(`${variable} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    return '';
  }
  let wrong: string | undefined;
  try {
    wrong = check(text);
  } catch {
    wrong = 'is not a PEM key';
  }
  if (wrong) {
    problems.push(`${variable} ${path} ${wrong}: it must be ${what}`);
    return '';
  }
  return text;
}
