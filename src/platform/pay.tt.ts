import Taro from '@tarojs/taro';
import { CheckoutError, ClientErrorCode, isRecord, readErrMsg } from '../api/errors';
import { OrderStatusCode, PayResponse } from '../api/types';
import { LoginCode, PaymentContext, PaymentOutcome } from './contract';
import { isThenable } from './thenable';
import {
  outcomeFromCashierFailure,
  outcomeFromCashierResult,
  outcomeFromOrderPaymentFailure,
  outcomeFromRequestOrderFailure,
} from './tt-payment-result';

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
  if (payResponse.platform === platform && 'requestOrder' in payResponse) {
    return presentRequestOrder(payResponse.requestOrder, context);
  }
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

type TtApi = (options: Record<string, unknown>) => unknown;

/**
 * A `tt` API by name: Taro's proxy when it made one (Taro copies every API the global `tt` has
 * when the bundle loads), else the global `tt`'s own. Taro 4's tt plugin declares neither
 * `requestOrder` nor `getOrderPayment`, so TypeScript cannot know them.
 */
function ttApi(name: 'requestOrder' | 'getOrderPayment'): TtApi | undefined {
  const fromTaro = (Taro as unknown as Record<string, unknown>)[name];
  if (typeof fromTaro === 'function') return fromTaro as TtApi;
  const global = (globalThis as { tt?: Record<string, unknown> }).tt;
  const own = global?.[name];
  return typeof own === 'function' ? (own as TtApi).bind(global) : undefined;
}

/**
 * 通用交易系统: `tt.requestOrder({data, byteAuthorization})` (Douyin checks the signature and makes
 * the order), then `tt.getOrderPayment({orderId})` opens Douyin's cashier for it (payments-beyond.md,
 * 通用交易系统: the exact parameters and result fields are unconfirmed; `orderId` is read from
 * `success`). Settles once, like `tt.pay`: with the first callback, the Promise Taro may wrap
 * around it, or the recovery after the page showed again without either. Every outcome but a
 * cancel or a refused request makes the flow ask the server, which has the final word.
 */
function presentRequestOrder(
  requestOrder: { readonly data: string; readonly byteAuthorization: string },
  context: PaymentContext,
): Promise<PaymentOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    let cashierOpening = false;
    let recoveryTimer: ReturnType<typeof setTimeout> | undefined;
    const stopWatchingPage = context.onPageShown(() => {
      // Only once the cashier was asked for: before that, nothing left the page.
      if (cashierOpening) recoveryTimer ??= setTimeout(() => settle({ kind: 'submitted' }), CASHIER_CALLBACK_GRACE_MS);
    });
    function settle(outcome: PaymentOutcome): void {
      if (settled) return;
      settled = true;
      clearTimeout(recoveryTimer);
      stopWatchingPage();
      resolve(outcome);
    }
    const unavailable = (name: string): PaymentOutcome => ({
      kind: 'failed',
      code: ClientErrorCode.paymentSheetUnavailable,
      message: `tt.${name} is not available in this Douyin version`,
    });

    let ordered = false;
    const onOrdered = (result: unknown) => {
      if (ordered || settled) return;
      ordered = true;
      const orderId = isRecord(result) && typeof result.orderId === 'string' ? result.orderId : undefined;
      if (!orderId) {
        settle({ kind: 'submitted' });
        return;
      }
      const getOrderPayment = ttApi('getOrderPayment');
      if (!getOrderPayment) {
        settle(unavailable('getOrderPayment'));
        return;
      }
      cashierOpening = true;
      const onPaid = () => settle({ kind: 'submitted' });
      const onUnpaid = (failure: unknown) => settle(outcomeFromOrderPaymentFailure(failure));
      try {
        const returned = getOrderPayment({ orderId, success: onPaid, fail: onUnpaid });
        if (isThenable(returned)) returned.then(onPaid, onUnpaid);
      } catch (failure) {
        onUnpaid(failure);
      }
    };
    const onRefused = (failure: unknown) => {
      if (!ordered) settle(outcomeFromRequestOrderFailure(failure));
    };

    const call = ttApi('requestOrder');
    if (!call) {
      settle(unavailable('requestOrder'));
      return;
    }
    try {
      const returned = call({
        data: requestOrder.data,
        byteAuthorization: requestOrder.byteAuthorization,
        success: onOrdered,
        fail: onRefused,
      });
      if (isThenable(returned)) returned.then(onOrdered, onRefused);
    } catch (failure) {
      onRefused(failure);
    }
  });
}
