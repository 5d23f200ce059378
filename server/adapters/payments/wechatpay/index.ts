import type { Config } from '../../../config';
import { WechatPayClient, type CertificateDownloadReport, type WechatPayClientOptions } from './client';
import { WechatPayProvider } from './provider';
import { clientOptionsFromSandboxKeys, fetchSandboxClientOptions, type SandboxKeysAnswer } from './sandbox-credentials';

/**
 * Builds WeChat Pay APIv3 from the parsed configuration: the merchant's credentials when
 * `WECHATPAY_BASE_URL` is set, else the sandbox's development keys (in process through
 * `sandbox.keys`, or from its `GET /sandbox/wechatpay/keys`).
 */

export interface WechatPaySetup {
  /** `config.wechatpay`. */
  wechatpay: Config['wechatpay'];
  /** The mini-program's AppID (`config.wechat.appId`), which prepays and `paySign` name. */
  appid: string;
  /** Where WeChat Pay POSTs notifications: `PUBLIC_BASE_URL/api/wechatpay/notify`. */
  notifyUrl: string;
  /** The running sandbox, required when `wechatpay.baseUrl` is unset. */
  sandbox?: { url: string; keys?: () => Promise<SandboxKeysAnswer> };
  /** Deadline of each call, ms (e.g. `config.gateway.timeoutMs`). @default 10000 */
  timeoutMs?: number;
  /** ms clock. @default Date.now */
  now?: () => number;
  /** Told of every platform-certificate download once it ended (metrics and logs). */
  onCertificateDownload?: (report: CertificateDownloadReport) => void;
}

/**
 * The client and the provider for `setup`. Throws an `Error` when the sandbox is needed but not
 * given, and what `fetchSandboxClientOptions` or the client's constructor throws (the sandbox
 * unreachable, a key that is not PEM).
 */
export async function createWechatPay(
  setup: WechatPaySetup,
): Promise<{ client: WechatPayClient; provider: WechatPayProvider }> {
  let options: WechatPayClientOptions;
  const { merchant, baseUrl } = setup.wechatpay;
  if (baseUrl !== undefined && merchant !== undefined) {
    options = {
      baseUrl,
      mchid: merchant.mchid,
      appid: setup.appid,
      merchantSerialNo: merchant.serialNo,
      merchantPrivateKey: merchant.privateKeyPem,
      apiV3Key: merchant.apiV3Key,
      platformPublicKey: merchant.publicKey,
      platformCertificates: true,
    };
  } else {
    if (!setup.sandbox) throw new Error('WeChat Pay without WECHATPAY_BASE_URL needs the sandbox');
    options = setup.sandbox.keys
      ? clientOptionsFromSandboxKeys(setup.sandbox.url, await setup.sandbox.keys())
      : await fetchSandboxClientOptions(setup.sandbox.url);
  }
  const client = new WechatPayClient({
    ...options,
    timeoutMs: setup.timeoutMs,
    now: setup.now,
    onCertificateDownload: setup.onCertificateDownload,
  });
  return { client, provider: new WechatPayProvider({ client, notifyUrl: setup.notifyUrl }) };
}

export { WechatPayProvider } from './provider';
export { WechatPayClient } from './client';
export type { CertificateDownloadOutcome, CertificateDownloadReport } from './client';
