import { z } from 'zod';

/**
 * The transaction and refund shapes of WeChat Pay APIv3 as our code reads them, from the API
 * answers and from decrypted notifications (pay.weixin.qq.com, "查询订单", "申请退款", "查询单笔
 * 退款", "支付成功回调通知", "退款结果通知"; payments-beyond.md, "WeChat Pay APIv3"). Amounts are
 * integer fen. Fields we do not use are let through unread.
 */

const fen = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** `trade_state` of a JSAPI transaction ("查询订单"). */
export const TRADE_STATES = ['SUCCESS', 'REFUND', 'NOTPAY', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR'] as const;
export type WechatPayTradeState = (typeof TRADE_STATES)[number];

/** A refund's `status` (answers) or `refund_status` (notifications). */
export const REFUND_STATUSES = ['SUCCESS', 'CLOSED', 'PROCESSING', 'ABNORMAL'] as const;
export type WechatPayRefundStatus = (typeof REFUND_STATUSES)[number];

export const transactionSchema = z.object({
  appid: z.string().optional(),
  mchid: z.string(),
  out_trade_no: z.string(),
  transaction_id: z.string().optional(),
  trade_type: z.string().optional(),
  trade_state: z.enum(TRADE_STATES),
  trade_state_desc: z.string().optional(),
  success_time: z.string().optional(),
  attach: z.string().optional(),
  payer: z.object({ openid: z.string() }).partial().optional(),
  // An unpaid order may be answered without its total (`{currency, payer_currency}` only).
  amount: z
    .object({
      total: fen.optional(),
      payer_total: fen.optional(),
      currency: z.string().optional(),
    })
    .optional(),
});

/** A payment as WeChat Pay reports it. `amount` is absent for a transaction not yet paid. */
export interface WechatPayTransaction {
  mchid: string;
  appid?: string;
  outTradeNo: string;
  /** WeChat's own number, once paid. */
  transactionId?: string;
  tradeState: WechatPayTradeState;
  tradeStateDesc?: string;
  /** RFC 3339, as WeChat writes it (`+08:00`). */
  successTime?: string;
  attach?: string;
  payerOpenid?: string;
  /** Fen: the order total, and what the payer paid (less any coupon). */
  amount?: { total: number; payerTotal?: number; currency: string };
}

export function toTransaction(raw: z.infer<typeof transactionSchema>): WechatPayTransaction {
  return {
    mchid: raw.mchid,
    appid: raw.appid,
    outTradeNo: raw.out_trade_no,
    transactionId: raw.transaction_id || undefined,
    tradeState: raw.trade_state,
    tradeStateDesc: raw.trade_state_desc,
    successTime: raw.success_time || undefined,
    attach: raw.attach || undefined,
    payerOpenid: raw.payer?.openid,
    amount:
      raw.amount?.total !== undefined
        ? {
            total: raw.amount.total,
            payerTotal: raw.amount.payer_total,
            currency: raw.amount.currency ?? 'CNY',
          }
        : undefined,
  };
}

const refundAmountSchema = z.object({
  refund: fen,
  total: fen,
  payer_refund: fen.optional(),
  payer_total: fen.optional(),
  currency: z.string().optional(),
});

/** The answer of "申请退款" and "查询单笔退款". */
export const refundAnswerSchema = z.object({
  refund_id: z.string(),
  out_refund_no: z.string(),
  transaction_id: z.string().optional(),
  out_trade_no: z.string(),
  status: z.enum(REFUND_STATUSES),
  success_time: z.string().optional(),
  create_time: z.string().optional(),
  user_received_account: z.string().optional(),
  amount: refundAmountSchema,
});

/** The decrypted resource of a REFUND.* notification ("退款结果通知"). */
export const refundNoticeSchema = z.object({
  mchid: z.string(),
  out_trade_no: z.string(),
  transaction_id: z.string().optional(),
  out_refund_no: z.string(),
  refund_id: z.string(),
  refund_status: z.enum(REFUND_STATUSES),
  success_time: z.string().optional(),
  user_received_account: z.string().optional(),
  amount: refundAmountSchema,
});

/** A refund as WeChat Pay reports it. */
export interface WechatPayRefund {
  refundId: string;
  outRefundNo: string;
  outTradeNo: string;
  transactionId?: string;
  status: WechatPayRefundStatus;
  /** RFC 3339, once `SUCCESS`. */
  successTime?: string;
  userReceivedAccount?: string;
  /** Fen: this refund and the order total. */
  amount: {
    refund: number;
    total: number;
    payerRefund?: number;
    currency: string;
  };
}

export function toRefund(
  raw: z.infer<typeof refundAnswerSchema> | z.infer<typeof refundNoticeSchema>,
): WechatPayRefund {
  return {
    refundId: raw.refund_id,
    outRefundNo: raw.out_refund_no,
    outTradeNo: raw.out_trade_no,
    transactionId: raw.transaction_id || undefined,
    status: 'status' in raw ? raw.status : raw.refund_status,
    successTime: raw.success_time || undefined,
    userReceivedAccount: raw.user_received_account,
    amount: {
      refund: raw.amount.refund,
      total: raw.amount.total,
      payerRefund: raw.amount.payer_refund,
      currency: raw.amount.currency ?? 'CNY',
    },
  };
}
