import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Router } from '@koa/router';
import type { Context } from 'koa';
import {
  byteAuthorizationProblem,
  CLIENT_TOKEN_PATH,
  ORDER_NOT_FOUND,
  ORDER_QUERY_PATH,
  REFUND_CREATE_PATH,
  REFUND_QUERY_PATH,
} from './protocol';
import { makeDirectory } from '../../../make-directory';
import { describeRoutes } from '../../../openapi/operations';
import { readControlBody } from '../../control';
import { isPlainObject, parseJsonObject, readBody, sendError } from '../../shared/http';
import { digits, randomString } from '../../shared/random';
import type { DouyinPayKeyRing } from '../keys';
import {
  LISTED_REFUND_STATUS,
  settleProcessingRefund,
  type DouyinPaySystem,
  type DouyinRefundHolds,
  type DouyinRefundStatus,
  type DouyinSandboxOrder,
  type DouyinSandboxRefund,
  type DouyinSettlement,
} from '../system';
import { requestOrderOperation, requestOrderSchema, REQUEST_ORDER_PATH } from './contract';
import { type CallbackAttempt, TradeCallbackNotifier } from './notify';
import { deferredTasks } from '../../shared/deferred';

/**
 * The emulated 通用交易系统 (payments-beyond.md, "Douyin mini-program payment", 通用交易系统), with
 * real keys (../keys.ts) at Douyin's real paths:
 *   POST /oauth/client_token/                             client tokens (2 h; the previous stays valid 5 min)
 *   POST /api/trade_basic/v1/developer/order_query/       by out_order_no or order_id
 *   POST /api/trade_basic/v1/developer/refund_create/     settled at once (unless held), then the refund callback
 *   POST /api/trade_basic/v1/developer/refund_query/      by out_refund_no, refund_id or order_id
 * and `POST /sandbox/douyin/trade/request-order` (./contract.ts), what `tt.requestOrder` does inside
 * Douyin. Orders are paid or closed through the shared `POST /sandbox/douyin/orders/:outOrderNo/settle`,
 * which sends the signed payment callback (./notify.ts). Answers are `{err_no, err_msg, log_id,
 * data}`; where Douyin's exact codes and field names are unconfirmed (see the adapter), the sandbox
 * answers what the adapter expects, so the two agree by construction there and only there.
 */

/** How far a `byteAuthorization` timestamp may be from now: Douyin's bound is unconfirmed; 5 minutes here. */
export const REQUEST_ORDER_MAX_SKEW_S = 300;
const MAX_PAY_EXPIRE_SECONDS = 48 * 3600;
const CLIENT_TOKEN_TTL_S = 7200;
const REPLACED_TOKEN_GRACE_MS = 5 * 60 * 1000;
const STATE_FILE = 'douyin-trade.json';

interface TradeOrder {
  outOrderNo: string;
  orderId: string;
  itemOrderId: string;
  skuId: string;
  totalAmount: number;
  status: 'pending' | 'paid' | 'closed';
  payNotifyUrl: string;
  /** ms since 1970. */
  createdAt: number;
  expiresAt: number;
  paidAt?: number;
  channelPayId?: string;
  refunded: number;
  deliveries: CallbackAttempt[];
}

interface TradeRefund {
  outRefundNo: string;
  refundId: string;
  outOrderNo: string;
  orderId: string;
  amount: number;
  status: DouyinRefundStatus;
  notifyUrl?: string;
  createdAt: number;
  refundAt?: number;
  deliveries: CallbackAttempt[];
}

export interface DouyinTradeSystemOptions {
  appId: string;
  /** The mini-program's AppSecret, which `client_token` checks. */
  secret: string;
  keys: DouyinPayKeyRing;
  /** Shared with 担保支付: refunds held processing (`POST /sandbox/douyin/refunds/hold`). */
  holds: DouyinRefundHolds;
  dataDir?: string;
  timeScale: number;
  now: () => number;
  log: (line: string) => void;
}

/**
 * The 通用交易系统 as one `DouyinPaySystem`. Its orders and refunds are kept in `dataDir` when given;
 * callbacks a previous run was still delivering are not resumed (settle again to resend).
 */
