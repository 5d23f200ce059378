import { Router, type RouterContext } from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { describeRoutes } from '../openapi/operations';
import {
  billNoFilter,
  controlOperations,
  faultSchema,
  mintCodeSchema,
  mintDouyinCodeSchema,
  refundHoldSchema,
  refundSettleSchema,
  settleSchema,
  type SandboxBillView,
  type SandboxFaultView,
  type SandboxRefundView,
} from './control-contract';
import type { DouyinEmulator, InjectableDouyinLoginError } from './douyin/login';
import type { GatewayDependencies } from './gateway/gateway';
import { BodyTooLargeError, echoed, parseJsonObject, readBody, sendError } from './shared/http';
import type { Notifier } from './gateway/notifications';
import { finishRefund } from './gateway/refund-settlement';
import { settleAndNotify } from './gateway/settlement';
import type { Bill, GatewayStore, InjectedFault, Refund } from './gateway/store';
import type { INJECTABLE_LOGIN_ERRORS, WechatEmulator } from './wechat/login';

/**
 * Control endpoints under `/sandbox/`: what a developer or a test does in place of the
 * shopper and the channels (mint login codes, pay or fail bills, finish refunds, watch
 * webhooks, make the gateway fail or slow). Bodies are JSON, validated strictly by the schemas of
 * ./control-contract.ts (which also documents these routes in the server's OpenAPI document); errors
 * answer `{error: {code, message}}` with a 4xx status (400 BAD_REQUEST for a bad body).
 *
 *   POST /sandbox/wechat/codes {openid?, unionid?, errcode?, times?}   201 a wx.login code
 *   POST /sandbox/douyin/codes {openid?, unionid?, errNo?, times?}     201 a tt.login code
 *
 *   GET  /sandbox/bills[?bill_no=]            {bills: [bill view]}
 *   POST /sandbox/bills/:bill_no/settle {result: "paid"|"failed"|"closed", notify?: true}
 *        {bill, changed, notifying}. Only `paid` starts a PAY webhook (seed 001 §3.1, §3.4.2:
 *        the gateway sends webhooks for successes only); failed and closed bills show only in
 *        queries (`spay_result: false`, the channel's detail). 409 BILL_ALREADY_PAID.
 *   POST /sandbox/bills/:bill_no/notify       {bill, notifying}: the PAY webhook again (or late,
 *        after `notify: false`). 409 BILL_NOT_PAID unless paid, 409 NO_NOTIFY_URL.
 *   GET  /sandbox/bills/:bill_no/deliveries   {deliveries}: the bill's PAY webhook attempts.
 *
 *   GET  /sandbox/refunds[?bill_no=]          {refunds: [{refund_no, bill_no, refund_fee, status,
 *        channel, created_at, finished_at, deliveries}]}; status processing|succeeded|failed.
 *   POST /sandbox/refunds/hold {count?: 1}    201 {hold: {count, pending}}: the next `count`
 *        refunds stay processing (by default a refund succeeds at once).
 *   DELETE /sandbox/refunds/hold              {released}: refunds succeed at once again.
 *   POST /sandbox/refunds/:refund_no/settle {result: "succeeded"|"failed",
 *        refund_status?: "REFUNDCLOSE"|"CHANGE"}   {refund, notifying}: finishes a processing
 *        refund. A success starts the REFUND webhook only for channels that call back after
 *        a refund (§4.4.5: not WX, YEE, KUAIQIAN, BD); a failure sends nothing, gives its
 *        amount back to the bill, and makes refund/status report `refund_status` (default
 *        REFUNDCLOSE). 404 NO_SUCH_REFUND, 409 REFUND_FINISHED.
 *   GET  /sandbox/refunds/:refund_no/deliveries   {deliveries}: the refund's REFUND attempts.
 *
 *   POST /sandbox/gateway/faults {result_code?: 7|14, err_detail?, delay_ms?: 1..600000,
 *        http_status?: 500|502|503|504, operation?: "bill"|"refund"|"query"|"any", count?: 1}
 *        201 {fault}: the next `count` calls of the operation (`query`: every REST GET) are
 *        refused with `result_code` before anything is done, or carried out and then answered
 *        with an HTTP `http_status` error page, and/or answered `delay_ms` late. A delay alone
 *        holds back only the answer: the bill or refund is made first. Held answers are
 *        released when the sandbox closes.
 *   DELETE /sandbox/gateway/faults            {cleared: n}: drops the n pending faults.
 *
 *   GET  /sandbox/alipay/public-key           {public_key}
 */

