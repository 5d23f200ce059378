import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { DEFAULT_WECHAT_MCH_ID } from '../../server/sandbox';
import { generateSandboxKeys, type WechatPaySandboxKeys } from '../../server/sandbox/wechatpay';
import { transactionResource } from '../../server/sandbox/wechatpay/notify';
import { encryptResource, signatureHeaders } from '../../server/sandbox/wechatpay/protocol';
import { channelTradeNo } from '../../server/sandbox/shared/random';
import { rfc3339China } from '../../server/sandbox/wechatpay/time';
import { startServerProcess, type RunningServer } from './processes';

/** WeChat Pay in a benchmark: the sandbox in its own process, its keys, and the server's settings for it. */
export interface WechatPayDouble {
  /** `bench/wechatpay-double.ts`: WeChat Pay APIv3 and the WeChat login, at `double.url`. */
  double: RunningServer;
  /** Every key, the platform's private ones included (notifications are signed with them). */
  keys: WechatPaySandboxKeys;
  /**
   * What makes a checkout server open mini-program bills at the double as a merchant would at
   * WeChat Pay: `WEAPP_PAYMENT_PROVIDER=wechatpay`, `WECHATPAY_BASE_URL` and the merchant's
   * credentials (the private key as a file). No 微信支付公钥 is configured: the server downloads
   * the platform certificate from `/v3/certificates` to verify what the double signs.
   */
  serverEnv: Record<string, string>;
}

/**
 * Generates a set of sandbox keys for the development mini-program (`wxsandbox00000001`, 商户号
 * 1900000001), writes them and the merchant's private key into `scratch`, and starts the double
 * with them.
 */
export async function startWechatPayDouble(scratch: string): Promise<WechatPayDouble> {
  const keys = await generateSandboxKeys({ mchid: DEFAULT_WECHAT_MCH_ID, appid: DEVELOPMENT_SECRETS.wechatAppId });
  const keysFile = join(scratch, 'wechatpay-keys.json');
  const privateKeyFile = join(scratch, 'apiclient_key.pem');
  writeFileSync(keysFile, JSON.stringify(keys), { mode: 0o600 });
  writeFileSync(privateKeyFile, keys.merchantPrivateKey, { mode: 0o600 });
  const double = await startServerProcess('bench/wechatpay-double.ts', { BENCH_WECHATPAY_KEYS_FILE: keysFile });
  return {
    double,
    keys,
    serverEnv: {
      WEAPP_PAYMENT_PROVIDER: 'wechatpay',
      WECHATPAY_BASE_URL: double.url,
      WECHATPAY_MCHID: keys.mchid,
      WECHATPAY_SERIAL_NO: keys.serialNo,
      WECHATPAY_APIV3_KEY: keys.apiV3Key,
      WECHATPAY_PRIVATE_KEY_FILE: privateKeyFile,
    },
  };
}

/** A notification as it reaches the merchant: its `Wechatpay-*` headers and its exact body. */
export interface SignedNotification {
  headers: Record<string, string>;
  body: string;
}

/**
 * TRANSACTION.SUCCESS for a payment of `total` fen of the bill `outTradeNo` (order `orderNo`
 * in `attach`), made as the sandbox makes it (`server/sandbox/wechatpay/notify.ts`): the
 * transaction as "查询订单" shows it, AEAD_AES_256_GCM-encrypted with the APIv3 key in the
 * envelope, and the body signed at `now` (ms) with the platform certificate's key.
 */
export function paymentNotification(
  keys: WechatPaySandboxKeys,
  payment: { outTradeNo: string; orderNo: string; total: number; openid: string },
  now: number,
): SignedNotification {
  const resource = transactionResource({
    outTradeNo: payment.outTradeNo,
    appid: keys.appid,
    mchid: keys.mchid,
    description: 'bench',
    notifyUrl: 'https://merchant.invalid/api/wechatpay/notify',
    attach: payment.orderNo,
    total: payment.total,
    openid: payment.openid,
    prepayId: 'wx-bench',
    fingerprint: '',
    createdAt: now,
    tradeState: 'SUCCESS',
    transactionId: channelTradeNo('4200'),
    successTime: now,
    deliveries: [],
  });
  const body = JSON.stringify({
    id: randomUUID(),
    create_time: rfc3339China(now),
    resource_type: 'encrypt-resource',
    event_type: 'TRANSACTION.SUCCESS',
    summary: '支付成功',
    resource: {
      original_type: 'transaction',
      ...encryptResource(JSON.stringify(resource), keys.apiV3Key, 'transaction'),
    },
  });
  return { headers: signatureHeaders(keys, body, now), body };
}