export function createDouyinTradeSystem(options: DouyinTradeSystemOptions): DouyinPaySystem {
  const orders = new Map<string, TradeOrder>();
  const refunds = new Map<string, TradeRefund>();
  const tokens = new Map<string, number>();
  const file = options.dataDir ? join(options.dataDir, STATE_FILE) : undefined;
  if (file && existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { orders: TradeOrder[]; refunds: TradeRefund[] };
    for (const order of saved.orders) orders.set(order.outOrderNo, order);
    for (const refund of saved.refunds) refunds.set(refund.outRefundNo, refund);
  }
  const save = () => {
    if (!options.dataDir || !file) return;
    makeDirectory(options.dataDir);
    writeFileSync(`${file}.tmp`, JSON.stringify({ orders: [...orders.values()], refunds: [...refunds.values()] }));
    renameSync(`${file}.tmp`, file);
  };
  const notifier = new TradeCallbackNotifier({
    keys: options.keys,
    timeScale: options.timeScale,
    now: options.now,
    log: options.log,
  });
  const deferred = deferredTasks();
  const later = deferred.later;

  /** Expires a payable order past its `payExpireSeconds`, as Douyin does by itself. */
  const current = (order: TradeOrder): TradeOrder => {
    if (order.status === 'pending' && options.now() >= order.expiresAt) {
      order.status = 'closed';
      save();
    }
    return order;
  };

  const listed = (order: TradeOrder): DouyinSandboxOrder => ({
    system: 'trade',
    outOrderNo: order.outOrderNo,
    orderId: order.orderId,
    totalAmount: order.totalAmount,
    status: current(order).status,
  });

  const paymentMsg = (order: TradeOrder) => ({
    app_id: options.appId,
    status: order.status === 'paid' ? 'SUCCESS' : 'CANCEL',
    order_id: order.orderId,
    out_order_no: order.outOrderNo,
    cp_extra: '',
    total_amount: order.totalAmount,
    discount_amount: 0,
    pay_channel: 10,
    channel_pay_id: order.channelPayId ?? '',
    merchant_uid: '',
    message: '',
    event_time: order.paidAt ?? options.now(),
  });

  const refundMsg = (refund: TradeRefund) => ({
    app_id: options.appId,
    status: refund.status,
    order_id: refund.orderId,
    out_refund_no: refund.outRefundNo,
    refund_id: refund.refundId,
    refund_total_amount: refund.amount,
    cp_extra: '',
    message: refund.status === 'FAIL' ? '退款失败' : '',
    event_time: refund.refundAt ?? options.now(),
  });

  const listedRefund = (refund: TradeRefund): DouyinSandboxRefund => ({
    system: 'trade',
    outRefundNo: refund.outRefundNo,
    refundId: refund.refundId,
    outOrderNo: refund.outOrderNo,
    amount: refund.amount,
    status: LISTED_REFUND_STATUS[refund.status],
  });

  /**
   * Ends a processing refund: a failure gives its amount back to the order. `notify` sends the
   * refund callback when the refund has a notify URL; whether one started.
   */
  const finishRefund = (refund: TradeRefund, status: 'SUCCESS' | 'FAIL', notify: boolean): boolean => {
    refund.status = status;
    refund.refundAt = options.now();
    const order = orders.get(refund.outOrderNo);
    if (status === 'FAIL' && order) order.refunded -= refund.amount;
    save();
    if (!notify || !refund.notifyUrl) return false;
    notifier.send(
      `refund:${refund.outRefundNo}`,
      refund.notifyUrl,
      'refund',
      refundMsg(refund),
      refund.deliveries,
      save,
    );
    return true;
  };

  const router = new Router();

  /** `{err_no, err_msg, log_id, data}`: the 通用交易系统's answer shape. */
  const answer = (ctx: Context, errNo: number, errMsg: string, data?: Record<string, unknown>) => {
    ctx.status = 200;
    ctx.body = { err_no: errNo, err_msg: errMsg, log_id: randomString(24), ...(data && { data }) };
  };

  const readJson = async (ctx: Context): Promise<Record<string, unknown> | undefined> => {
    const parsed = parseJsonObject(await readBody(ctx), 'request body');
    if (!parsed.ok) {
      answer(ctx, 28_001_001, `参数错误: ${parsed.error}`);
      return undefined;
    }
    return parsed.value;
  };

  /** The request's body when its `access-token` is a live client token; else answers the refusal. */
  const authorized = async (ctx: Context): Promise<Record<string, unknown> | undefined> => {
    const token = ctx.get('access-token');
    const until = tokens.get(token);
    if (!token || until === undefined || options.now() >= until) {
      answer(ctx, 28_001_003, 'access-token 无效或已过期');
      return undefined;
    }
    return readJson(ctx);
  };

  router.post(CLIENT_TOKEN_PATH, async (ctx) => {
    const body = await readJson(ctx);
    if (!body) return;
    if (
      body.grant_type !== 'client_credential' ||
      body.client_key !== options.appId ||
      body.client_secret !== options.secret
    ) {
      ctx.body = { data: { error_code: 10013, description: 'client_key 或者 client_secret 报错' }, message: 'error' };
      return;
    }
    const now = options.now();
    // A new token leaves the previous ones valid for 5 more minutes at most ("获取应用授权调用凭证", 注意事项).
    for (const [value, until] of tokens) tokens.set(value, Math.min(until, now + REPLACED_TOKEN_GRACE_MS));
    for (const [value, until] of tokens) if (until <= now) tokens.delete(value);
    const value = `clt.${randomString(40)}`;
    tokens.set(value, now + CLIENT_TOKEN_TTL_S * 1000);
    ctx.body = {
      data: { access_token: value, description: '', error_code: 0, expires_in: CLIENT_TOKEN_TTL_S },
      message: 'success',
    };
  });

  const findOrder = (body: Record<string, unknown>): TradeOrder | undefined => {
    if (typeof body.out_order_no === 'string') return orders.get(body.out_order_no);
    if (typeof body.order_id === 'string') return [...orders.values()].find((order) => order.orderId === body.order_id);
    return undefined;
  };

  router.post(ORDER_QUERY_PATH, async (ctx) => {
    const body = await authorized(ctx);
    if (!body) return;
    const found = findOrder(body);
    if (!found) {
      answer(ctx, ORDER_NOT_FOUND, '订单不存在');
      return;
    }
    const order = current(found);
    answer(ctx, 0, '', {
      order_id: order.orderId,
      out_order_no: order.outOrderNo,
      total_amount: order.totalAmount,
      discount_amount: 0,
      refund_amount: order.refunded,
      pay_status: { pending: 'PROCESS', paid: 'SUCCESS', closed: 'TIMEOUT' }[order.status],
      pay_channel: order.status === 'paid' ? 10 : undefined,
      channel_pay_id: order.channelPayId ?? '',
      pay_time: order.paidAt === undefined ? '' : new Date(order.paidAt).toISOString(),
      item_order_list: [
        { item_order_id: order.itemOrderId, sku_id: order.skuId, item_order_amount: order.totalAmount },
      ],
    });
  });

  router.post(REFUND_CREATE_PATH, async (ctx) => {
    const body = await authorized(ctx);
    if (!body) return;
    const { out_order_no: outOrderNo, out_refund_no: outRefundNo, refund_total_amount: amount } = body;
    if (typeof outOrderNo !== 'string' || typeof outRefundNo !== 'string' || !Number.isSafeInteger(amount)) {
      answer(ctx, 28_001_001, '参数错误: out_order_no, out_refund_no and refund_total_amount are required');
      return;
    }
    const order = orders.get(outOrderNo);
    if (!order) {
      answer(ctx, ORDER_NOT_FOUND, '订单不存在');
      return;
    }
    const existing = refunds.get(outRefundNo);
    if (existing) {
      if (existing.outOrderNo !== outOrderNo || existing.amount !== amount) {
        answer(ctx, 28_001_010, '退款单号重复且参数不一致');
        return;
      }
      answer(ctx, 0, '', { refund_id: existing.refundId, refund_audit_deadline: 0 });
      return;
    }
    if (current(order).status !== 'paid') {
      answer(ctx, 28_001_011, '订单未支付,不能退款');
      return;
    }
    if ((amount as number) < 1 || order.refunded + (amount as number) > order.totalAmount) {
      answer(ctx, 28_001_012, '退款金额超过可退金额');
      return;
    }
    const refund: TradeRefund = {
      outRefundNo,
      refundId: `ot${digits(19)}`,
      outOrderNo,
      orderId: order.orderId,
      amount: amount as number,
      status: 'PROCESSING',
      notifyUrl: typeof body.notify_url === 'string' ? body.notify_url : order.payNotifyUrl,
      createdAt: options.now(),
      deliveries: [],
    };
    refunds.set(outRefundNo, refund);
    order.refunded += refund.amount;
    save();
    // A developer's own refund needs no audit; it is settled shortly after, as Douyin's usually is,
    // unless held for `POST /sandbox/douyin/refunds/:outRefundNo/settle`.
    if (!options.holds.take()) {
      later(() => {
        if (refund.status === 'PROCESSING') finishRefund(refund, 'SUCCESS', true);
      });
    }
    answer(ctx, 0, '', { refund_id: refund.refundId, refund_audit_deadline: 0 });
  });

  router.post(REFUND_QUERY_PATH, async (ctx) => {
    const body = await authorized(ctx);
    if (!body) return;
    const list = [...refunds.values()].filter(
      (refund) =>
        (typeof body.out_refund_no === 'string' && refund.outRefundNo === body.out_refund_no) ||
        (typeof body.refund_id === 'string' && refund.refundId === body.refund_id) ||
        (typeof body.order_id === 'string' && refund.orderId === body.order_id),
    );
    answer(ctx, 0, '', {
      refund_list: list.map((refund) => ({
        refund_id: refund.refundId,
        out_refund_no: refund.outRefundNo,
        order_id: refund.orderId,
        refund_total_amount: refund.amount,
        refund_status: refund.status,
        refund_at: refund.refundAt ?? 0,
      })),
    });
  });

  router.post(REQUEST_ORDER_PATH, async (ctx) => {
    const input = await readControlBody(ctx, requestOrderSchema);
    if (!input) return;
    const keys = await options.keys.get();
    const why = byteAuthorizationProblem(input.byteAuthorization, input.data, {
      appId: options.appId,
      keyVersion: keys.keyVersion,
      appPublicKey: keys.appPublicKey,
      nowS: options.now() / 1000,
      maxSkewS: REQUEST_ORDER_MAX_SKEW_S,
    });
    const now = options.now();
    if (why) {
      sendError(ctx, 400, 'SIGNATURE_INVALID', why);
      return;
    }
    const parsed = parseJsonObject(input.data, 'data');
    const data = parsed.ok ? parsed.value : undefined;
    const problem = !data ? 'data is not a JSON object' : orderDataProblem(data);
    if (!data || problem) {
      sendError(ctx, 400, 'ORDER_INVALID', problem ?? 'data is not a JSON object');
      return;
    }
    const outOrderNo = data.outOrderNo as string;
    const sku = (data.skuList as Array<Record<string, unknown>>)[0];
    const existing = orders.get(outOrderNo);
    if (existing) {
      // Douyin's answer to the same outOrderNo again is unconfirmed: here a payable order of the
      // same amount is answered again (a second Pay tap), anything else refused.
      if (current(existing).status !== 'pending' || existing.totalAmount !== data.totalAmount) {
        sendError(ctx, 409, 'ORDER_STATE_CONFLICT', `order ${outOrderNo} is ${existing.status}, or of another amount`);
        return;
      }
      ctx.body = answerOf(existing);
      return;
    }
    const order: TradeOrder = {
      outOrderNo,
      orderId: `ot${digits(19)}`,
      itemOrderId: `it${digits(19)}`,
      skuId: String(sku.skuId),
      totalAmount: data.totalAmount as number,
      status: 'pending',
      payNotifyUrl: data.payNotifyUrl as string,
      createdAt: now,
      expiresAt: now + (data.payExpireSeconds as number) * 1000,
      refunded: 0,
      deliveries: [],
    };
    orders.set(outOrderNo, order);
    save();
    ctx.body = answerOf(order);
  });

  return {
    name: 'trade',
    routers: [describeRoutes(router, [requestOrderOperation])],
    orders: () => [...orders.values()].map(listed),
    async settle(outOrderNo, result, notify): Promise<DouyinSettlement> {
      const order = orders.get(outOrderNo);
      if (!order) return { outcome: 'not_found' };
      const status = current(order).status;
      const wanted = result === 'paid' ? 'paid' : 'closed';
      if (status !== 'pending' && status !== wanted) {
        return { outcome: 'conflict', reason: `order ${outOrderNo} is already ${status}` };
      }
      if (status === 'pending') {
        order.status = wanted;
        if (wanted === 'paid') {
          order.paidAt = options.now();
          order.channelPayId = `4200${digits(24)}`;
        }
        save();
      }
      if (notify) {
        notifier.send(
          `payment:${outOrderNo}`,
          order.payNotifyUrl,
          'payment',
          paymentMsg(order),
          order.deliveries,
          save,
        );
      }
      return { outcome: 'settled', order: listed(order) };
    },
    refunds: () => [...refunds.values()].map(listedRefund),
    settleRefund: async (outRefundNo, result, notify) =>
      settleProcessingRefund(refunds.get(outRefundNo), result, notify, listedRefund, finishRefund),
    async close() {
      deferred.stop();
      await notifier.close();
    },
  };
}

