import { AppError } from '../../../domain/errors';
import { CANONICAL_BASE64, readSigningHeaders, type MessageHeaders } from '../signed-headers';
import { createPrivateKey, createSign, createVerify, randomBytes, type KeyObject } from 'node:crypto';

/**
 * The signatures of Douyin's 通用交易系统 (payments-beyond.md, "Douyin mini-program payment",
 * 通用交易系统; developer.open-douyin.com, 小程序 → 支付 → 通用交易系统 → "签名算法"), written here
 * from those descriptions:
 * - `byteAuthorization`, which `tt.requestOrder` carries: `SHA256-RSA2048 appid=…,nonce_str=…,
 *   timestamp=…,key_version=…,signature=…`, `signature` being base64 RSA-SHA256 (PKCS#1 v1.5)
 *   with the app private key over `POST\n/requestOrder\n<timestamp>\n<nonce_str>\n<data>\n`;
 * - callbacks: base64 RSA-SHA256 with Douyin's platform private key over
 *   `<Byte-Timestamp>\n<Byte-Nonce-Str>\n<body>\n`, sent as `Byte-Signature`.
 * Timestamps are whole seconds since 1970.
 */

/** The method and path `byteAuthorization` signs for `tt.requestOrder`. */
const REQUEST_ORDER_METHOD = 'POST';
const REQUEST_ORDER_PATH = '/requestOrder';

/**
 * What `appid`, `nonce_str`, `timestamp` and `key_version` may hold in a `byteAuthorization`:
 * letters, digits, `.`, `_` and `-`, 1 to 64 of them. The header is `name=value` pairs joined by
 * `,` with nothing escaped, so a value holding `,` or `=` would be read as parts of its own (a
 * `key_version` of `1,signature=x` names a second signature) and whitespace ends the value for
 * some readers. Douyin's AppIDs (`tt` and hex) and key versions (small numbers) fit.
 */
export const PLAIN_AUTHORIZATION_VALUE = /^[A-Za-z0-9._-]{1,64}$/;

/** The parts of a `byteAuthorization`. */
export interface ByteAuthorization {
  appid: string;
  nonceStr: string;
  /** Seconds since 1970, as text. */
  timestamp: string;
  keyVersion: string;
  /** Base64. */
  signature: string;
}

/** The text `byteAuthorization`'s signature covers for `tt.requestOrder` with `data`. */
export function requestOrderMessage(timestamp: string, nonceStr: string, data: string): string {
  return `${REQUEST_ORDER_METHOD}\n${REQUEST_ORDER_PATH}\n${timestamp}\n${nonceStr}\n${data}\n`;
}

/**
 * Signs `data` (the order JSON text exactly as handed to `tt.requestOrder`) with the app private
 * key: the whole `byteAuthorization` value. `nowSeconds` and `nonceStr` are fresh unless given
 * (tests). Throws AppError INTERNAL when the key is not an RSA private key (Node would sign with
 * an EC key under `RSA-SHA256` without a word, and Douyin would refuse what claims
 * `SHA256-RSA2048`) or a part cannot be written (see `formatByteAuthorization`): configuration
 * mistakes, refused at boot.
 */
export function signRequestOrder(options: {
  data: string;
  appid: string;
  keyVersion: string;
  privateKey: KeyObject | string;
  nowSeconds: number;
  nonceStr?: string;
}): string {
  const timestamp = String(Math.floor(options.nowSeconds));
  const nonceStr = options.nonceStr ?? randomBytes(16).toString('hex');
  const key = typeof options.privateKey === 'string' ? createPrivateKey(options.privateKey) : options.privateKey;
  if (key.type !== 'private' || key.asymmetricKeyType !== 'rsa') {
    throw new AppError(
      'INTERNAL',
      'byteAuthorization is signed SHA256-RSA2048: the app key must be an RSA private key',
      {
        provider: 'douyin_trade',
        keyType: `${key.asymmetricKeyType ?? 'unknown'} ${key.type}`,
      },
    );
  }
  const signature = createSign('RSA-SHA256')
    .update(requestOrderMessage(timestamp, nonceStr, options.data), 'utf8')
    .sign(key, 'base64');
  return formatByteAuthorization({
    appid: options.appid,
    nonceStr,
    timestamp,
    keyVersion: options.keyVersion,
    signature,
  });
}

/**
 * `SHA256-RSA2048 appid=…,nonce_str=…,timestamp=…,key_version=…,signature=…`. Throws AppError
 * INTERNAL when a part would change what the header says: `appid`, `nonce_str`, `timestamp` or
 * `key_version` beyond `PLAIN_AUTHORIZATION_VALUE`, or a `signature` that is not canonical base64.
 */
