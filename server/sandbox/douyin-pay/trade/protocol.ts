import { createSign, createVerify, randomBytes } from 'node:crypto';

/**
 * The emulated 通用交易系统's side of the protocol (payments-beyond.md, "Douyin mini-program
 * payment", 通用交易系统), written apart from the server's adapter so that the two check each other:
 * Douyin's paths, its reading of `byteAuthorization`, and its callback signature.
 */

export const CLIENT_TOKEN_PATH = '/oauth/client_token/';
export const ORDER_QUERY_PATH = '/api/trade_basic/v1/developer/order_query/';
/** Confirmed for queries only; `refund_create/` follows the same naming (unconfirmed). */
export const REFUND_CREATE_PATH = '/api/trade_basic/v1/developer/refund_create/';
export const REFUND_QUERY_PATH = '/api/trade_basic/v1/developer/refund_query/';

/** The sandbox's err_no for "no such order" (Douyin's own is unconfirmed). */
export const ORDER_NOT_FOUND = 28_001_004;

/**
 * Why `byteAuthorization` does not verify `data` for this app, or undefined: the scheme
 * `SHA256-RSA2048 appid=…,nonce_str=…,timestamp=…,key_version=…,signature=…`, the AppID, the
 * uploaded key's version, a timestamp within `maxSkewS` of `nowS`, and the base64 RSA-SHA256
 * signature with the app public key over `POST\n/requestOrder\n<timestamp>\n<nonce_str>\n<data>\n`.
 */
export function byteAuthorizationProblem(
  byteAuthorization: string,
  data: string,
  expected: { appId: string; keyVersion: string; appPublicKey: string; nowS: number; maxSkewS: number },
): string | undefined {
  const match = /^SHA256-RSA2048 (.*)$/.exec(byteAuthorization);
  const parts = new Map<string, string>();
  for (const item of match?.[1].split(',') ?? []) {
    const at = item.indexOf('=');
    if (at > 0) parts.set(item.slice(0, at), item.slice(at + 1));
  }
  const [appid, nonce, timestamp, keyVersion, signature] = [
    'appid',
    'nonce_str',
    'timestamp',
    'key_version',
    'signature',
  ].map((name) => parts.get(name));
  if (!appid || !nonce || !timestamp || !keyVersion || !signature) {
    return 'byteAuthorization is not SHA256-RSA2048 appid=…,nonce_str=…,timestamp=…,key_version=…,signature=…';
  }
  if (appid !== expected.appId) return `appid ${appid} is not this mini-program's`;
  if (keyVersion !== expected.keyVersion)
    return `key_version ${keyVersion} is not the uploaded key's (${expected.keyVersion})`;
  if (!/^\d+$/.test(timestamp) || Math.abs(expected.nowS - Number(timestamp)) > expected.maxSkewS) {
    return `timestamp ${timestamp} is more than ${expected.maxSkewS} s from now`;
  }
  let verifies: boolean;
  try {
    verifies = createVerify('RSA-SHA256')
      .update(`POST\n/requestOrder\n${timestamp}\n${nonce}\n${data}\n`, 'utf8')
      .verify(expected.appPublicKey, signature, 'base64');
  } catch {
    verifies = false;
  }
  return verifies ? undefined : 'the signature does not verify with the uploaded app public key';
}

/** A callback's `Byte-*` headers: RSA-SHA256 with the platform private key over `timestamp\nnonce\nbody\n`. */
export function callbackHeaders(body: string, platformPrivateKey: string, nowS: number): Record<string, string> {
  const timestamp = String(Math.floor(nowS));
  const nonce = randomBytes(16).toString('hex');
  return {
    'Byte-Timestamp': timestamp,
    'Byte-Nonce-Str': nonce,
    'Byte-Signature': createSign('RSA-SHA256')
      .update(`${timestamp}\n${nonce}\n${body}\n`, 'utf8')
      .sign(platformPrivateKey, 'base64'),
    'Byte-Logid': randomBytes(12).toString('hex'),
  };
}
