import { createHash } from 'node:crypto';
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

const toSeconds = (at: Date) => String(Math.floor(at.getTime() / 1000));

/** Every field Douyin documents for `orderInfo` (seed 002, platform-facts.md), signed. */
export class SignedDouyinCashier implements DouyinCashier {
  constructor(private readonly options: DouyinCashierOptions) {}

  orderInfo(request: DouyinOrderInfoRequest): DouyinOrderInfo {
    const fields: Record<string, string | number> = {
      app_id: this.options.payAppId,
      merchant_id: this.options.merchantId,
      sign_type: 'MD5',
      timestamp: toSeconds(request.now),
      version: '2.0',
      trade_type: 'H5',
      product_code: 'pay',
      payment_type: 'direct',
      out_order_no: request.orderNo,
      uid: request.uid,
      total_amount: request.amount,
      currency: 'CNY',
      subject: request.subject,
      body: request.body,
      trade_time: toSeconds(request.tradeTime),
      valid_time: String(request.validSeconds),
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
