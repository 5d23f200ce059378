import { Router } from '@koa/router';
import type { Context } from 'koa';
import { describeRoutes } from '../../../openapi/operations';
import { readControlBody } from '../../control';
import { BodyTooLargeError, echoed, parseJsonObject, readBody, sendError } from '../../shared/http';
import { digits, randomString } from '../../shared/random';
import { chinaDateTime } from '../../shared/time';
import type { DouyinPayKeyRing } from '../keys';
import type { DouyinRefundHolds } from '../system';
import { guaranteedControlOperations, guaranteedPaySchema } from './contract';
import type { GuaranteedNotifier } from './notify';
import { expectedRequestSign } from './signing';
import type { GuaranteedOrder, GuaranteedRefund, GuaranteedStore } from './store';

/**
 * The emulated 担保支付 server API at its real paths (payments-beyond.md, "Douyin mini-program
 * payment" → 担保支付), each a JSON POST carrying `app_id` and the request `sign`, answered HTTP
 * 200 `{err_no, err_tips, …}`:
 *   POST /api/apps/ecpay/v1/create_order   → {data: {order_id, order_token}}
 *   POST /api/apps/ecpay/v1/query_order    → {out_order_no, order_id, payment_info: {total_fee, order_status, …}}
 *   POST /api/apps/ecpay/v1/create_refund  → {refund_no}
 *   POST /api/apps/ecpay/v1/query_refund   → {refundInfo: {refund_no, refund_amount, refund_status, …}}
 * and the shopper's side of `tt.pay({service: 5, orderInfo: {order_id, order_token}})`:
 *   POST /sandbox/douyin/guaranteed/pay {order_id, order_token, action?: "open"|"pay"|"cancel"} → {code?, order}
 * The `err_no` values are the sandbox's own (Douyin's list is not in payments-beyond.md); a
 * missing order or refund is told by `err_tips` 订单不存在 / 退款单不存在. A repeated
 * `out_order_no` or `out_refund_no` with the same parameters is answered as the first was, with
 * others refused (Douyin's answer to a repeat is unconfirmed). The checkout never depends on it: it
 * never sends a bill number again (a creation whose answer was lost is asked about with
 * `query_order`), nor a refund (the adapter declares `idempotentRefunds: false`, so a refund
 * without an answer is settled by `query_refund`).
 */

/** The sandbox's own `err_no` values (Douyin's list is not in payments-beyond.md). */
export const ERR = {
  PARAMS: 1001,
  APP_ID: 1002,
  SIGN: 1003,
  ORDER_NOT_FOUND: 2008,
  DUPLICATE: 2009,
  STATE: 2010,
  AMOUNT: 2011,
  REFUND_NOT_FOUND: 2012,
} as const;

/** What the routes share with the rest of the emulated 担保支付. */
export interface GuaranteedApiDependencies {
  appId: string;
  keys: DouyinPayKeyRing;
  store: GuaranteedStore;
  notifier: GuaranteedNotifier;
  /** Shared with the 通用交易系统: refunds held processing (`POST /sandbox/douyin/refunds/hold`). */
  holds: DouyinRefundHolds;
  now: () => number;
  /** Runs work after the answer (a refund's outcome). */
  later: (task: () => void) => void;
}

class Refusal extends Error {
  constructor(
    readonly errNo: number,
    readonly errTips: string,
  ) {
    super(errTips);
  }
}

function text(params: Record<string, unknown>, name: string, max: number, required = true): string | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === '') {
    if (required) throw new Refusal(ERR.PARAMS, `参数错误: ${name} 不能为空`);
    return undefined;
  }
  if (typeof value !== 'string' || [...value].length > max) throw new Refusal(ERR.PARAMS, `参数错误: ${name}`);
  return value;
}

function integer(params: Record<string, unknown>, name: string, min: number, max: number): number {
  const value = params[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new Refusal(ERR.PARAMS, `参数错误: ${name}`);
  }
  return value;
}

/** Whether an unpaid order's `valid_time` has run out, closing it if so. */
export function expireIfDue(order: GuaranteedOrder, now: number, store: GuaranteedStore): void {
  if (order.status === 'pending' && now >= order.createdAt + order.validTime * 1000) {
    order.status = 'closed';
    store.save();
  }
}

/** `order_status` as `query_order` answers it. */
function orderStatusOf(order: GuaranteedOrder): 'PROCESSING' | 'SUCCESS' | 'TIMEOUT' {
  return order.status === 'paid' ? 'SUCCESS' : order.status === 'closed' ? 'TIMEOUT' : 'PROCESSING';
}

