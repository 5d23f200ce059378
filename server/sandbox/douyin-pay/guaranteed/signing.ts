import { createHash } from 'node:crypto';

/**
 * The sandbox's own reading of 担保支付's two signatures (payments-beyond.md, "Douyin mini-program
 * payment" → 担保支付), written apart from the adapter's so that each checks the other.
 */

const LEFT_OUT = ['app_id', 'thirdparty_id', 'sign', 'other_settle_params'];

/** The request `sign` Douyin expects for `params` (a parsed request body) with `salt`. */
export function expectedRequestSign(params: Record<string, unknown>, salt: string): string {
  const parts = Object.keys(params)
    .filter((key) => !LEFT_OUT.includes(key))
    .map((key) => {
      const value = params[key];
      if (value === null || value === undefined) return '';
      let text = typeof value === 'string' ? value : JSON.stringify(value);
      text = text.trim();
      if (text.length > 1 && text[0] === '"' && text[text.length - 1] === '"')
        text = text.substring(1, text.length - 1).trim();
      return text === 'null' ? '' : text;
    })
    .filter((text) => text.length > 0);
  parts.push(salt);
  parts.sort();
  return createHash('md5').update(parts.join('&')).digest('hex');
}

/** A callback's `msg_signature` for its `timestamp`, `nonce` and `msg` with `token`. */
export function callbackSignature(token: string, timestamp: string, nonce: string, msg: string): string {
  return createHash('sha1').update([token, timestamp, nonce, msg].sort().join('')).digest('hex');
}
