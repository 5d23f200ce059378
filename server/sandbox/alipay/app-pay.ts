import { Router } from '@koa/router';
import type { Context } from 'koa';
import { describeRoutes } from '../../openapi/operations';
import { alipayAppOperations, alipayAppPaySchema } from '../control-contract';
import { BodyTooLargeError, parseJsonObject, readBody, sendError } from '../shared/http';
import { settleAndNotify, type SettlementDependencies } from '../gateway/settlement';
import { verifyAlipayOrderString } from '../shared/signing';
import type { Bill, GatewayStore } from '../gateway/store';
import { chinaDateTime } from '../shared/time';
import { fenToYuan, SANDBOX_ALIPAY_SELLER_ID } from '../gateway/webhook-message';

/**
 * The Alipay App leg: what the Alipay app does with an `ALI_APP` `order_string` (what Douyin's
 * cashier calls `alipay_url`) once the shopper confirms or cancels.
 *
 *   POST /sandbox/alipay/app-pay {order_string, action?: "pay" | "cancel"}   (JSON; action defaults to pay)
 *
 * The order string's RSA2 signature is checked with the sandbox's key, the bill found by the
 * `out_trade_no` of its `biz_content` and the amount compared; `pay` then settles the bill
 * paid through the same path as `POST /sandbox/bills/:bill_no/settle` (PAY webhook with
 * retries). The answer is the result object the Alipay SDK hands the app, HTTP 200:
 *
 *   9000  paid: `result` is the JSON text `{"alipay_trade_app_pay_response":{code:"10000", msg:"Success",
 *         app_id, auth_app_id, charset, timestamp, out_trade_no, trade_no, total_amount, seller_id},
 *         "sign":…, "sign_type":"RSA2"}`, `sign` being SHA256withRSA over the response object's
 *         JSON text, verifiable with `GET /sandbox/alipay/public-key`
 *   6001  the shopper cancelled (`memo` 用户中途取消); the bill stays open
 *   4000  the order cannot be paid: bad signature, unknown bill, amount mismatch, bill not open
 *
 * A body that is not a JSON object, or has no `order_string`, is a 400 `{error}`: that is a
 * mistake in the caller, not something the Alipay app would report.
 */

export interface AlipayAppDependencies extends SettlementDependencies {
  store: GatewayStore;
  alipayAppId: string;
  alipayPublicKey: () => string;
  alipaySign: (content: string) => string;
  log: (line: string) => void;
}

export interface AlipayAppResult {
  resultStatus: '9000' | '6001' | '4000';
  memo: string;
  result: string;
}

export function createAlipayAppRoutes(deps: AlipayAppDependencies): Router {
  const { store } = deps;
  const now = deps.gateway.now;
  const router = new Router();

  const failed = (memo: string): AlipayAppResult => ({ resultStatus: '4000', memo, result: '' });

  /** The bill an order string pays, or the 4000 result explaining why it cannot be paid. */
  function orderBill(orderString: string): { bill: Bill } | { result: AlipayAppResult } {
    let verified: ReturnType<typeof verifyAlipayOrderString>;
    try {
      verified = verifyAlipayOrderString(orderString, deps.alipayPublicKey());
    } catch {
      // Malformed percent-encoding or a signature that is not base64 of the right size.
      return { result: failed('订单信息格式错误') };
    }
    if (!verified.valid) return { result: failed('订单信息签名验证失败') };
    const { params } = verified;
    if (params.method !== 'alipay.trade.app.pay' || params.app_id !== deps.alipayAppId) {
      return { result: failed('订单信息不是本应用的 App 支付订单') };
    }
    const biz = parseJsonObject(params.biz_content ?? '', 'biz_content');
    if (!biz.ok) return { result: failed('订单信息 biz_content 格式错误') };
    const outTradeNo = biz.value.out_trade_no;
    const bill = typeof outTradeNo === 'string' ? store.bills.get(outTradeNo) : undefined;
    if (!bill || bill.channel !== 'ALI_APP') return { result: failed('交易不存在') };
    if (biz.value.total_amount !== fenToYuan(bill.totalFee)) return { result: failed('订单金额与交易不符') };
    const status = store.effectiveStatus(bill, now());
    if (status === 'paid') return { result: failed('交易已支付，请勿重复支付') };
    if (status !== 'open') return { result: failed('交易已关闭') };
    return { bill };
  }

  router.post('/sandbox/alipay/app-pay', async (ctx: Context) => {
    let text: string;
    try {
      text = await readBody(ctx);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        sendError(ctx, 413, 'BODY_TOO_LARGE', error.message);
        return;
      }
      throw error;
    }
    const parsed = parseJsonObject(text, 'request body');
    if (!parsed.ok) {
      sendError(ctx, 400, 'BAD_REQUEST', parsed.error);
      return;
    }
    const body = alipayAppPaySchema.safeParse(parsed.value);
    if (!body.success) {
      sendError(ctx, 400, 'BAD_REQUEST', body.error.issues[0]?.message ?? 'invalid request body');
      return;
    }
    const { order_string: orderString, action } = body.data;

    const found = orderBill(orderString);
    let answer: AlipayAppResult;
    if ('result' in found) {
      answer = found.result;
    } else if (action === 'cancel') {
      answer = { resultStatus: '6001', memo: '用户中途取消', result: '' };
    } else {
      const { bill } = found;
      const outcome = settleAndNotify(deps, bill, 'paid');
      answer = 'refused' in outcome ? failed('交易已支付，请勿重复支付') : paidResult(bill);
    }
    deps.log(`alipay app-pay ${action} -> ${answer.resultStatus} ${answer.memo}`);
    ctx.status = 200;
    ctx.body = answer;
  });

  function paidResult(bill: Bill): AlipayAppResult {
    const response = {
      code: '10000',
      msg: 'Success',
      app_id: deps.alipayAppId,
      auth_app_id: deps.alipayAppId,
      charset: 'utf-8',
      timestamp: chinaDateTime(bill.successTime ?? now()),
      out_trade_no: bill.billNo,
      trade_no: bill.tradeNo ?? '',
      total_amount: fenToYuan(bill.totalFee),
      seller_id: SANDBOX_ALIPAY_SELLER_ID,
    };
    const responseText = JSON.stringify(response);
    // Alipay signs the response object's JSON text exactly as it appears in `result`.
    const result = `{"alipay_trade_app_pay_response":${responseText},"sign":${JSON.stringify(
      deps.alipaySign(responseText),
    )},"sign_type":"RSA2"}`;
    return { resultStatus: '9000', memo: '', result };
  }

  return describeRoutes(router, alipayAppOperations);
}
