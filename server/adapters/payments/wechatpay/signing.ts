import { CANONICAL_BASE64, readSigningHeaders, type MessageHeaders } from '../signed-headers';
import { createSign, createVerify, randomBytes, type KeyObject } from 'node:crypto';
import { echoed } from '../../../domain/text';
import { WechatPayVerificationError } from './errors';

/**
 * The signatures of WeChat Pay APIv3 (pay.weixin.qq.com, "签名生成", "签名验证", "小程序调起支付
 * API"; summarised in payments-beyond.md, "WeChat Pay APIv3"): every one is base64 of
 * RSA-SHA256 (PKCS#1 v1.5) over lines each ended by `\n`.
 */

/** The scheme of the `Authorization` header ("签名生成"). */
export const AUTHORIZATION_SCHEME = 'WECHATPAY2-SHA256-RSA2048';

/**
 * How far a `Wechatpay-Timestamp` may be from our clock, in seconds. WeChat's pages tell
 * merchants to refuse answers and notifications whose timestamp is far from the local time to
 * stop replays; five minutes is what its own SDKs allow.
 */
export const DEFAULT_MAX_SKEW_SECONDS = 300;

/** Joins the parts with `\n` after each one, the form every APIv3 signature covers. */
export function signedLines(...parts: string[]): string {
  return parts.map((part) => `${part}\n`).join('');
}

/** base64 RSA-SHA256 of `message` (UTF-8) with `privateKey`. */
export function rsaSha256Sign(message: string, privateKey: KeyObject): string {
  return createSign('RSA-SHA256').update(message, 'utf8').sign(privateKey, 'base64');
}

/** Whether `signature` (base64) is an RSA-SHA256 signature of `message` by `publicKey`. */
export function rsaSha256Verify(message: string, signature: string, publicKey: KeyObject): boolean {
  try {
    return createVerify('RSA-SHA256').update(message, 'utf8').verify(publicKey, signature, 'base64');
  } catch {
    return false;
  }
}

