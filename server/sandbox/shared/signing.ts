import { createHash, createHmac, createSign, createVerify } from 'node:crypto';
import { privateKeyOf, publicKeyOf } from './parsed-keys';

/**
 * Signatures the emulated services compute, as pure functions: the sandbox uses them to
 * sign what it sends and check what it receives, and tests use them to compute the same
 * values independently of the code under test.
 */

/** MD5 of a UTF-8 string, lowercase hex. */
export function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/**
 * The gateway's request signature (seed 001 §4): `md5(app_id + timestamp + secret)`, 32 hex.
 * `secret` is the app secret, the test secret on `/2/rest/sandbox/*`, or the master secret
 * for refunds. The gateway compares it case-insensitively; this returns lowercase.
 */
export function gatewayAppSign(appId: string, timestamp: number | string, secret: string): string {
  return md5Hex(`${appId}${timestamp}${secret}`);
}

export interface GatewayWebhookSignatureInput {
  appId: string;
  transactionId: string;
  transactionType: string;
  channelType: string;
  transactionFee: number;
  masterSecret: string;
}

/**
 * The gateway's webhook signature (seed 001 §3.3.1):
 * `md5(app_id + transaction_id + transaction_type + channel_type + transaction_fee + master_secret)`,
 * lowercase hex, the fee written as a plain integer.
 */
export function gatewayWebhookSignature(input: GatewayWebhookSignatureInput): string {
  return md5Hex(
    `${input.appId}${input.transactionId}${input.transactionType}${input.channelType}` +
      `${Math.trunc(input.transactionFee)}${input.masterSecret}`,
  );
}

export type WechatPaySignType = 'MD5' | 'HMAC-SHA256';

/**
 * WeChat Pay v2 signature, as used for `wx.requestPayment`'s `paySign`: drop `sign` and
 * every empty value, sort the keys by ASCII, join `key=value` with `&`, append
 * `&key=<merchant key>`, then MD5 (or HMAC-SHA256 keyed with the merchant key), UPPERCASE hex.
 * For `wx.requestPayment` the keys are `appId, nonceStr, package, signType, timeStamp`.
 */
export function wechatPaySign(
  params: Record<string, string | number | undefined | null>,
  key: string,
  signType: WechatPaySignType = 'MD5',
): string {
  const text = `${canonicalQuery(params, ['sign', 'paySign'])}&key=${key}`;
  const digest =
    signType === 'MD5'
      ? createHash('md5').update(text, 'utf8').digest('hex')
      : createHmac('sha256', key).update(text, 'utf8').digest('hex');
  return digest.toUpperCase();
}

/** `k=v&k=v` over the non-empty values, keys sorted by ASCII, values raw (not URL-encoded). */
export function canonicalQuery(
  params: Record<string, string | number | undefined | null>,
  exclude: readonly string[] = [],
): string {
  return Object.keys(params)
    .filter((name) => !exclude.includes(name))
    .filter((name) => {
      const value = params[name];
      return value !== undefined && value !== null && String(value) !== '';
    })
    .sort()
    .map((name) => `${name}=${String(params[name])}`)
    .join('&');
}

/**
 * Alipay App order string (`alipay.trade.app.pay`): the request parameters, each value
 * URL-encoded, keys sorted, followed by `sign`, an RSA2 (SHA256withRSA) signature over
 * the sorted raw `k=v` string of every parameter but `sign`.
 */
export function alipayOrderString(params: Record<string, string>, privateKeyPem: string): string {
  const signature = createSign('RSA-SHA256')
    .update(canonicalQuery(params, ['sign']), 'utf8')
    .sign(privateKeyOf(privateKeyPem), 'base64');
  const encoded = Object.keys(params)
    .filter((name) => name !== 'sign' && params[name] !== '')
    .sort()
    .map((name) => `${name}=${encodeURIComponent(params[name])}`);
  return [...encoded, `sign=${encodeURIComponent(signature)}`].join('&');
}

/** Decodes an Alipay order string and checks its RSA2 signature with the given public key. */
export function verifyAlipayOrderString(
  orderString: string,
  publicKeyPem: string,
): { valid: boolean; params: Record<string, string> } {
  const params: Record<string, string> = {};
  for (const pair of orderString.split('&')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    params[pair.slice(0, at)] = decodeURIComponent(pair.slice(at + 1).replace(/\+/g, ' '));
  }
  const signature = params.sign;
  if (!signature) return { valid: false, params };
  const valid = createVerify('RSA-SHA256')
    .update(canonicalQuery(params, ['sign']), 'utf8')
    .verify(publicKeyOf(publicKeyPem), signature, 'base64');
  return { valid, params };
}
