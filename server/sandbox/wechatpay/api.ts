import { createHash } from 'node:crypto';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { BodyTooLargeError, echoed, MESSAGE_LIMIT, readBody, requestOrigin } from '../shared/http';
import { channelTradeNo, prepayId, randomString } from '../shared/random';
import { chinaDateTime, chinaStamp14 } from '../shared/time';
import { tradeBillText } from './bill';
import type { WechatPayRefundView } from './control-contract';
import type { SandboxKeyRing, WechatPaySandboxKeys } from './keys';
import { transactionResource, type WechatPayNotifier } from './notify';
import { encryptResource, requestSignatureProblem, signatureHeaders } from './protocol';
import { finishRefund } from './settlement';
import type { InjectedFault, Refund, Transaction, WechatPayOperation, WechatPayStore } from './store';
import { parseRfc3339, rfc3339China } from './time';

/**
 * The emulated WeChat Pay APIv3 at its real paths (pay.weixin.qq.com, "JSAPI下单", "查询订单",
 * "关闭订单", "申请退款", "查询单笔退款", "下载平台证书", "申请交易账单", "下载账单"; payments-beyond.md,
 * "WeChat Pay APIv3").
 * Every request must carry the merchant's `WECHATPAY2-SHA256-RSA2048` Authorization (else 401
 * `SIGN_ERROR`); every answer, errors included, is signed with the platform key of the current
 * mode. Errors answer `{code, message}` with a 4xx.
 *
 *   POST /v3/pay/transactions/jsapi                          200 {prepay_id}
 *   GET  /v3/pay/transactions/out-trade-no/:out_trade_no?mchid=   200 transaction | 404 ORDER_NOT_EXIST
 *   POST /v3/pay/transactions/out-trade-no/:out_trade_no/close {mchid}   204 | 400 ORDERPAID
 *   POST /v3/refund/domestic/refunds                         200 refund (PROCESSING)
 *   GET  /v3/refund/domestic/refunds/:out_refund_no          200 refund | 404 RESOURCE_NOT_EXISTS
 *   GET  /v3/certificates                                    200 {data: [encrypted certificates]}
 *   GET  /v3/bill/tradebill?bill_date=&bill_type=            200 {download_url, hash_type, hash_value}
 *        | 400 STATEMENT_CREATING (before 10:00 the next day) | 400 NO_STATEMENT_EXIST (nothing that day)
 *   GET  /v3/billdownload/file?token=                        200 the bill (text, NOT signed: its SHA1 is
 *        the hash_value), valid 30 s
 *
 * Faults injected by the control routes (`POST /sandbox/wechatpay/faults`) replace the answer of
 * the operation they name (prepay, query, close, refund, refund_query, tradebill).
 *
 * Codes marked *unconfirmed* below follow the pattern of the documented ones where the public
 * pages did not say.
 */

export interface ApiDependencies {
  keys: SandboxKeyRing;
  store: WechatPayStore;
  notifier: WechatPayNotifier;
  now: () => number;
  /** Runs a refund's automatic success after its answer has left. */
  later: (task: () => void) => void;
}

/** A refund can be asked for up to a year after payment ("申请退款": 交易时间超过一年的订单无法提交退款). */
const REFUND_WINDOW_MS = 365 * 24 * 60 * 60 * 1000;
/** "每个支付订单的部分退款次数不能超过50次". */
const MAX_REFUNDS_PER_ORDER = 50;

const fen = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

const prepaySchema = z.object({
  appid: z.string().min(1).max(32),
  mchid: z.string().min(1).max(32),
  description: z.string().min(1).max(127),
  out_trade_no: z.string().regex(/^[0-9A-Za-z_\-|*]{6,32}$/, 'must be 6 to 32 of 0-9 A-Z a-z _ - | *'),
  time_expire: z.string().optional(),
  attach: z.string().max(128).optional(),
  notify_url: z.url({ protocol: /^https?$/ }).max(256),
  amount: z.object({ total: fen, currency: z.literal('CNY').optional() }),
  payer: z.object({ openid: z.string().min(1).max(128) }),
});

