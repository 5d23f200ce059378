import { gatewayWebhookSignature } from '../shared/signing';
import { channelTradeNo, digits, nonceStr } from '../shared/random';
import { chinaDate8, chinaDateTime, chinaStamp14 } from '../shared/time';

/**
 * The gateway's webhook message (seed 001 §3.4) and the channel-shaped `message_detail`
 * of its appendix (§3.6). Pure builders: the sandbox sends what they return, and tests
 * use them to craft webhooks of their own.
 */

export type GatewayChannelType = 'WX' | 'ALI';

/** The Alipay `seller_id` (the merchant's 2088… partner id) the sandbox reports for `ALI_*` bills. */
export const SANDBOX_ALIPAY_SELLER_ID = '2088000000000001';
export type WebhookTransactionType = 'PAY' | 'REFUND';
export type PaymentOutcome = 'paid' | 'failed' | 'closed';

export interface GatewayWebhookMessage {
  /** `md5(app_id + transaction_id + transaction_type + channel_type + transaction_fee + master_secret)`, lowercase. */
  signature: string;
  /** Server time of sending, ms. */
  timestamp: number;
  channel_type: GatewayChannelType;
  /** The channel the bill was made with, e.g. `WX_MINI`, `BC_WX_WAP`, `ALI_APP`. */
  sub_channel_type: string;
  transaction_type: WebhookTransactionType;
  /** `bill_no` for PAY, `refund_no` for REFUND. */
  transaction_id: string;
  /** Integer fen: the bill's `total_fee` or the refund's `refund_fee`. */
  transaction_fee: number;
  trade_success: boolean;
  message_detail: Record<string, unknown>;
  optional: Record<string, unknown>;
}

export interface WebhookCredentials {
  /** The gateway app id. */
  appId: string;
  masterSecret: string;
}

/** The aggregate channel (`WX` or `ALI`) of a gateway channel such as `WX_MINI` or `BC_ALI_APP`. */
export function channelTypeOf(channel: string): GatewayChannelType {
  return /^(BC_)?ALI_/.test(channel) ? 'ALI' : 'WX';
}

/** Fen as the yuan string Alipay prints (`1` → `"0.01"`). */
export function fenToYuan(fen: number): string {
  const whole = Math.trunc(fen);
  return `${Math.floor(whole / 100)}.${String(whole % 100).padStart(2, '0')}`;
}

/** Signs the fields of a webhook message with the app's master secret. */
export function signWebhook(
  credentials: WebhookCredentials,
  fields: Omit<GatewayWebhookMessage, 'signature'>,
): GatewayWebhookMessage {
  return {
    signature: gatewayWebhookSignature({
      appId: credentials.appId,
      transactionId: fields.transaction_id,
      transactionType: fields.transaction_type,
      channelType: fields.channel_type,
      transactionFee: fields.transaction_fee,
      masterSecret: credentials.masterSecret,
    }),
    ...fields,
  };
}

export interface PaymentWebhookInput extends WebhookCredentials {
  billNo: string;
  /** The bill's channel, e.g. `WX_MINI`. */
  channel: string;
  totalFee: number;
  outcome: PaymentOutcome;
  title?: string;
  openid?: string;
  /** The channel's transaction number; generated for a paid bill when absent. */
  tradeNo?: string;
  optional?: Record<string, unknown>;
  /** Sending time, ms. Default `Date.now()`. */
  timestamp?: number;
  /** When the bill was created / paid, ms (shown in channel detail). Default `timestamp`. */
  createdAt?: number;
  paidAt?: number;
  /** WeChat app id and merchant id shown in WeChat detail. */
  wechatAppId?: string;
  mchId?: string;
}

/**
 * A PAY webhook for a bill that was paid, failed, or closed. The real gateway only ever
 * sends the paid one (seed 001 §3.1 "支付，代付，退款成功时", §3.4.2 `trade_success`:
 * "目前收到的消息都是交易成功的消息"), and so does the sandbox; failed and closed messages are
 * built for the channel detail that queries show (§4.4.1 `message_detail`) and for tests
 * that forge unusual webhooks.
 */
