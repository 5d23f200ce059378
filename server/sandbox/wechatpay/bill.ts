import { chinaDateTime } from '../shared/time';
import type { Refund, Transaction } from './store';

/**
 * The emulated WeChat Pay's trade bills (pay.weixin.qq.com, "申请交易账单", "下载账单";
 * payments-beyond.md, "WeChat Pay APIv3", "Statement"), written apart from the merchant-side
 * parser so that each checks the other. A bill is text: one header line naming the 27 columns,
 * one line per payment or refund whose every field starts with a backtick (so spreadsheets keep
 * long numbers as text), then a summary header and one summary line. Amounts are yuan with two
 * decimals (the fee five), written from integer fen without floating point.
 */

/** The 27 columns of a trade bill, in order. */
export const TRADE_BILL_COLUMNS = [
  '交易时间',
  '公众账号ID',
  '商户号',
  '特约商户号',
  '设备号',
  '微信订单号',
  '商户订单号',
  '用户标识',
  '交易类型',
  '交易状态',
  '付款银行',
  '货币种类',
  '应结订单金额',
  '代金券金额',
  '微信退款单号',
  '商户退款单号',
  '退款金额',
  '充值券退款金额',
  '退款类型',
  '退款状态',
  '商品名称',
  '商户数据包',
  '手续费',
  '费率',
  '订单金额',
  '申请退款金额',
  '费率备注',
] as const;

const SUMMARY_COLUMNS = [
  '总交易单数',
  '应结订单总金额',
  '退款总金额',
  '充值券退款总金额',
  '手续费总金额',
  '订单总金额',
  '申请退款总金额',
];

/** The sandbox's fee rate: 6 ‰ (0.6 %, the common rate of WeChat Pay merchants). */
const FEE_PER_MILLE = 6;

/** Fen as yuan with two decimals: 1999 → `19.99`, -5 → `-0.05`. */
export function yuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** The fee of `fen` at 0.6 %, exact: yuan with five decimals (fen × 6 / 1000 is a whole number of 10⁻⁵ yuan). */
function fee(fen: number): string {
  const hundredThousandths = Math.abs(fen) * FEE_PER_MILLE;
  const sign = fen < 0 ? '-' : '';
  return `${sign}${Math.floor(hundredThousandths / 100_000)}.${String(hundredThousandths % 100_000).padStart(5, '0')}`;
}

type Row = Record<(typeof TRADE_BILL_COLUMNS)[number], string>;

function paymentRow(transaction: Transaction): Row {
  return {
    交易时间: chinaDateTime(transaction.successTime ?? transaction.createdAt),
    公众账号ID: transaction.appid,
    商户号: transaction.mchid,
    特约商户号: '0',
    设备号: '',
    微信订单号: transaction.transactionId ?? '',
    商户订单号: transaction.outTradeNo,
    用户标识: transaction.openid,
    交易类型: 'JSAPI',
    交易状态: 'SUCCESS',
    付款银行: 'OTHERS',
    货币种类: 'CNY',
    应结订单金额: yuan(transaction.total),
    代金券金额: yuan(0),
    微信退款单号: '0',
    商户退款单号: '0',
    退款金额: yuan(0),
    充值券退款金额: yuan(0),
    退款类型: '',
    退款状态: '',
    商品名称: transaction.description,
    商户数据包: transaction.attach ?? '',
    手续费: fee(transaction.total),
    费率: '0.60%',
    订单金额: yuan(transaction.total),
    申请退款金额: yuan(0),
    费率备注: '',
  };
}

function refundRow(refund: Refund, transaction: Transaction): Row {
  return {
    ...paymentRow(transaction),
    交易时间: chinaDateTime(refund.successTime ?? refund.createdAt),
    交易状态: 'REFUND',
    应结订单金额: yuan(0),
    微信退款单号: refund.refundId,
    商户退款单号: refund.outRefundNo,
    退款金额: yuan(refund.refund),
    退款类型: 'ORIGINAL',
    退款状态: 'SUCCESS',
    手续费: fee(-refund.refund),
    订单金额: yuan(0),
    申请退款金额: yuan(refund.refund),
  };
}

/** A field as the bill writes it: a backtick first; line breaks and the separator sequence cannot occur inside. */
function field(value: string): string {
  return `\`${value.replace(/[\r\n]/g, ' ').replaceAll(',`', ', `')}`;
}

/**
 * The text of a trade bill listing `payments` (rows `SUCCESS`) and `refunds` (rows `REFUND`), in
 * that order, with its summary. Lines end with `\r\n`.
 */
export function tradeBillText(
  payments: Transaction[],
  refunds: Array<{ refund: Refund; transaction: Transaction }>,
): string {
  const rows = [
    ...payments.map(paymentRow),
    ...refunds.map(({ refund, transaction }) => refundRow(refund, transaction)),
  ];
  const settled = payments.reduce((sum, transaction) => sum + transaction.total, 0);
  const refunded = refunds.reduce((sum, { refund }) => sum + refund.refund, 0);
  const lines = [
    TRADE_BILL_COLUMNS.join(','),
    ...rows.map((row) => TRADE_BILL_COLUMNS.map((column) => field(row[column])).join(',')),
    SUMMARY_COLUMNS.join(','),
    [
      String(rows.length),
      yuan(settled),
      yuan(refunded),
      yuan(0),
      fee(settled - refunded),
      yuan(settled),
      yuan(refunded),
    ]
      .map(field)
      .join(','),
  ];
  return `${lines.join('\r\n')}\r\n`;
}
