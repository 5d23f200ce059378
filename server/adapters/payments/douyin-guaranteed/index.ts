import { EcpayClient, type EcpayCredentials } from './client';
import { DouyinGuaranteedProvider } from './provider';

/**
 * Builds Douyin's 担保支付 from the configuration: the merchant's SALT and token when
 * `DOUYIN_API_BASE_URL` is set, else the sandbox's development keys (read on first use).
 */
export interface DouyinGuaranteedSetup {
  /** DOUYIN_API_BASE_URL, or the sandbox's URL. */
  baseUrl: string;
  /** The mini-program's AppID (`config.douyin.appId`). */
  appId: string;
  /** The merchant's DOUYIN_PAY_SALT and DOUYIN_PAY_TOKEN, or a reader of the sandbox's keys. */
  credentials: EcpayCredentials | (() => Promise<EcpayCredentials>);
  /** Where Douyin POSTs callbacks: `PUBLIC_BASE_URL/api/douyin/ecpay/notify`. */
  notifyUrl: string;
  /** Deadline of each call, ms. */
  timeoutMs: number;
  now?: () => number;
}

/** The provider for `setup`; nothing is asked of anyone until it is first used. */
export function createDouyinGuaranteed(setup: DouyinGuaranteedSetup): DouyinGuaranteedProvider {
  const given = setup.credentials;
  let loading: Promise<EcpayCredentials> | undefined;
  const credentials =
    typeof given === 'function'
      ? () => {
          // A failed read is tried again at the next call.
          loading ??= given().catch((error: unknown) => {
            loading = undefined;
            throw error;
          });
          return loading;
        }
      : async () => given;
  const client = new EcpayClient({
    baseUrl: setup.baseUrl,
    appId: setup.appId,
    credentials,
    timeoutMs: setup.timeoutMs,
  });
  return new DouyinGuaranteedProvider({ client, notifyUrl: setup.notifyUrl, now: setup.now });
}

export { DouyinGuaranteedProvider, CALLBACK_MAX_SKEW_S } from './provider';
export { EcpayClient, EcpayRefusal } from './client';
export type { EcpayCredentials } from './client';
export { ecpayCallbackSignature, ecpayRequestSign } from './signing';
