import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The two signatures of Douyin's 担保支付 (payments-beyond.md, "Douyin mini-program payment" →
 * 担保支付; Douyin's 担保支付 pages "请求签名" and "回调签名").
 */

/** Request parameters `sign` leaves out: who is asking, the signature itself, and the split settlement. */
const UNSIGNED_PARAMETERS = new Set(['app_id', 'thirdparty_id', 'sign', 'other_settle_params']);

/**
 * A parameter's value as it enters the request signature: an object (e.g. `expand_order_info`)
 * as its JSON text, anything else as text; trimmed, and one pair of surrounding double quotes
 * taken off. Undefined when it is left out (empty, or the text `null`).
 */
function signedValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  let text = (typeof value === 'string' ? value : JSON.stringify(value)).trim();
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1).trim();
  return text === '' || text === 'null' ? undefined : text;
}

/**
 * The request `sign` of every 担保支付 server API call (`create_order`, `query_order`,
 * `create_refund`, `query_refund`, …): every parameter's value except `app_id`,
 * `thirdparty_id`, `sign` and `other_settle_params`, as `signedValue` writes it, plus the SALT;
 * sorted (by UTF-16 code unit: the values are compared as text, never by their keys); joined
 * with `&`; MD5, lowercase hex.
 */
export function ecpayRequestSign(params: Readonly<Record<string, unknown>>, salt: string): string {
  const values: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (UNSIGNED_PARAMETERS.has(key)) continue;
    const text = signedValue(value);
    if (text !== undefined) values.push(text);
  }
  values.push(salt);
  values.sort();
  return createHash('md5').update(values.join('&'), 'utf8').digest('hex');
}

/** What a callback's `msg_signature` covers: the fields as sent (`msg` the exact JSON text). */
export interface EcpayCallbackSigned {
  timestamp: string;
  nonce: string;
  msg: string;
}

/**
 * A callback's `msg_signature`: SHA-1, lowercase hex, of the token, `timestamp`, `nonce` and
 * `msg` sorted as text and concatenated with nothing between them.
 */
export function ecpayCallbackSignature(signed: EcpayCallbackSigned, token: string): string {
  const parts = [token, signed.timestamp, signed.nonce, signed.msg].sort();
  return createHash('sha1').update(parts.join(''), 'utf8').digest('hex');
}

/** Whether `signature` is the callback's `msg_signature`, compared in constant time. */
export function isEcpayCallbackSignature(signed: EcpayCallbackSigned, token: string, signature: string): boolean {
  const expected = Buffer.from(ecpayCallbackSignature(signed, token), 'utf8');
  const given = Buffer.from(signature.toLowerCase(), 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}