export interface ControlDependencies {
  store: GatewayStore;
  notifier: Notifier;
  wechat: WechatEmulator;
  douyin: DouyinEmulator;
  gateway: Pick<GatewayDependencies, 'store' | 'appId' | 'masterSecret' | 'wechatAppId' | 'mchId' | 'now'>;
  alipayPublicKey: () => string;
}

/** Reads a JSON body (empty means `{}`) and validates it; answers 400 and returns undefined when it is bad. */
export async function readControlBody<T>(ctx: Context, schema: z.ZodType<T>): Promise<T | undefined> {
  let text: string;
  try {
    text = await readBody(ctx);
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      sendError(ctx, 413, 'BODY_TOO_LARGE', error.message);
      return undefined;
    }
    throw error;
  }
  let value: unknown = {};
  if (text.trim() !== '') {
    const parsed = parseJsonObject(text, 'request body');
    if (!parsed.ok) {
      sendError(ctx, 400, 'BAD_REQUEST', parsed.error);
      return undefined;
    }
    value = parsed.value;
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const message = result.error.issues
      .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`)
      .join('; ');
    sendError(ctx, 400, 'BAD_REQUEST', message);
    return undefined;
  }
  return result.data;
}

export function createControlRoutes(deps: ControlDependencies): Router {
  const { store, notifier } = deps;
  const now = deps.gateway.now;
  const router = new Router({ prefix: '/sandbox' });

  function billView(bill: Bill): SandboxBillView {
    const view: SandboxBillView = {
      bill_no: bill.billNo,
      channel: bill.channel,
      total_fee: bill.totalFee,
      status: store.effectiveStatus(bill, now()),
      created_at: bill.createdAt,
      title: bill.title,
      notify_url: bill.notifyUrl ?? null,
      gateway_id: bill.id,
      mode: bill.mode,
      refunded_fee: store.refundedFee(bill.billNo),
      deliveries: bill.deliveries.length,
    };
    if (bill.openid !== undefined) view.openid = bill.openid;
    if (bill.prepayId !== undefined) view.prepay_id = bill.prepayId;
    if (bill.url !== undefined) view.url = bill.url;
    if (bill.orderString !== undefined) view.order_string = bill.orderString;
    if (bill.tradeNo !== undefined) view.trade_no = bill.tradeNo;
    return view;
  }

  function findBill(ctx: RouterContext): Bill | undefined {
    const billNo = String(ctx.params.bill_no);
    const bill = store.bills.get(billNo);
    if (!bill) sendError(ctx, 404, 'NO_SUCH_BILL', `no bill ${echoed(billNo)}`);
    return bill;
  }

  function refundView(refund: Refund): SandboxRefundView {
    const bill = store.bills.get(refund.billNo) as Bill;
    return {
      refund_no: refund.refundNo,
      bill_no: refund.billNo,
      refund_fee: refund.refundFee,
      status: refund.status,
      channel: bill.channel,
      created_at: refund.createdAt,
      finished_at: refund.finishedAt ?? null,
      deliveries: refund.deliveries.length,
    };
  }

  function findRefund(ctx: RouterContext): Refund | undefined {
    const refundNo = String(ctx.params.refund_no);
    const refund = store.refunds.get(refundNo);
    if (!refund) sendError(ctx, 404, 'NO_SUCH_REFUND', `no refund ${echoed(refundNo)}`);
    return refund;
  }

  function faultView(fault: InjectedFault): SandboxFaultView {
    const view: SandboxFaultView = { operation: fault.operation, count: fault.remaining };
    if (fault.resultCode !== undefined) {
      Object.assign(view, { result_code: fault.resultCode, err_detail: fault.detail });
    }
    if (fault.httpStatus !== undefined) view.http_status = fault.httpStatus;
    if (fault.delayMs !== undefined) view.delay_ms = fault.delayMs;
    return view;
  }

  router.post('/wechat/codes', async (ctx) => {
    const input = await readControlBody(ctx, mintCodeSchema);
    if (!input) return;
    ctx.status = 201;
    ctx.body = deps.wechat.mintCode({
      ...input,
      errcode: input.errcode as (typeof INJECTABLE_LOGIN_ERRORS)[number] | undefined,
    });
  });

  router.post('/douyin/codes', async (ctx) => {
    const input = await readControlBody(ctx, mintDouyinCodeSchema);
    if (!input) return;
    ctx.status = 201;
    ctx.body = deps.douyin.mintCode({
      ...input,
      errNo: input.errNo as InjectableDouyinLoginError | undefined,
    });
  });

  router.get('/bills', (ctx) => {
    const billNo = billNoOf(ctx.query);
    const bills = [...store.bills.values()].filter((bill) => billNo === undefined || bill.billNo === billNo);
    ctx.body = { bills: bills.map(billView) };
  });

  router.post('/bills/:bill_no/settle', async (ctx) => {
    const bill = findBill(ctx);
    if (!bill) return;
    const input = await readControlBody(ctx, settleSchema);
    if (!input) return;
    const outcome = settleAndNotify(deps, bill, input.result, input.notify);
    if ('refused' in outcome) {
      sendError(ctx, 409, 'BILL_ALREADY_PAID', `${outcome.refused}; a paid bill cannot become ${input.result}`);
      return;
    }
    ctx.body = { bill: billView(bill), changed: outcome.changed, notifying: outcome.notifying };
  });

  router.post('/bills/:bill_no/notify', (ctx) => {
    const bill = findBill(ctx);
    if (!bill) return;
    const status = store.effectiveStatus(bill, now());
    if (status !== 'paid') {
      sendError(
        ctx,
        409,
        'BILL_NOT_PAID',
        `bill ${bill.billNo} is ${status}, not paid: the gateway sends webhooks only for successful payments ` +
          '(manual §3.1, §3.4.2)',
      );
      return;
    }
    if (!bill.notifyUrl) {
      sendError(ctx, 409, 'NO_NOTIFY_URL', `bill ${bill.billNo} was made without notify_url: nowhere to deliver`);
      return;
    }
    ctx.body = { bill: billView(bill), notifying: notifier.notifyPayment(bill) };
  });

  router.get('/bills/:bill_no/deliveries', (ctx) => {
    const bill = findBill(ctx);
    if (!bill) return;
    ctx.body = { deliveries: bill.deliveries };
  });

  router.get('/refunds', (ctx) => {
    const billNo = billNoOf(ctx.query);
    const refunds = [...store.refunds.values()].filter((refund) => billNo === undefined || refund.billNo === billNo);
    ctx.body = { refunds: refunds.map(refundView) };
  });

  router.post('/refunds/hold', async (ctx) => {
    const input = await readControlBody(ctx, refundHoldSchema);
    if (!input) return;
    store.refundHolds += input.count;
    ctx.status = 201;
    ctx.body = { hold: { count: input.count, pending: store.refundHolds } };
  });

  router.delete('/refunds/hold', (ctx) => {
    const released = store.refundHolds;
    store.refundHolds = 0;
    ctx.body = { released };
  });

  router.post('/refunds/:refund_no/settle', async (ctx) => {
    const refund = findRefund(ctx);
    if (!refund) return;
    const input = await readControlBody(ctx, refundSettleSchema);
    if (!input) return;
    const bill = store.bills.get(refund.billNo) as Bill;
    const outcome = finishRefund(deps, refund, bill, input.result, input.refund_status);
    if ('refused' in outcome) {
      sendError(ctx, 409, 'REFUND_FINISHED', `${outcome.refused}; a finished refund cannot change`);
      return;
    }
    ctx.body = { refund: refundView(refund), notifying: outcome.notifying };
  });

  router.get('/refunds/:refund_no/deliveries', (ctx) => {
    const refund = findRefund(ctx);
    if (!refund) return;
    ctx.body = { deliveries: refund.deliveries };
  });

  router.post('/gateway/faults', async (ctx) => {
    const input = await readControlBody(ctx, faultSchema);
    if (!input) return;
    const fault: InjectedFault = { remaining: input.count, operation: input.operation };
    if (input.result_code !== undefined) {
      fault.resultCode = input.result_code;
      fault.detail =
        input.err_detail ??
        (input.result_code === 7 ? 'channel error injected by the sandbox' : 'runtime error injected by the sandbox');
    }
    if (input.http_status !== undefined) fault.httpStatus = input.http_status;
    if (input.delay_ms !== undefined) fault.delayMs = input.delay_ms;
    store.faults.push(fault);
    ctx.status = 201;
    ctx.body = { fault: faultView(fault) };
  });

  router.delete('/gateway/faults', (ctx) => {
    ctx.body = { cleared: store.clearFaults() };
  });

  router.get('/alipay/public-key', (ctx) => {
    ctx.body = { public_key: deps.alipayPublicKey() };
  });

  return describeRoutes(router, controlOperations);
}

/** The `bill_no` filter of a listing; a repeated one filters nothing. */
function billNoOf(query: unknown): string | undefined {
  const parsed = billNoFilter.safeParse(query);
  return parsed.success ? parsed.data.bill_no : undefined;
}
