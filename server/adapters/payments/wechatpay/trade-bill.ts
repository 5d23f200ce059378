import { WechatPayVerificationError } from './errors';

/**
 * Reads WeChat Pay's trade bill (pay.weixin.qq.com, "申请交易账单", "下载账单"; payments-beyond.md,
 * "WeChat Pay APIv3", "Statement"): a header line naming the columns, one line per payment or
 * refund in which every field starts with a backtick, then a summary header (`总交易单数,…`) and
 * its line. Columns are found by their names in the header, so a bill type with fewer columns
 * (or columns in another order) reads the same. Amounts are yuan with at most two decimals and
 * become integer fen by their digits, never through floating point.
 */

/** One line of a trade bill, in our terms. */
export interface TradeBillRow {
  /** 交易时间, read as China time. */
  time: Date;
  /** 微信订单号 */
  transactionId: string;
  /** 商户订单号 */
  outTradeNo: string;
  /** 交易状态: `SUCCESS` for a payment, `REFUND` for a refund, `REVOKED`. */
  tradeState: string;
  /** 订单金额, fen: what the order was for (the queries' `amount.total`). */
  total: number;
  /** 退款金额, fen (0 on a payment line, or when the bill has no such column). */
  refund: number;
  /** 商户退款单号 ('' or `0` on a payment line). */
  outRefundNo: string;
}

const REQUIRED = ['交易时间', '微信订单号', '商户订单号', '交易状态', '订单金额'] as const;

/** `19.99` → 1999, `-0.05` → -5, `3` → 300; throws `BAD_BODY` for anything else. */
export function yuanToFen(text: string): number {
  const match = /^(-?)(\d{1,13})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!match) throw new WechatPayVerificationError('BAD_BODY', `the trade bill has an amount ${JSON.stringify(text)}`);
  const fen = Number(match[2]) * 100 + Number((match[3] ?? '').padEnd(2, '0'));
  return match[1] === '-' && fen !== 0 ? -fen : fen;
}

/** `2026-11-01 10:00:00` in China time; throws `BAD_BODY` when it is not that shape. */
function chinaTime(text: string): Date {
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/.exec(text.trim());
  const ms = match ? Date.parse(`${match[1]}T${match[2]}+08:00`) : NaN;
  if (!Number.isFinite(ms)) throw new WechatPayVerificationError('BAD_BODY', `the trade bill has a time ${text}`);
  return new Date(ms);
}

/** The fields of a data line: each starts with a backtick, and `,`+backtick separates them. */
function fieldsOf(line: string): string[] {
  if (!line.startsWith('`'))
    throw new WechatPayVerificationError('BAD_BODY', 'a trade bill line does not start with `');
  return line.slice(1).split(',`');
}

/**
 * The lines of a trade bill's text, summary excluded. Throws `WechatPayVerificationError`
 * `BAD_BODY` when the header lacks a column we read, a line has another number of fields than
 * the header, or a time or amount cannot be read.
 */
export function parseTradeBill(text: string): TradeBillRow[] {
  const lines = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '');
  if (lines.length === 0) throw new WechatPayVerificationError('BAD_BODY', 'the trade bill is empty');
  const header = lines[0].split(',').map((name) => name.trim());
  const index = new Map(header.map((name, position) => [name, position]));
  for (const name of REQUIRED) {
    if (!index.has(name)) throw new WechatPayVerificationError('BAD_BODY', `the trade bill has no column ${name}`);
  }
  const summaryAt = lines.findIndex((line, position) => position > 0 && line.startsWith('总交易单数'));
  const body = lines.slice(1, summaryAt === -1 ? undefined : summaryAt);
  return body.map((line) => {
    const fields = fieldsOf(line);
    if (fields.length !== header.length) {
      throw new WechatPayVerificationError(
        'BAD_BODY',
        `a trade bill line has ${fields.length} fields for ${header.length} columns`,
      );
    }
    const read = (name: string) => {
      const position = index.get(name);
      return position === undefined ? '' : fields[position].trim();
    };
    return {
      time: chinaTime(read('交易时间')),
      transactionId: read('微信订单号'),
      outTradeNo: read('商户订单号'),
      tradeState: read('交易状态'),
      total: yuanToFen(read('订单金额')),
      refund: index.has('退款金额') ? yuanToFen(read('退款金额')) : 0,
      outRefundNo: read('商户退款单号'),
    };
  });
}
