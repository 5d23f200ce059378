import { Router, type RouterContext } from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { INJECTABLE_DOUYIN_LOGIN_ERRORS, type DouyinEmulator, type InjectableDouyinLoginError } from './douyin';
import type { GatewayDependencies } from './gateway';
import { BodyTooLargeError, parseJsonObject, readBody, sendError } from './http';
import type { Notifier } from './notifications';
import { settleAndNotify } from './settlement';
import type { Bill, GatewayStore } from './store';
import { INJECTABLE_LOGIN_ERRORS, type WechatEmulator } from './wechat';

/**
 * Control endpoints under `/sandbox/`: what a developer or a test does in place of the
 * shopper and the channels (mint login codes, pay or fail bills, watch webhooks).
 * Errors answer `{error: {code, message}}` with a 4xx status.
 */

export interface ControlDependencies {
  store: GatewayStore;
  notifier: Notifier;
  wechat: WechatEmulator;
  douyin: DouyinEmulator;
  gateway: Pick<GatewayDependencies, 'appId' | 'masterSecret' | 'wechatAppId' | 'mchId' | 'now'>;
  alipayPublicKey: () => string;
}

const identifier = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, _ or -');

const mintCodeSchema = z
  .object({
    openid: identifier.optional(),
    unionid: identifier.optional(),
    errcode: z
      .number()
      .refine((value) => (INJECTABLE_LOGIN_ERRORS as readonly number[]).includes(value), {
        message: `errcode must be one of ${INJECTABLE_LOGIN_ERRORS.join(', ')}`,
      })
      .optional(),
    times: z.number().int().positive().optional(),
  })
  .strict();

const mintDouyinCodeSchema = z
  .object({
    openid: identifier.optional(),
    unionid: identifier.optional(),
    errNo: z
      .number()
      .refine((value) => (INJECTABLE_DOUYIN_LOGIN_ERRORS as readonly number[]).includes(value), {
        message: `errNo must be one of ${INJECTABLE_DOUYIN_LOGIN_ERRORS.join(', ')}`,
      })
      .optional(),
    times: z.number().int().positive().optional(),
  })
  .strict();

const settleSchema = z
  .object({
    result: z.enum(['paid', 'failed', 'closed']),
    notify: z.boolean().default(true),
  })
  .strict();

const faultSchema = z
  .object({
    result_code: z.union([z.literal(7), z.literal(14)]),
    count: z.number().int().positive().default(1),
    operation: z.enum(['bill', 'refund', 'query', 'any']).default('any'),
    err_detail: z.string().max(200).optional(),
  })
  .strict();

/** Reads a JSON body (empty means `{}`) and validates it; answers 400 and returns undefined when it is bad. */
async function readControlBody<T>(ctx: Context, schema: z.ZodType<T>): Promise<T | undefined> {
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

  function billView(bill: Bill): Record<string, unknown> {
    const view: Record<string, unknown> = {
      bill_no: bill.billNo,
      channel: bill.channel,
      total_fee: bill.totalFee,
      status: store.effectiveStatus(bill, now()),
      created_at: bill.createdAt,
      title: bill.title,
      notify_url: bill.notifyUrl ?? null,
      gateway_id: bill.id,
      mode: bill.mode,
      refunded_fee: bill.refundedFee,
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
    if (!bill) sendError(ctx, 404, 'NO_SUCH_BILL', `no bill ${billNo}`);
    return bill;
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
    const billNo = typeof ctx.query.bill_no === 'string' ? ctx.query.bill_no : undefined;
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
    if (store.effectiveStatus(bill, now()) === 'open') {
      sendError(ctx, 409, 'BILL_OPEN', `bill ${bill.billNo} is still open: settle it first`);
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

  router.post('/gateway/faults', async (ctx) => {
    const input = await readControlBody(ctx, faultSchema);
    if (!input) return;
    const detail =
      input.err_detail ??
      (input.result_code === 7 ? 'channel error injected by the sandbox' : 'runtime error injected by the sandbox');
    store.faults.push({
      resultCode: input.result_code,
      remaining: input.count,
      operation: input.operation,
      detail,
    });
    ctx.status = 201;
    ctx.body = { fault: { result_code: input.result_code, count: input.count, operation: input.operation } };
  });

  router.get('/alipay/public-key', (ctx) => {
    ctx.body = { public_key: deps.alipayPublicKey() };
  });

  return router;
}
