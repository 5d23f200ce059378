import { ClientErrorCode, isRecord, readErrMsg } from '../api/errors';
import { PaymentOutcome } from './contract';

/** `success(res).code` of Douyin's cashier (`tt.pay`). */
export const CashierResultCode = {
  paid: 0,
  timedOut: 1,
  failed: 2,
  closed: 3,
  cancelled: 4,
  unknown: 9,
} as const;

/**
 * Douyin's order errors, shown when `orderInfo` is refused: CD0011 / CD0015 parameters, CD0025
 * signature, CD0402 order no longer valid, TS4113 order time. The wording that reaches `fail` is
 * unconfirmed, so codes and the usual words both count. None of these can be fixed by paying the
 * same `orderInfo` again.
 */
const ORDER_INFO_PROBLEM = /sign|签名|param|参数|CD\d{4}|TS\d{4}/i;

/**
 * Maps what the cashier reported through `success` onto a PaymentOutcome.
 *
 * Only 4 (the shopper cancelled) is taken at its word. Everything else means "ask the server":
 * - 0: paid says the cashier, but only our server's status code 0 makes the order paid.
 * - 1, 2, 3, 9: for the WeChat H5 leg these are our own `getOrderStatus` answers echoed back, so
 *   the server repeats them at once and the flow ends on them without waiting; for the Alipay leg
 *   they are the Alipay app's view only, while the shopper may have paid the WeChat leg in the
 *   same cashier. Reporting them as failed would invite a second payment of a paid order.
 * Any code outside the documented set (or none) is treated as 9, unknown.
 */
export function outcomeFromCashierResult(result: unknown): PaymentOutcome {
  const code = isRecord(result) ? Number(result.code) : Number.NaN;
  if (code === CashierResultCode.cancelled) return { kind: 'cancelled' };
  return { kind: 'submitted' };
}

/**
 * Maps `fail` (the cashier did not open) onto a PaymentOutcome. Never a cancel: the shopper did
 * not get to choose. A refused `orderInfo` needs a new order; anything else may open next time.
 */
export function outcomeFromCashierFailure(failure: unknown): PaymentOutcome {
  const errMsg = readErrMsg(failure) ?? (failure instanceof Error ? failure.message : String(failure));
  const detail = errMsg.replace(/^pay:fail\s*/, '');
  if (ORDER_INFO_PROBLEM.test(detail)) {
    return { kind: 'failed', code: ClientErrorCode.paymentParamsInvalid, message: errMsg };
  }
  return { kind: 'failed', code: ClientErrorCode.paymentSheetUnavailable, message: errMsg };
}

/**
 * Maps `tt.requestOrder`'s `fail` (通用交易系统: Douyin did not make the order) onto a
 * PaymentOutcome. Its error codes are unconfirmed, so its words decide: a refused signature or
 * parameters need new ones from the server (`PAYMENT_PARAMS_INVALID`); an order Douyin says is
 * already paid or closed is the server's to tell (`submitted`); anything else may work next time.
 */
export function outcomeFromRequestOrderFailure(failure: unknown): PaymentOutcome {
  const errMsg = readErrMsg(failure) ?? (failure instanceof Error ? failure.message : String(failure));
  if (ORDER_STATE_WORDS.test(errMsg)) return { kind: 'submitted' };
  if (ORDER_INFO_PROBLEM.test(errMsg.replace(/^requestOrder:fail\s*/, ''))) {
    return { kind: 'failed', code: ClientErrorCode.paymentParamsInvalid, message: errMsg };
  }
  return { kind: 'failed', code: ClientErrorCode.paymentSheetUnavailable, message: errMsg };
}

/** Words of an order that is no longer payable: paid, closed, expired. */
const ORDER_STATE_WORDS = /已支付|已关闭|已过期|already paid|closed|expired/i;

/**
 * Maps `tt.getOrderPayment`'s `fail` (the cashier closed without a payment, or could not open)
 * onto a PaymentOutcome: the shopper's cancel (取消 / cancel in its words; the code is
 * unconfirmed) is `cancelled`; anything else makes the flow ask the server, since the shopper may
 * have paid before the cashier failed.
 */
export function outcomeFromOrderPaymentFailure(failure: unknown): PaymentOutcome {
  const errMsg = readErrMsg(failure) ?? (failure instanceof Error ? failure.message : String(failure));
  if (/取消|cancel/i.test(errMsg)) return { kind: 'cancelled' };
  return { kind: 'submitted' };
}
