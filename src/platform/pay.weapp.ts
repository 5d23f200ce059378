import Taro from '@tarojs/taro';
import { CheckoutError, ClientErrorCode, readErrMsg } from '../api/errors';
import { WeappPaymentParams } from '../api/types';
import { LoginCode, PaymentOutcome } from './contract';
import { isThenable } from './thenable';
import { outcomeFromWeappPaymentFailure, outcomeFromWeappPaymentSuccess } from './weapp-payment-result';

export const platform = 'weapp';

export async function loginCode(): Promise<LoginCode> {
  let errMsg: string | undefined;
  try {
    const result = await Taro.login();
    if (result.code) return { code: result.code };
    errMsg = result.errMsg;
  } catch (failure) {
    errMsg = readErrMsg(failure);
  }
  throw new CheckoutError(ClientErrorCode.loginFailed, errMsg ?? 'login:fail');
}

/** Accepts any platform's pay response, because the server could answer for another platform. */
export async function presentPayment(payResponse: {
  platform: string;
  requestPayment?: WeappPaymentParams;
}): Promise<PaymentOutcome> {
  if (payResponse.platform !== platform || !payResponse.requestPayment) {
    return {
      kind: 'failed',
      code: ClientErrorCode.paymentPlatformMismatch,
      message: `expected a weapp payment, got ${payResponse.platform}`,
    };
  }
  try {
    return outcomeFromWeappPaymentSuccess(await requestPayment(payResponse.requestPayment));
  } catch (failure) {
    return outcomeFromWeappPaymentFailure(failure);
  }
}

/**
 * Taro passes `requestPayment` straight through to `wx` on weapp. `wx` calls the callbacks when
 * given them and returns a Promise otherwise (base library ≥ 2.10.2); give both ways a chance and
 * settle on whichever answers first, so neither an old base library nor a Promise-only double hangs.
 */
function requestPayment(params: WeappPaymentParams): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const returned: unknown = Taro.requestPayment({ ...params, success: resolve, fail: reject });
    if (isThenable(returned)) returned.then(resolve, reject);
  });
}
