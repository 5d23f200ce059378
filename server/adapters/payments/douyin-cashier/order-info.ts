import { createHash } from 'node:crypto';
import { AppError } from '../../../domain/errors';
import type { DouyinCashier, DouyinOrderInfo, DouyinOrderInfoRequest } from '../../../domain/ports';

/**
 * Douyin's `tt.pay` `orderInfo` signature (server side only): drop `sign`, `risk_info` and
 * every empty value; sort the remaining keys by ASCII; join `key=value` with `&`, values raw
 * (not URL-encoded, `alipay_url` verbatim); append the pay secret with no separator; MD5,
 * lowercase hex. `risk_info` is added after signing.
 */
export function signOrderInfo(
  fields: Readonly<Record<string, string | number | undefined>>,
  paySecret: string,
): string {
  const canonical = Object.keys(fields)
    .filter((key) => key !== 'sign' && key !== 'risk_info')
    .filter((key) => fields[key] !== undefined && String(fields[key]) !== '')
    .sort()
    .map((key) => `${key}=${String(fields[key])}`)
    .join('&');
  return createHash('md5')
    .update(canonical + paySecret, 'utf8')
    .digest('hex');
}

export interface DouyinCashierOptions {
  payAppId: string;
  merchantId: string;
  paySecret: string;
}

const epochSeconds = (at: Date) => Math.floor(at.getTime() / 1000);

/** Douyin's cashier refuses a `uid` longer than this (its FAQ: CD0011; payments-beyond.md). */
export const DOUYIN_UID_MAX_LENGTH = 32;

/**
 * Douyin's `uid` for a shopper: the first 32 hex digits (128 bits) of SHA-256 over a fixed label
 * and the openid. Douyin openids run to 36 characters and more, past the cashier's 32 (CD0011).
 * A hash is the same for one shopper on every call, instance and restart with no stored
 * mapping; 128 bits make two shoppers sharing one `uid` practically impossible; and the openid,
 * which the shopper's client and Douyin's cashier pages would otherwise carry, is not
 * recoverable from it. Unkeyed on purpose: a key such as the pay secret would change every
 * shopper's `uid` whenever it is rotated, and would hide nothing from Douyin, which holds that
 * secret and issued the openid in the first place.
 */
export function douyinCashierUid(openid: string): string {
  return createHash('sha256')
    .update(`douyin-cashier-uid:${openid}`, 'utf8')
    .digest('hex')
    .slice(0, DOUYIN_UID_MAX_LENGTH);
}

/**
 * Every field Douyin documents for `orderInfo` (seed 002, platform-facts.md), signed. Guards
 * the legacy cashier's FAQ refusals (payments-beyond.md, "Douyin mini-program payment"):
 * - TS4113 (`trade_time + valid_time` already past): `trade_time` is the order's creation and
 *   `valid_time` runs from it to the order's deadline, so their sum is that deadline, whenever
 *   the shopper pays; an order whose deadline is not after `now` gets no `orderInfo`;
 * - CD0015 (one order sent with two `trade_time`s): `trade_time` comes from the stored order,
 *   never from the clock;
 * - CD0011 (`uid` over 32 characters): `uid` is `douyinCashierUid(openid)`.
 */
export class SignedDouyinCashier implements DouyinCashier {
  constructor(private readonly options: DouyinCashierOptions) {}

  /** Throws AppError ORDER_EXPIRED when `expiresAt`, in whole seconds, is not after `now`. */
  orderInfo(request: DouyinOrderInfoRequest): DouyinOrderInfo {
    const tradeTime = epochSeconds(request.createdAt);
    const deadline = epochSeconds(request.expiresAt);
    if (deadline <= epochSeconds(request.now)) {
      throw new AppError('ORDER_EXPIRED', `Order ${request.orderNo} has expired: create a new order`);
    }
    const fields: Record<string, string | number> = {
      app_id: this.options.payAppId,
      merchant_id: this.options.merchantId,
      sign_type: 'MD5',
      timestamp: String(epochSeconds(request.now)),
      version: '2.0',
      trade_type: 'H5',
      product_code: 'pay',
      payment_type: 'direct',
      out_order_no: request.orderNo,
      uid: douyinCashierUid(request.openid),
      total_amount: request.amount,
      currency: 'CNY',
      subject: request.subject,
      body: request.body,
      trade_time: String(tradeTime),
      valid_time: String(deadline - tradeTime),
      notify_url: request.notifyUrl,
    };
    if (request.wxUrl) {
      fields.wx_url = request.wxUrl;
      fields.wx_type = 'MWEB';
    }
    if (request.alipayUrl) fields.alipay_url = request.alipayUrl;
    const signed: DouyinOrderInfo = { ...fields, sign: signOrderInfo(fields, this.options.paySecret) };
    if (request.clientIp) signed.risk_info = JSON.stringify({ ip: request.clientIp });
    return signed;
  }
}