/** A nonce of 32 letters and digits (`nonce_str`: at most 32 characters). */
export function newNonce(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(32)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

/** The merchant's signing identity: 商户号, its API certificate's serial and private key. */
export interface MerchantCredentials {
  mchid: string;
  /** The serial number of the merchant's API certificate (hex, as the merchant platform shows it). */
  serialNo: string;
  privateKey: KeyObject;
}

/**
 * The `Authorization` header of a request ("签名生成"): the signature covers
 * `METHOD\nPATH_WITH_QUERY\nTIMESTAMP\nNONCE\nBODY\n`, with an empty body for a GET.
 * `timestamp` is in seconds.
 */
export function authorizationHeader(
  merchant: MerchantCredentials,
  request: { method: string; pathWithQuery: string; body: string },
  stamp: { timestamp: number; nonce: string } = {
    timestamp: Math.floor(Date.now() / 1000),
    nonce: newNonce(),
  },
): string {
  const message = signedLines(
    request.method,
    request.pathWithQuery,
    String(stamp.timestamp),
    stamp.nonce,
    request.body,
  );
  const signature = rsaSha256Sign(message, merchant.privateKey);
  return (
    `${AUTHORIZATION_SCHEME} mchid="${merchant.mchid}",nonce_str="${stamp.nonce}",` +
    `signature="${signature}",timestamp="${stamp.timestamp}",serial_no="${merchant.serialNo}"`
  );
}

/**
 * The fields of `wx.requestPayment` for a mini-program prepay ("小程序调起支付签名"): `paySign`
 * covers `appId\ntimeStamp\nnonceStr\npackage\n` and `signType` is `RSA`. `timeStamp` is a string
 * of seconds (platform-facts.md, "WeChat mini-program").
 */
export interface RequestPaymentFields {
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: 'RSA';
  paySign: string;
}

/** Signs the `wx.requestPayment` fields of `prepayId` for the mini-program `appId`; `timestamp` in seconds. */
export function requestPaymentFields(
  appId: string,
  prepayId: string,
  privateKey: KeyObject,
  stamp: { timestamp: number; nonce: string } = {
    timestamp: Math.floor(Date.now() / 1000),
    nonce: newNonce(),
  },
): RequestPaymentFields {
  const pkg = `prepay_id=${prepayId}`;
  const timeStamp = String(stamp.timestamp);
  return {
    timeStamp,
    nonceStr: stamp.nonce,
    package: pkg,
    signType: 'RSA',
    paySign: rsaSha256Sign(signedLines(appId, timeStamp, stamp.nonce, pkg), privateKey),
  };
}

/** The four headers WeChat Pay signs its answers and notifications with ("签名验证"). */
export interface WechatpaySignatureHeaders {
  timestamp: string;
  nonce: string;
  signature: string;
  serial: string;
}

export type { MessageHeaders };

const SIGNING_HEADERS = ['timestamp', 'nonce', 'signature', 'serial'] as const;

/**
 * Reads `Wechatpay-Timestamp`, `-Nonce`, `-Signature` and `-Serial` from headers keyed in any
 * case. Throws `WechatPayVerificationError` `MISSING_HEADERS` when one is absent or empty, and
 * `REPEATED_HEADERS` when one came more than once (a list of values, or one name in two cases):
 * "签名验证" signs one value of each, and a message bringing two cannot say which one it means.
 */
export function readSignatureHeaders(headers: MessageHeaders): WechatpaySignatureHeaders {
  const read = readSigningHeaders(
    headers,
    SIGNING_HEADERS.map((name) => `wechatpay-${name}` as const),
  );
  const named = (names: readonly string[]) => names.map((name) => headerName(name.slice('wechatpay-'.length)));
  if (read.repeated.length > 0) {
    throw new WechatPayVerificationError(
      'REPEATED_HEADERS',
      `more than one ${named(read.repeated).join(', ')}: not verifiable`,
    );
  }
  if (read.missing.length > 0)
    throw new WechatPayVerificationError('MISSING_HEADERS', `missing ${named(read.missing).join(', ')}`);
  return {
    timestamp: read.values['wechatpay-timestamp'],
    nonce: read.values['wechatpay-nonce'],
    signature: read.values['wechatpay-signature'],
    serial: read.values['wechatpay-serial'],
  };
}

function headerName(name: string): string {
  return `Wechatpay-${name[0].toUpperCase()}${name.slice(1)}`;
}

/** Finds the public key a `Wechatpay-Serial` names, or throws `UNKNOWN_SERIAL`. */
export type VerificationKeyLookup = (serial: string) => Promise<KeyObject>;

export interface VerifyOptions {
  /** Our clock, ms. @default Date.now */
  now?: () => number;
  /** @default DEFAULT_MAX_SKEW_SECONDS */
  maxSkewSeconds?: number;
}

/**
 * Verifies a signed answer or notification ("签名验证"): the timestamp within the skew first
 * (a stale message never costs a certificate download), then the key the serial names, then
 * the signature over `TIMESTAMP\nNONCE\nBODY\n` with `body` exactly as received.
 * Throws `WechatPayVerificationError` (`MISSING_HEADERS`, `REPEATED_HEADERS`, `STALE_TIMESTAMP`,
 * `UNKNOWN_SERIAL`, `BAD_SIGNATURE`, also for a signature that is not canonical base64).
 */
export async function verifySignedMessage(
  headers: MessageHeaders,
  body: string,
  keyFor: VerificationKeyLookup,
  options: VerifyOptions = {},
): Promise<WechatpaySignatureHeaders> {
  const signed = readSignatureHeaders(headers);
  const nowSeconds = Math.floor((options.now ?? Date.now)() / 1000);
  const maxSkew = options.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS;
  if (!/^\d{1,12}$/.test(signed.timestamp) || Math.abs(nowSeconds - Number(signed.timestamp)) > maxSkew) {
    throw new WechatPayVerificationError(
      'STALE_TIMESTAMP',
      `Wechatpay-Timestamp ${JSON.stringify(signed.timestamp.slice(0, 20))} is not within ${maxSkew} s of ${nowSeconds}`,
    );
  }
  if (!CANONICAL_BASE64.test(signed.signature)) {
    throw new WechatPayVerificationError('BAD_SIGNATURE', 'Wechatpay-Signature is not one base64 signature');
  }
  const key = await keyFor(signed.serial);
  if (!rsaSha256Verify(signedLines(signed.timestamp, signed.nonce, body), signed.signature, key)) {
    throw new WechatPayVerificationError(
      'BAD_SIGNATURE',
      `Wechatpay-Signature does not verify with ${echoed(signed.serial)}`,
    );
  }
  return signed;
}
