import { ClientErrorCode, readErrMsg } from '../api/errors';
import { PaymentOutcome } from './contract';

const CANCELLED_ERR_MSG = 'requestPayment:fail cancel';

/**
 * WeChat reports parameter and signature problems as `requestPayment:fail <detail>` too, e.g.
 * "parameter error: …", "支付验证签名失败", "invalid sign"; the wording varies by base library.
 */
const PARAMS_PROBLEM = /sign|签名|param|参数|package|prepay/i;

/** Maps what `wx.requestPayment` resolved with onto a PaymentOutcome. */
export function outcomeFromWeappPaymentSuccess(result: unknown): PaymentOutcome {
  const errMsg = readErrMsg(result);
  // Some base libraries resolve with a `fail` errMsg instead of rejecting; never read that as success.
  if (errMsg !== undefined && /:fail/.test(errMsg)) return outcomeFromWeappPaymentFailure(result);
  return { kind: 'submitted' };
}

/** Maps what `wx.requestPayment` rejected with onto a PaymentOutcome. Only the exact cancel message is a cancel. */
export function outcomeFromWeappPaymentFailure(failure: unknown): PaymentOutcome {
  const errMsg = readErrMsg(failure) ?? (failure instanceof Error ? failure.message : String(failure));
  if (errMsg.trim() === CANCELLED_ERR_MSG) return { kind: 'cancelled' };
  const detail = errMsg.replace(/^requestPayment:fail\s*/, '');
  if (PARAMS_PROBLEM.test(detail)) {
    return { kind: 'failed', code: ClientErrorCode.paymentParamsInvalid, message: errMsg };
  }
  return { kind: 'failed', code: ClientErrorCode.paymentFailed, message: errMsg };
}