export function buildPaymentWebhook(input: PaymentWebhookInput): GatewayWebhookMessage {
  const timestamp = input.timestamp ?? Date.now();
  const channelType = channelTypeOf(input.channel);
  const paidAt = input.paidAt ?? timestamp;
  const tradeNo = input.tradeNo ?? (input.outcome === 'paid' ? paymentTradeNo(channelType, paidAt) : undefined);
  const messageDetail =
    channelType === 'WX'
      ? wechatPaymentDetail({ ...input, tradeNo, paidAt })
      : alipayPaymentDetail({ ...input, tradeNo, paidAt, timestamp });
  return signWebhook(input, {
    timestamp,
    channel_type: channelType,
    sub_channel_type: input.channel,
    transaction_type: 'PAY',
    transaction_id: input.billNo,
    transaction_fee: input.totalFee,
    trade_success: input.outcome === 'paid',
    message_detail: messageDetail,
    optional: input.optional ?? {},
  });
}

/** A fresh channel transaction number for a payment made at `paidAt`. */
export function paymentTradeNo(channelType: GatewayChannelType, paidAt: number): string {
  return channelType === 'WX' ? channelTradeNo(`4200${chinaDate8(paidAt)}`) : channelTradeNo(`${chinaDate8(paidAt)}22`);
}

function wechatTradeType(channel: string): string {
  return channel === 'BC_WX_WAP' ? 'MWEB' : 'JSAPI';
}

function wechatPaymentDetail(
  input: PaymentWebhookInput & { tradeNo?: string; paidAt: number },
): Record<string, unknown> {
  const fee = String(Math.trunc(input.totalFee));
  const detail: Record<string, unknown> = {
    return_code: 'SUCCESS',
    result_code: input.outcome === 'failed' ? 'FAIL' : 'SUCCESS',
    trade_state: { paid: 'SUCCESS', failed: 'PAYERROR', closed: 'CLOSED' }[input.outcome],
    appid: input.wechatAppId ?? '',
    mch_id: input.mchId ?? '',
    nonce_str: nonceStr(),
    openid: input.openid ?? '',
    out_trade_no: input.billNo,
    transaction_id: input.tradeNo ?? '',
    total_fee: fee,
    fee_type: 'CNY',
    trade_type: wechatTradeType(input.channel),
    is_subscribe: 'N',
  };
  if (input.outcome === 'paid') {
    Object.assign(detail, { cash_fee: fee, bank_type: 'OTHERS', time_end: chinaStamp14(input.paidAt) });
  } else if (input.outcome === 'failed') {
    Object.assign(detail, { err_code: 'PAYERROR', err_code_des: '支付失败' });
  }
  return detail;
}

function alipayPaymentDetail(
  input: PaymentWebhookInput & { tradeNo?: string; paidAt: number; timestamp: number },
): Record<string, unknown> {
  const yuan = fenToYuan(input.totalFee);
  const detail: Record<string, unknown> = {
    bc_appid: input.appId,
    notify_type: 'trade_status_sync',
    notify_id: nonceStr(),
    notify_time: chinaDateTime(input.timestamp),
    trade_status: input.outcome === 'paid' ? 'TRADE_SUCCESS' : 'TRADE_CLOSED',
    out_trade_no: input.billNo,
    trade_no: input.tradeNo ?? '',
    total_fee: yuan,
    price: yuan,
    quantity: '1',
    subject: input.title ?? '',
    body: input.title ?? '',
    gmt_create: chinaDateTime(input.createdAt ?? input.timestamp),
    payment_type: '1',
    seller_id: SANDBOX_ALIPAY_SELLER_ID,
    seller_email: '',
    buyer_id: `2088${digits(12)}`,
    buyer_email: '',
    discount: '0.00',
    is_total_fee_adjust: 'N',
    use_coupon: 'N',
    sign_type: 'RSA',
    sign: '',
  };
  if (input.outcome === 'paid') detail.gmt_payment = chinaDateTime(input.paidAt);
  return detail;
}