const closeSchema = z.object({ mchid: z.string().min(1).max(32) });

const refundSchema = z
  .object({
    transaction_id: z.string().min(1).max(32).optional(),
    out_trade_no: z.string().min(1).max(32).optional(),
    out_refund_no: z.string().regex(/^[0-9A-Za-z_\-|*@]{1,64}$/, 'must be 1 to 64 of 0-9 A-Z a-z _ - | * @'),
    reason: z.string().max(80).optional(),
    notify_url: z
      .url({ protocol: /^https?$/ })
      .max(256)
      .optional(),
    funds_account: z.string().optional(),
    amount: z.object({ refund: fen, total: fen, currency: z.literal('CNY') }),
  })
  .refine((body) => body.transaction_id !== undefined || body.out_trade_no !== undefined, {
    message: 'give transaction_id or out_trade_no',
  });

/** A refusal WeChat Pay answers with its own `{code, message}` and an HTTP status. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(echoed(message, MESSAGE_LIMIT));
    this.name = 'Refusal';
  }
}

type Handler = (ctx: Context, keys: WechatPaySandboxKeys, body: string) => Promise<Answer> | Answer;
/** A JSON `body`, or a `file` sent as it is and not signed ("下载账单": its hash vouches for it). */
type Answer = { status: number; body?: Record<string, unknown>; file?: string };

/** How long a download_url works ("下载账单": 30 秒内有效). */
const DOWNLOAD_URL_TTL_MS = 30_000;
/** How far back trade bills can be asked for ("申请交易账单": 仅支持三个月内的账单). */
const BILL_RETENTION_MS = 92 * 24 * 60 * 60 * 1000;
/** A day's bill is made after 10:00 the next day (China time), 34 hours after the day starts. */
const BILL_READY_AFTER_MS = 34 * 60 * 60 * 1000;

const tradeBillQuerySchema = z.object({
  bill_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be yyyy-MM-DD'),
  bill_type: z.enum(['ALL', 'SUCCESS', 'REFUND']).default('ALL'),
  tar_type: z.literal('GZIP').optional(),
});