function answerOf(order: TradeOrder) {
  return {
    orderId: order.orderId,
    outOrderNo: order.outOrderNo,
    itemOrderList: [{ itemOrderId: order.itemOrderId, skuId: order.skuId, price: order.totalAmount }],
  };
}

/** What is wrong with an order `data` as Douyin checks it (payments-beyond.md, `data`), or undefined. */
function orderDataProblem(data: Record<string, unknown>): string | undefined {
  const skuList = data.skuList;
  if (!Array.isArray(skuList) || skuList.length !== 1 || !isPlainObject(skuList[0])) {
    return 'skuList must hold exactly one SKU line';
  }
  const sku = skuList[0];
  if (
    typeof sku.skuId !== 'string' ||
    sku.skuId === '' ||
    typeof sku.title !== 'string' ||
    !Array.isArray(sku.imageList)
  ) {
    return 'the SKU line needs skuId, title and imageList';
  }
  if (!Number.isSafeInteger(sku.price) || !Number.isSafeInteger(sku.quantity))
    return 'price and quantity are whole numbers';
  const quantity = sku.quantity as number;
  if (quantity < 1 || quantity > 100) return 'quantity must be 1–100';
  if (typeof data.outOrderNo !== 'string' || data.outOrderNo === '' || data.outOrderNo.length > 64) {
    return 'outOrderNo must be 1–64 characters';
  }
  if (!Number.isSafeInteger(data.totalAmount) || (data.totalAmount as number) < 1) return 'totalAmount must be ≥ 1 fen';
  if ((sku.price as number) * quantity !== data.totalAmount) return 'price × quantity must equal totalAmount';
  const expire = data.payExpireSeconds;
  if (!Number.isSafeInteger(expire) || (expire as number) < 1 || (expire as number) > MAX_PAY_EXPIRE_SECONDS) {
    return 'payExpireSeconds must be 1–172800';
  }
  // Douyin takes an HTTPS payNotifyUrl only, and boot refuses a real one that is not (server/config.ts).
  // Here plain http is taken all the same: the offline server calls itself back at
  // http://127.0.0.1:PORT (no PUBLIC_BASE_URL), and refusing it would break every sandbox checkout.
  if (typeof data.payNotifyUrl !== 'string' || !/^https?:\/\//.test(data.payNotifyUrl))
    return 'payNotifyUrl must be a URL';
  return undefined;
}