/** Marks a pending order paid (WeChat by default) and starts its callback when `notify`. */
export function payOrder(deps: GuaranteedApiDependencies, order: GuaranteedOrder, notify: boolean): void {
  order.status = 'paid';
  order.paidAt = deps.now();
  order.way = '1';
  order.channelNo = `4200${digits(24)}`;
  deps.store.save();
  if (notify) deps.notifier.notifyPayment(order);
}

/**
 * Ends a processing refund as Douyin would (a failed one no longer counts against the order, see
 * `refundedOf`); `notify` starts its refund callback. Whether a callback started.
 */
export function finishRefund(
  deps: GuaranteedApiDependencies,
  refund: GuaranteedRefund,
  status: 'SUCCESS' | 'FAIL',
  notify: boolean,
): boolean {
  refund.status = status;
  refund.refundedAt = Math.floor(deps.now() / 1000);
  deps.store.save();
  const order = deps.store.orders.get(refund.outOrderNo);
  return notify && order !== undefined && deps.notifier.notifyRefund(refund, order);
}

/** The API routes and the shopper's route (described for OpenAPI), over one store. */
export function createGuaranteedApiRoutes(deps: GuaranteedApiDependencies): Router[] {
  const api = new Router({ prefix: '/api/apps/ecpay/v1' });

  /** Reads, authenticates and answers one call; `handle` gets the parsed parameters. */
  const serve =
    (handle: (params: Record<string, unknown>) => Record<string, unknown>) =>
    async (ctx: Context): Promise<void> => {
      ctx.status = 200;
      try {
        let body: string;
        try {
          body = await readBody(ctx);
        } catch (error) {
          if (error instanceof BodyTooLargeError) throw new Refusal(ERR.PARAMS, error.message);
          throw error;
        }
        const parsed = parseJsonObject(body, 'request body');
        if (!parsed.ok) throw new Refusal(ERR.PARAMS, `参数错误: ${parsed.error}`);
        const params = parsed.value;
        if (params.app_id !== deps.appId) throw new Refusal(ERR.APP_ID, 'app_id 不正确');
        const { salt } = await deps.keys.get();
        if (typeof params.sign !== 'string' || params.sign !== expectedRequestSign(params, salt)) {
          throw new Refusal(ERR.SIGN, '签名校验失败');
        }
        ctx.body = { err_no: 0, err_tips: '', ...handle(params) };
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        ctx.body = { err_no: error.errNo, err_tips: error.errTips };
      }
    };

  const orderOf = (params: Record<string, unknown>): GuaranteedOrder => {
    const order = deps.store.orders.get(text(params, 'out_order_no', 64)!);
    if (!order) throw new Refusal(ERR.ORDER_NOT_FOUND, '订单不存在');
    expireIfDue(order, deps.now(), deps.store);
    return order;
  };

  api.post(
    '/create_order',
    serve((params) => {
      const outOrderNo = text(params, 'out_order_no', 64)!;
      const totalAmount = integer(params, 'total_amount', 1, 1_000_000_000);
      const subject = text(params, 'subject', 128)!;
      const body = text(params, 'body', 128)!;
      const validTime = integer(params, 'valid_time', 1, 172_800);
      const cpExtra = text(params, 'cp_extra', 2048, false) ?? '';
      const notifyUrl = text(params, 'notify_url', 256, false);
      const fingerprint = JSON.stringify([totalAmount, subject, body, validTime, cpExtra, notifyUrl]);
      const existing = deps.store.orders.get(outOrderNo);
      if (existing) {
        if (existing.fingerprint !== fingerprint) throw new Refusal(ERR.DUPLICATE, 'out_order_no 重复且参数不一致');
        return { data: { order_id: existing.orderId, order_token: existing.orderToken } };
      }
      const order: GuaranteedOrder = {
        outOrderNo,
        orderId: `7${digits(18)}`,
        orderToken: randomString(40),
        totalAmount,
        subject,
        body,
        validTime,
        cpExtra,
        notifyUrl,
        fingerprint,
        createdAt: deps.now(),
        status: 'pending',
        deliveries: [],
      };
      deps.store.addOrder(order);
      deps.store.save();
      return { data: { order_id: order.orderId, order_token: order.orderToken } };
    }),
  );

  api.post(
    '/query_order',
    serve((params) => {
      const order = orderOf(params);
      return {
        out_order_no: order.outOrderNo,
        order_id: order.orderId,
        payment_info: {
          total_fee: order.totalAmount,
          order_status: orderStatusOf(order),
          pay_time: order.paidAt === undefined ? '' : chinaDateTime(order.paidAt),
          way: order.way ?? '',
          channel_no: order.channelNo ?? '',
          channel_gateway_no: '',
          seller_uid: '70000000000000000001',
          item_id: '',
          cp_extra: order.cpExtra,
        },
      };
    }),
  );

  api.post(
    '/create_refund',
    serve((params) => {
      const order = orderOf(params);
      const outRefundNo = text(params, 'out_refund_no', 64)!;
      const refundAmount = integer(params, 'refund_amount', 1, 1_000_000_000);
      const reason = text(params, 'reason', 100)!;
      const cpExtra = text(params, 'cp_extra', 2048, false) ?? '';
      const notifyUrl = text(params, 'notify_url', 256, false);
      const fingerprint = JSON.stringify([order.outOrderNo, refundAmount, reason, cpExtra, notifyUrl]);
      const existing = deps.store.refunds.get(outRefundNo);
      if (existing) {
        if (existing.fingerprint !== fingerprint) throw new Refusal(ERR.DUPLICATE, 'out_refund_no 重复且参数不一致');
        return { refund_no: existing.refundNo };
      }
      if (order.status !== 'paid') throw new Refusal(ERR.STATE, '订单未支付, 不能退款');
      if (refundAmount > order.totalAmount - deps.store.refundedOf(order.outOrderNo)) {
        throw new Refusal(ERR.AMOUNT, '退款金额超过可退金额');
      }
      const refund = {
        outRefundNo,
        refundNo: `7${digits(18)}`,
        outOrderNo: order.outOrderNo,
        refundAmount,
        reason,
        cpExtra,
        notifyUrl,
        fingerprint,
        status: 'PROCESSING' as const,
        deliveries: [],
      };
      deps.store.refunds.set(outRefundNo, refund);
      deps.store.save();
      // Douyin refunds a little later; the sandbox at once, after answering, unless the refund is
      // held for `POST /sandbox/douyin/refunds/:outRefundNo/settle`.
      if (!deps.holds.take()) {
        deps.later(() => {
          const stored = deps.store.refunds.get(outRefundNo);
          if (stored?.status === 'PROCESSING') finishRefund(deps, stored, 'SUCCESS', true);
        });
      }
      return { refund_no: refund.refundNo };
    }),
  );

  api.post(
    '/query_refund',
    serve((params) => {
      const refund = deps.store.refunds.get(text(params, 'out_refund_no', 64)!);
      if (!refund) throw new Refusal(ERR.REFUND_NOT_FOUND, '退款单不存在');
      return {
        refundInfo: {
          refund_no: refund.refundNo,
          refund_amount: refund.refundAmount,
          refund_status: refund.status,
          refunded_at: refund.refundedAt ?? 0,
          is_all_settled: false,
          cp_extra: refund.cpExtra,
          msg: '',
        },
      };
    }),
  );

  const shopper = new Router({ prefix: '/sandbox/douyin/guaranteed' });
  shopper.post('/pay', async (ctx) => {
    const input = await readControlBody(ctx, guaranteedPaySchema);
    if (!input) return;
    const order = deps.store.byOrderId(input.order_id);
    if (!order) {
      sendError(ctx, 404, 'NO_SUCH_ORDER', `no 担保支付 order ${echoed(input.order_id)}`);
      return;
    }
    if (order.orderToken !== input.order_token) {
      sendError(
        ctx,
        403,
        'ORDER_TOKEN_MISMATCH',
        `order_token is not the one create_order answered for ${order.orderId}`,
      );
      return;
    }
    expireIfDue(order, deps.now(), deps.store);
    if (order.status !== 'pending') {
      sendError(ctx, 409, 'ORDER_STATE_CONFLICT', `order ${order.orderId} is ${order.status}`);
      return;
    }
    if (input.action === 'pay') payOrder(deps, order, true);
    const shown = { orderId: order.orderId, outOrderNo: order.outOrderNo, status: order.status };
    ctx.body = input.action === 'open' ? { order: shown } : { code: input.action === 'pay' ? 0 : 4, order: shown };
  });

  return [api, describeRoutes(shopper, guaranteedControlOperations)];
}