export interface RefundWebhookInput extends WebhookCredentials {
  refundNo: string;
  billNo: string;
  /** The refunded bill's channel, e.g. `WX_MINI`. */
  channel: string;
  refundFee: number;
  totalFee: number;
  /** The bill's channel transaction number. */
  tradeNo?: string;
  optional?: Record<string, unknown>;
  timestamp?: number;
}

/** The webhook input of a refund of a bill, from what the gateway holds of both. */
export function refundWebhookInput(
  credentials: WebhookCredentials,
  refund: { refundNo: string; refundFee: number; optional?: Record<string, unknown> },
  bill: { billNo: string; channel: string; totalFee: number; tradeNo?: string },
  timestamp: number,
): RefundWebhookInput {
  return {
    appId: credentials.appId,
    masterSecret: credentials.masterSecret,
    refundNo: refund.refundNo,
    billNo: bill.billNo,
    channel: bill.channel,
    refundFee: refund.refundFee,
    totalFee: bill.totalFee,
    tradeNo: bill.tradeNo,
    optional: refund.optional,
    timestamp,
  };
}

/**
 * What a refund's channel reports, as `refund_status` of WeChat's refund query: `SUCCESS`,
 * or the failure statuses `REFUNDCLOSE` / `CHANGE` (seed 001 §4.4.5 passes them through).
 */
export type RefundChannelStatus = 'SUCCESS' | 'REFUNDCLOSE' | 'CHANGE';

/**
 * The channel detail of a finished refund (seed 001 §4.4.3 `message_detail`): WeChat's
 * refund result for `WX` bills, Alipay's refund notification for `ALI` bills. A failed
 * Alipay refund carries `fund_change: "N"`, as Alipay's refund answer says no money moved.
 */
export function refundMessageDetail(
  input: RefundWebhookInput,
  status: RefundChannelStatus = 'SUCCESS',
): Record<string, unknown> {
  const timestamp = input.timestamp ?? Date.now();
  const succeeded = status === 'SUCCESS';
  if (channelTypeOf(input.channel) === 'WX') {
    const detail: Record<string, unknown> = {
      return_code: 'SUCCESS',
      result_code: 'SUCCESS',
      refund_status: status,
      out_trade_no: input.billNo,
      out_refund_no: input.refundNo,
      transaction_id: input.tradeNo ?? '',
      refund_id: channelTradeNo(`5030${chinaDate8(timestamp)}`),
      total_fee: String(Math.trunc(input.totalFee)),
      refund_fee: String(Math.trunc(input.refundFee)),
    };
    if (succeeded) {
      Object.assign(detail, {
        settlement_refund_fee: String(Math.trunc(input.refundFee)),
        success_time: chinaDateTime(timestamp),
      });
    }
    return detail;
  }
  const detail: Record<string, unknown> = {
    out_trade_no: input.billNo,
    out_biz_no: input.refundNo,
    trade_no: input.tradeNo ?? '',
    total_fee: fenToYuan(input.totalFee),
    refund_fee: fenToYuan(input.refundFee),
  };
  if (!succeeded) return { ...detail, fund_change: 'N' };
  return {
    notify_type: 'trade_status_sync',
    notify_time: chinaDateTime(timestamp),
    trade_status: 'TRADE_SUCCESS',
    ...detail,
    gmt_refund: chinaDateTime(timestamp),
  };
}

/**
 * A REFUND webhook for a refund that succeeded: the only kind the gateway sends (§3.1),
 * and only for channels that call back after a refund (§4.4.5; not WX, YEE, KUAIQIAN, BD).
 */
export function buildRefundWebhook(input: RefundWebhookInput): GatewayWebhookMessage {
  const timestamp = input.timestamp ?? Date.now();
  return signWebhook(input, {
    timestamp,
    channel_type: channelTypeOf(input.channel),
    sub_channel_type: input.channel,
    transaction_type: 'REFUND',
    transaction_id: input.refundNo,
    transaction_fee: input.refundFee,
    trade_success: true,
    message_detail: refundMessageDetail({ ...input, timestamp }),
    optional: input.optional ?? {},
  });
}
