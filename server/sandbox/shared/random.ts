import { randomBytes, randomInt, randomUUID } from 'node:crypto';

/** Random values shaped like the ones the real services hand out. */

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const OPENID_ALPHABET = `${ALPHANUMERIC}_-`;
const LOWER_HEX = '0123456789abcdef';
const DIGITS = '0123456789';

export function randomString(length: number, alphabet: string = ALPHANUMERIC): string {
  let out = '';
  for (let i = 0; i < length; i += 1) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** A gateway record id (the manual's examples are UUIDs). */
export function recordId(): string {
  return randomUUID();
}

/** A mini-program openid: 28 characters starting with `o`, like `oPSDwtwFnD54dB_ggPFGBO_KMdpo`. */
export function openid(): string {
  return `o${randomString(27, OPENID_ALPHABET)}`;
}

/** A `wx.login` code: 32 alphanumerics. */
export function loginCode(): string {
  return randomString(32);
}

/** A WeChat `session_key`: base64 of 16 random bytes (24 characters). */
export function sessionKey(): string {
  return randomBytes(16).toString('base64');
}

/** A WeChat Pay nonce (≤ 32 characters). */
export function nonceStr(): string {
  return randomString(32);
}

/** `wx` + 14-digit China time + 20 hex, the shape of a WeChat Pay prepay id. */
export function prepayId(chinaStamp14: string): string {
  return `wx${chinaStamp14}${randomString(20, LOWER_HEX)}`;
}

/** A 28-digit channel transaction number (WeChat `transaction_id`, Alipay `trade_no`) starting with `head`. */
export function channelTradeNo(head: string): string {
  return head + randomString(28 - head.length, DIGITS);
}

/** A numeric id of the given length, e.g. an Alipay `2088…` user id. */
export function digits(length: number): string {
  return randomString(length, DIGITS);
}
