import type { DouyinTradeCredentials } from '../../../config';
import { DouyinTradeClient } from './client';
import { DouyinTradeProvider } from './provider';

/**
 * Builds Douyin's 通用交易系统 from the parsed configuration: the merchant's keys when
 * `DOUYIN_API_BASE_URL` is set (`credentials`), else the sandbox's development keys, the same the
 * sandbox checks `byteAuthorization` and signs callbacks with.
 */
export interface DouyinTradeSetup {
  /** `config.douyinTrade`: set against the real Douyin. */
  credentials?: DouyinTradeCredentials;
  /** The mini-program's AppID and AppSecret (`config.douyin`): `client_key`, `client_secret` and `appid`. */
  appId: string;
  secret: string;
  /** `PUBLIC_BASE_URL/api/douyin/trade/notify`. */
  notifyUrl: string;
  /** The running sandbox, required without `credentials`. */
  sandbox?: {
    url: string;
    keys: () => Promise<{ appPrivateKey: string; platformPublicKey: string; keyVersion: string }>;
  };
  timeoutMs: number;
  /** ms clock. @default Date.now */
  now?: () => number;
}

/** The checkout page an order links back to (`orderEntrySchema.path`). */
export const ORDER_PAGE_PATH = 'pages/checkout/index';

/**
 * The provider for `setup`. Throws an Error when neither credentials nor the sandbox are given,
 * or a key does not read.
 */
export async function createDouyinTrade(setup: DouyinTradeSetup): Promise<DouyinTradeProvider> {
  const now = setup.now ?? Date.now;
  let baseUrl: string;
  let keys: { appPrivateKeyPem: string; platformPublicKeyPem: string; keyVersion: string };
  if (setup.credentials) {
    baseUrl = setup.credentials.openApiBaseUrl;
    keys = setup.credentials;
  } else {
    if (!setup.sandbox) throw new Error('Douyin 通用交易系统 without DOUYIN_API_BASE_URL needs the sandbox');
    const sandboxKeys = await setup.sandbox.keys();
    baseUrl = setup.sandbox.url;
    keys = {
      appPrivateKeyPem: sandboxKeys.appPrivateKey,
      platformPublicKeyPem: sandboxKeys.platformPublicKey,
      keyVersion: sandboxKeys.keyVersion,
    };
  }
  const client = new DouyinTradeClient({
    baseUrl,
    appId: setup.appId,
    secret: setup.secret,
    timeoutMs: setup.timeoutMs,
    now,
  });
  return new DouyinTradeProvider({
    client,
    appId: setup.appId,
    appPrivateKeyPem: keys.appPrivateKeyPem,
    keyVersion: keys.keyVersion,
    platformPublicKeyPem: keys.platformPublicKeyPem,
    notifyUrl: setup.notifyUrl,
    orderPagePath: ORDER_PAGE_PATH,
    now,
  });
}

export { DouyinTradeProvider, DOUYIN_TRADE_PAYER_MADE_BILLS } from './provider';
export { DouyinTradeClient } from './client';