export function formatByteAuthorization(parts: ByteAuthorization): string {
  const plain = {
    appid: parts.appid,
    nonce_str: parts.nonceStr,
    timestamp: parts.timestamp,
    key_version: parts.keyVersion,
  };
  const unwritable = Object.entries(plain)
    .filter(([, value]) => !PLAIN_AUTHORIZATION_VALUE.test(value))
    .map(([name]) => name);
  if (!CANONICAL_BASE64.test(parts.signature)) unwritable.push('signature');
  if (unwritable.length > 0) {
    // The values are not quoted: the message reaches logs, and what is wrong is their shape.
    throw new AppError(
      'INTERNAL',
      `byteAuthorization cannot carry this ${unwritable.join(', ')}: it would be read as other parts`,
      {
        provider: 'douyin_trade',
        parts: unwritable,
      },
    );
  }
  return (
    `SHA256-RSA2048 appid=${parts.appid},nonce_str=${parts.nonceStr},timestamp=${parts.timestamp},` +
    `key_version=${parts.keyVersion},signature=${parts.signature}`
  );
}

/**
 * Reads a `byteAuthorization` value; undefined when it is not one (another scheme, a part
 * missing). Base64 signatures may end in `=`, so each part is split at its first `=` only.
 */
export function parseByteAuthorization(value: string): ByteAuthorization | undefined {
  const match = /^SHA256-RSA2048 (.+)$/.exec(value);
  if (!match) return undefined;
  const parts = new Map<string, string>();
  for (const item of match[1].split(',')) {
    const at = item.indexOf('=');
    if (at <= 0) return undefined;
    parts.set(item.slice(0, at).trim(), item.slice(at + 1));
  }
  const appid = parts.get('appid');
  const nonceStr = parts.get('nonce_str');
  const timestamp = parts.get('timestamp');
  const keyVersion = parts.get('key_version');
  const signature = parts.get('signature');
  if (!appid || !nonceStr || !timestamp || !keyVersion || !signature) return undefined;
  return { appid, nonceStr, timestamp, keyVersion, signature };
}

/** Whether `signature` (base64) is `publicKey`'s RSA-SHA256 signature over `message`. Never throws. */
export function verifyRsaSha256(message: string, signature: string, publicKey: KeyObject | string): boolean {
  try {
    return createVerify('RSA-SHA256').update(message, 'utf8').verify(publicKey, signature, 'base64');
  } catch {
    return false;
  }
}

/** The text a callback's `Byte-Signature` covers. */
export function callbackMessage(timestamp: string, nonceStr: string, body: string): string {
  return `${timestamp}\n${nonceStr}\n${body}\n`;
}

/** Signs a callback body as Douyin does (the sandbox): its `Byte-*` headers. */
export function signCallback(
  body: string,
  platformPrivateKey: KeyObject | string,
  nowSeconds: number,
  nonceStr = randomBytes(16).toString('hex'),
): Record<'Byte-Timestamp' | 'Byte-Nonce-Str' | 'Byte-Signature' | 'Byte-Logid', string> {
  const timestamp = String(Math.floor(nowSeconds));
  const signature = createSign('RSA-SHA256')
    .update(callbackMessage(timestamp, nonceStr, body), 'utf8')
    .sign(platformPrivateKey, 'base64');
  return {
    'Byte-Timestamp': timestamp,
    'Byte-Nonce-Str': nonceStr,
    'Byte-Signature': signature,
    'Byte-Logid': randomBytes(12).toString('hex'),
  };
}

/** Why a callback was refused. */
export type CallbackRefusal = 'MISSING_HEADERS' | 'REPEATED_HEADERS' | 'STALE' | 'BAD_SIGNATURE';

/**
 * Checks a callback's `Byte-Timestamp`, `Byte-Nonce-Str` and `Byte-Signature` (headers in lower
 * case) over its exact body with the platform public key; undefined when it verifies, else why
 * not. The timestamp must be within `maxSkewSeconds` of now either way: Douyin's page states no
 * bound (unconfirmed), so this takes WeChat Pay's 5 minutes, which a retry (signed afresh at each
 * attempt, as WeChat's are) always meets.
 */
export function checkCallback(
  headers: MessageHeaders,
  body: string,
  platformPublicKey: KeyObject | string,
  nowSeconds: number,
  maxSkewSeconds: number,
): CallbackRefusal | undefined {
  const read = readSigningHeaders(headers, ['byte-timestamp', 'byte-nonce-str', 'byte-signature']);
  // A header sent twice is two claims, not one: which of them Douyin signed cannot be told.
  if (read.repeated.length > 0) return 'REPEATED_HEADERS';
  if (read.missing.length > 0) return 'MISSING_HEADERS';
  const { 'byte-timestamp': timestamp, 'byte-nonce-str': nonce, 'byte-signature': signature } = read.values;
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > maxSkewSeconds) return 'STALE';
  if (!CANONICAL_BASE64.test(signature)) return 'BAD_SIGNATURE';
  return verifyRsaSha256(callbackMessage(timestamp, nonce, body), signature, platformPublicKey)
    ? undefined
    : 'BAD_SIGNATURE';
}