export function createWechatPayApiRoutes(deps: ApiDependencies): Router {
  const { store, now } = deps;
  const router = new Router();

  async function reply(ctx: Context, keys: WechatPaySandboxKeys, answer: Answer, sign = true): Promise<void> {
    if (answer.file !== undefined) {
      ctx.status = answer.status;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = answer.file;
      return;
    }
    const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
    if (sign) ctx.set(signatureHeaders(keys, text, now(), ctx.get('wechatpay-serial') || undefined));
    ctx.status = answer.status;
    if (text !== '') {
      ctx.type = 'application/json';
      ctx.body = text;
    }
  }

  function faultAnswer(ctx: Context, keys: WechatPaySandboxKeys, fault: InjectedFault): Promise<void> {
    return reply(ctx, keys, refusal(fault.status, fault.code, fault.message), fault.signed);
  }

  /**
   * Reads the body, checks the Authorization, runs `handler` and signs whatever it answers; a
   * fault injected for `operation` answers instead, before the handler runs or after it.
   */
  function signed(handler: Handler, operation?: Exclude<WechatPayOperation, 'any'>) {
    return async (ctx: Context) => {
      const keys = await deps.keys.get();
      let body: string;
      try {
        body = await readBody(ctx);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        await reply(ctx, keys, refusal(413, 'PARAM_ERROR', error.message));
        return;
      }
      const problem = requestSignatureProblem(
        keys,
        {
          method: ctx.method,
          pathWithQuery: ctx.originalUrl,
          body,
          authorization: ctx.get('authorization') || undefined,
        },
        now(),
      );
      if (problem) {
        await reply(ctx, keys, refusal(401, 'SIGN_ERROR', `签名错误: ${problem}`));
        return;
      }
      const before = operation && store.takeFault(operation, false);
      if (before) {
        await faultAnswer(ctx, keys, before);
        return;
      }
      let answer: Answer;
      try {
        answer = await handler(ctx, keys, body);
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        answer = refusal(error.status, error.code, error.message);
      }
      const after = operation && store.takeFault(operation, true);
      if (after) {
        await faultAnswer(ctx, keys, after);
        return;
      }
      await reply(ctx, keys, answer);
    };
  }

  router.post(
    '/v3/pay/transactions/jsapi',
    signed((_ctx, keys, text) => {
      const input = parse(prepaySchema, text);
      if (input.mchid !== keys.mchid || input.appid !== keys.appid) {
        throw new Refusal(400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
      }
      if (new URL(input.notify_url).search !== '') throw new Refusal(400, 'PARAM_ERROR', 'notify_url 不能携带参数');
      let timeExpire: number | undefined;
      if (input.time_expire !== undefined) {
        timeExpire = parseRfc3339(input.time_expire);
        if (timeExpire === undefined) throw new Refusal(400, 'PARAM_ERROR', 'time_expire 不是 RFC 3339 时间');
      }
      const fingerprint = JSON.stringify([
        input.appid,
        input.description,
        input.amount.total,
        input.payer.openid,
        input.notify_url,
        input.attach ?? '',
        timeExpire ?? null,
      ]);
      const existing = store.transactions.get(input.out_trade_no);
      if (existing) {
        if (existing.tradeState === 'SUCCESS' || existing.tradeState === 'REFUND')
          throw new Refusal(400, 'ORDERPAID', '该订单已支付');
        if (existing.tradeState === 'CLOSED') throw new Refusal(400, 'ORDER_CLOSED', '订单已关闭');
        // A repeat with the same parameters gets the same prepay_id; other parameters are refused.
        if (existing.fingerprint !== fingerprint) throw new Refusal(400, 'INVALID_REQUEST', '201 商户订单号重复');
        return { status: 200, body: { prepay_id: existing.prepayId } };
      }
      const createdAt = now();
      const transaction: Transaction = {
        outTradeNo: input.out_trade_no,
        appid: input.appid,
        mchid: input.mchid,
        description: input.description,
        notifyUrl: input.notify_url,
        attach: input.attach,
        total: input.amount.total,
        openid: input.payer.openid,
        timeExpire,
        prepayId: prepayId(chinaStamp14(createdAt)),
        fingerprint,
        createdAt,
        tradeState: 'NOTPAY',
        deliveries: [],
      };
      store.transactions.set(transaction.outTradeNo, transaction);
      store.save();
      return { status: 200, body: { prepay_id: transaction.prepayId } };
    }, 'prepay'),
  );

  router.get(
    '/v3/pay/transactions/out-trade-no/:out_trade_no',
    signed((ctx, keys) => {
      if (ctx.query.mchid !== keys.mchid) throw new Refusal(400, 'PARAM_ERROR', 'mchid 与请求商户不符');
      const transaction = findTransaction(String(ctx.params.out_trade_no));
      return { status: 200, body: transactionResource(transaction) };
    }, 'query'),
  );

  router.post(
    '/v3/pay/transactions/out-trade-no/:out_trade_no/close',
    signed((ctx, keys, text) => {
      const input = parse(closeSchema, text);
      if (input.mchid !== keys.mchid) throw new Refusal(400, 'PARAM_ERROR', 'mchid 与请求商户不符');
      const transaction = findTransaction(String(ctx.params.out_trade_no));
      if (transaction.tradeState === 'SUCCESS' || transaction.tradeState === 'REFUND') {
        // *unconfirmed*: the code WeChat answers when closing a paid order.
        throw new Refusal(400, 'ORDERPAID', '订单已支付，不能关闭');
      }
      if (transaction.tradeState !== 'CLOSED') {
        transaction.tradeState = 'CLOSED';
        store.save();
      }
      return { status: 204 };
    }, 'close'),
  );

  router.post(
    '/v3/refund/domestic/refunds',
    signed((_ctx, _keys, text) => {
      const input = parse(refundSchema, text);
      const transaction =
        input.out_trade_no !== undefined
          ? store.transactions.get(input.out_trade_no)
          : [...store.transactions.values()].find((candidate) => candidate.transactionId === input.transaction_id);
      if (!transaction) throw new Refusal(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
      const existing = store.refunds.get(input.out_refund_no);
      if (existing) {
        // "同一退款单号多次请求只退一笔": the same refund again, or a refusal when it differs.
        if (existing.outTradeNo !== transaction.outTradeNo || existing.refund !== input.amount.refund) {
          throw new Refusal(400, 'INVALID_REQUEST', '退款单号已用于其他退款');
        }
        return { status: 200, body: refundView(existing) };
      }
      if (!transaction.transactionId || (transaction.tradeState !== 'SUCCESS' && transaction.tradeState !== 'REFUND')) {
        throw new Refusal(400, 'INVALID_REQUEST', '订单未支付');
      }
      if (input.amount.total !== transaction.total) throw new Refusal(400, 'INVALID_REQUEST', '订单金额与原订单不一致');
      if (now() - (transaction.successTime ?? transaction.createdAt) > REFUND_WINDOW_MS) {
        throw new Refusal(400, 'INVALID_REQUEST', '订单已超过退款期限 (一年)');
      }
      if (store.refundsOf(transaction.outTradeNo).length >= MAX_REFUNDS_PER_ORDER) {
        throw new Refusal(400, 'INVALID_REQUEST', `部分退款次数不能超过${MAX_REFUNDS_PER_ORDER}次`);
      }
      if (store.refundedOf(transaction.outTradeNo) + input.amount.refund > transaction.total) {
        throw new Refusal(400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额');
      }
      const refund: Refund = {
        outRefundNo: input.out_refund_no,
        refundId: channelTradeNo('5030'),
        outTradeNo: transaction.outTradeNo,
        transactionId: transaction.transactionId,
        refund: input.amount.refund,
        total: transaction.total,
        reason: input.reason,
        notifyUrl: input.notify_url,
        createdAt: now(),
        status: 'PROCESSING',
        deliveries: [],
      };
      store.refunds.set(refund.outRefundNo, refund);
      transaction.tradeState = 'REFUND';
      if (store.refundHolds > 0) {
        store.refundHolds -= 1;
      } else {
        deps.later(() => finishRefund(deps, refund, 'SUCCESS', true));
      }
      store.save();
      return { status: 200, body: refundView(refund) };
    }, 'refund'),
  );

  router.get(
    '/v3/refund/domestic/refunds/:out_refund_no',
    signed((ctx) => {
      const refund = store.refunds.get(String(ctx.params.out_refund_no));
      if (!refund) throw new Refusal(404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
      return { status: 200, body: refundView(refund) };
    }, 'refund_query'),
  );

  router.get(
    '/v3/certificates',
    signed((_ctx, keys) => ({
      status: 200,
      body: {
        data: keys.certificates.map((certificate) => ({
          serial_no: certificate.serialNo,
          effective_time: rfc3339China(certificate.validFrom),
          expire_time: rfc3339China(certificate.validTo),
          encrypt_certificate: encryptResource(certificate.certificatePem, keys.apiV3Key, 'certificate'),
        })),
      },
    })),
  );

  router.get(
    '/v3/bill/tradebill',
    signed((ctx) => {
      const parsed = tradeBillQuerySchema.safeParse(ctx.query);
      if (!parsed.success) {
        const detail = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
        throw new Refusal(400, 'PARAM_ERROR', `参数错误: ${detail}`);
      }
      const input = parsed.data;
      // The sandbox serves bills uncompressed only.
      if (input.tar_type !== undefined) throw new Refusal(400, 'PARAM_ERROR', 'tar_type 暂不支持 (sandbox)');
      const dayStart = Date.parse(`${input.bill_date}T00:00:00+08:00`);
      if (!Number.isFinite(dayStart) || chinaDateTime(dayStart).slice(0, 10) !== input.bill_date) {
        throw new Refusal(400, 'PARAM_ERROR', 'bill_date 不是合法日期');
      }
      const current = now();
      // *unconfirmed*: the codes for a day in the future and one older than three months.
      if (dayStart > current) throw new Refusal(400, 'PARAM_ERROR', 'bill_date 不能晚于今天');
      if (current - dayStart > BILL_RETENTION_MS) throw new Refusal(400, 'PARAM_ERROR', '仅支持三个月内的账单');
      if (current < dayStart + BILL_READY_AFTER_MS) {
        throw new Refusal(400, 'STATEMENT_CREATING', '账单生成中，请在次日上午10点以后再下载');
      }
      const onDay = (ms: number | undefined) =>
        ms !== undefined && ms >= dayStart && ms < dayStart + 24 * 60 * 60 * 1000;
      const payments =
        input.bill_type === 'REFUND'
          ? []
          : [...store.transactions.values()]
              .filter((transaction) => transaction.transactionId !== undefined && onDay(transaction.successTime))
              .sort((a, b) => (a.successTime ?? 0) - (b.successTime ?? 0));
      const refunds =
        input.bill_type === 'SUCCESS'
          ? []
          : [...store.refunds.values()]
              .filter((refund) => refund.status === 'SUCCESS' && onDay(refund.successTime))
              .map((refund) => ({ refund, transaction: store.transactions.get(refund.outTradeNo) as Transaction }));
      if (payments.length === 0 && refunds.length === 0) {
        throw new Refusal(400, 'NO_STATEMENT_EXIST', '账单文件不存在');
      }
      const text = tradeBillText(payments, refunds);
      const token = randomString(48);
      for (const [old, bill] of store.bills) if (bill.expiresAt <= current) store.bills.delete(old);
      store.bills.set(token, { text, expiresAt: current + DOWNLOAD_URL_TTL_MS });
      return {
        status: 200,
        body: {
          hash_type: 'SHA1',
          hash_value: createHash('sha1').update(text, 'utf8').digest('hex'),
          download_url: `${requestOrigin(ctx)}/v3/billdownload/file?token=${token}`,
        },
      };
    }, 'tradebill'),
  );

  router.get(
    '/v3/billdownload/file',
    signed((ctx) => {
      const bill = typeof ctx.query.token === 'string' ? store.bills.get(ctx.query.token) : undefined;
      // *unconfirmed*: the code of a download_url used after its 30 seconds.
      if (!bill || bill.expiresAt <= now()) throw new Refusal(400, 'INVALID_REQUEST', '下载地址已失效，请重新申请账单');
      return { status: 200, file: bill.text };
    }),
  );

  function findTransaction(outTradeNo: string): Transaction {
    const transaction = store.transactions.get(outTradeNo);
    if (!transaction) throw new Refusal(404, 'ORDER_NOT_EXIST', '订单不存在');
    return transaction;
  }

  return router;
}

function refusal(status: number, code: string, message: string): Answer {
  return { status, body: { code, message } };
}

function parse<T>(schema: z.ZodType<T>, text: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Refusal(400, 'PARAM_ERROR', '请求体不是合法的 JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');
    throw new Refusal(400, 'PARAM_ERROR', `参数错误: ${detail}`);
  }
  return parsed.data;
}

/** A refund as "申请退款" and "查询单笔退款" answer it. */
export function refundView(refund: Refund): WechatPayRefundView {
  const view: WechatPayRefundView = {
    refund_id: refund.refundId,
    out_refund_no: refund.outRefundNo,
    transaction_id: refund.transactionId,
    out_trade_no: refund.outTradeNo,
    channel: 'ORIGINAL',
    user_received_account: '支付用户零钱',
    create_time: rfc3339China(refund.createdAt),
    status: refund.status,
    funds_account: 'UNAVAILABLE',
    amount: {
      total: refund.total,
      refund: refund.refund,
      payer_total: refund.total,
      payer_refund: refund.refund,
      settlement_refund: refund.refund,
      settlement_total: refund.total,
      discount_refund: 0,
      currency: 'CNY',
      refund_fee: 0,
    },
  };
  if (refund.successTime !== undefined) view.success_time = rfc3339China(refund.successTime);
  return view;
}
