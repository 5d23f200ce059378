import Taro from '@tarojs/taro';
import { CheckoutError, ClientErrorCode, readErrMsg } from '../api/errors';
import { OrderStatusCode, PayResponse } from '../api/types';
import { LoginCode, PaymentContext, PaymentOutcome } from './contract';
import { isThenable } from './thenable';
import { outcomeFromCashierFailure, outcomeFromCashierResult } from './tt-payment-result';

export const platform = 'tt';

/**
 * How long the cashier's own callback may still arrive after the page shows again. When the
 * callback works, it follows the cashier closing closely (the exact order is unconfirmed); when
 * the shopper closed the cashier with the system back gesture it may never come.
 */
export const CASHIER_CALLBACK_GRACE_MS = 1500;

/** `tt.login` gives `code` and, for the device, `anonymousCode`; the server exchanges both. */
export async function loginCode(): Promise<LoginCode> {
  let errMsg: string | undefined;
  try {
    const { code, anonymousCode, errMsg: loginErrMsg } = await Taro.login();
    if (code) return anonymousCode ? { code, anonymousCode } : { code };
    errMsg = loginErrMsg;
  } catch (failure) {
    errMsg = readErrMsg(failure);
  }
  throw new CheckoutError(ClientErrorCode.loginFailed, errMsg ?? 'login:fail');
}

/**
 * Opens Douyin's cashier and settles once, with the first of: the cashier's callback, the
 * Promise Taro wraps around it, or the recovery after the page showed again without either.
 * Whatever arrives after that (a late callback) is ignored, so the flow confirms exactly once.
 *
 * Accepts any platform's pay response, because the server could answer for another platform.
 */
export function presentPayment(payResponse: PayResponse, context: PaymentContext): Promise<PaymentOutcome> {
  if (payResponse.platform !== platform || !('service' in payResponse)) {
    return Promise.resolve({
      kind: 'failed',
      code: ClientErrorCode.paymentPlatformMismatch,
      message: `expected a tt.pay payment, got ${payResponse.platform}`,
    });
  }
  const { orderInfo, service } = payResponse;

  return new Promise((resolve) => {
    let settled = false;
    let recoveryTimer: ReturnType<typeof setTimeout> | undefined;
    const stopWatchingPage = context.onPageShown(() => {
      // The server has the final word either way: "submitted" makes the flow ask it.
      recoveryTimer ??= setTimeout(() => settle({ kind: 'submitted' }), CASHIER_CALLBACK_GRACE_MS);
    });
    function settle(outcome: PaymentOutcome): void {
      if (settled) return;
      settled = true;
      clearTimeout(recoveryTimer);
      stopWatchingPage();
      resolve(outcome);
    }
    const onResult = (result: unknown) => settle(outcomeFromCashierResult(result));
    const onFailure = (failure: unknown) => settle(outcomeFromCashierFailure(failure));

    try {
      const returned: unknown = Taro.pay({
        orderInfo,
        service,
        getOrderStatus: () => orderStatusForCashier(context),
        success: onResult,
        fail: onFailure,
      });
      if (isThenable(returned)) returned.then(onResult, onFailure);
    } catch (failure) {
      onFailure(failure);
    }
  });
}

/**
 * Douyin's `getOrderStatus`: the cashier asks after the WeChat H5 leg. It must always get an
 * answer, so a request that fails answers 9 ("unknown, the merchant checks"), never a rejection.
 */
async function orderStatusForCashier(context: PaymentContext): Promise<{ code: OrderStatusCode }> {
  try {
    const { code } = await context.getOrderStatus();
    return { code };
  } catch {
    return { code: OrderStatusCode.pending };
  }
}
