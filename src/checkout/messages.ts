import { ClientErrorCode, isCheckoutError, ServerErrorCode } from '../api/errors';
import type { CheckoutSource } from './store';

/**
 * What the shopper can do after a failure; the page shows one button per step.
 * `returnToApp` (an order from a merchant's app that cannot be paid here any more) is WeChat's
 * `open-type="launchApp"` button where the launch scene allows it, a plain instruction elsewhere.
 */
export type NextStep =
  'retryPayment' | 'refreshResult' | 'retryCheckout' | 'retryClaim' | 'startOver' | 'returnToApp' | 'reloadCatalog';

export const NEXT_STEP_LABELS: Record<NextStep, string> = {
  retryPayment: '重新支付',
  refreshResult: '刷新结果',
  retryCheckout: '重试',
  retryClaim: '重试',
  startOver: '重新下单',
  returnToApp: '返回APP重新发起支付',
  reloadCatalog: '重新加载',
};

/** The plain instruction shown for `returnToApp` where no return button can be shown. */
export const RETURN_TO_APP_INSTRUCTION = '请返回APP重新发起支付';

/** A failure as the shopper sees it. `detail` keeps the technical message for support, never shown. */
export interface ShopperError {
  code: string;
  message: string;
  nextStep: NextStep;
  detail?: string;
}

const UNEXPECTED_ERROR_CODE = 'UNEXPECTED';

/** Codes for final order states the server reports through the status endpoint. */
export const OrderOutcomeCode = {
  expired: ServerErrorCode.orderExpired,
  failed: 'ORDER_FAILED',
  closed: 'ORDER_CLOSED',
} as const;

const MESSAGES_BY_CODE: Record<string, string> = {
  [ClientErrorCode.networkError]: '网络连接失败，请检查网络后重试',
  [ClientErrorCode.networkTimeout]: '网络请求超时，请稍后重试',
  [ClientErrorCode.badResponse]: '服务返回异常，请稍后重试',
  [ClientErrorCode.rateLimited]: '操作太频繁，请稍后再试',
  [ClientErrorCode.serverUnavailable]: '服务繁忙，请稍后再试',
  [ClientErrorCode.loginFailed]: '登录失败，请重试',
  [ClientErrorCode.paymentFailed]: '支付未完成，请重新支付',
  [ClientErrorCode.paymentSheetUnavailable]: '收银台未能打开，请重新支付',
  [ClientErrorCode.paymentParamsInvalid]: '支付参数校验失败，请重新下单',
  [ClientErrorCode.paymentPlatformMismatch]: '当前环境暂不支持该支付方式',
  [ServerErrorCode.loginCodeInvalid]: '登录凭证已失效，请重试',
  [ServerErrorCode.sessionInvalid]: '登录状态已过期，请重试',
  [ServerErrorCode.loginRateLimited]: '登录太频繁，请稍后再试',
  [ServerErrorCode.loginRejected]: '登录未通过，请稍后再试',
  [ServerErrorCode.wechatUnavailable]: '微信服务繁忙，请稍后再试',
  [ServerErrorCode.douyinUnavailable]: '抖音服务繁忙，请稍后再试',
  [ServerErrorCode.gatewayUnavailable]: '支付服务繁忙，请稍后再试',
  [ServerErrorCode.gatewayError]: '支付服务暂时不可用，请稍后再试',
  [ServerErrorCode.unknownSku]: '部分商品已下架，请重新下单',
  [ServerErrorCode.orderTooLarge]: '订单超出购买限制，请调整数量后重新下单',
  [ServerErrorCode.paymentInProgress]: '支付正在处理中，请稍后重新支付',
  [ServerErrorCode.platformMismatch]: '当前环境暂不支持该支付方式',
  [ServerErrorCode.idempotencyKeyReused]: '订单信息已变化，请重新下单',
  [OrderOutcomeCode.expired]: '订单已超时未支付，请重新下单',
  [OrderOutcomeCode.failed]: '支付失败，请重新支付',
  [OrderOutcomeCode.closed]: '支付已关闭，请重新支付',
};

/**
 * An order from a merchant's app cannot be "re-ordered" here: the app starts a new payment. These
 * messages say what happened; the next step (`returnToApp`) says what to do.
 */
const APP_MESSAGES_BY_CODE: Record<string, string> = {
  [ServerErrorCode.checkoutTokenUsed]: '该订单已被打开过，无法重复打开',
  [ServerErrorCode.checkoutTokenExpired]: '支付链接已过期',
  [ServerErrorCode.checkoutTokenInvalid]: '支付链接无效',
  [ServerErrorCode.orderNotFound]: '未找到该订单',
  [ClientErrorCode.paymentParamsInvalid]: '支付参数校验失败',
  [OrderOutcomeCode.expired]: '订单已超时未支付',
  [OrderOutcomeCode.failed]: '支付失败，请重新支付',
  [OrderOutcomeCode.closed]: '支付已关闭，请重新支付',
};

/** Launch failures only the merchant's app can fix, with a new checkout. */
const NEEDS_NEW_CHECKOUT: ReadonlySet<string> = new Set([
  ServerErrorCode.checkoutTokenUsed,
  ServerErrorCode.checkoutTokenExpired,
  ServerErrorCode.checkoutTokenInvalid,
]);

/**
 * Failures after which paying the same order again cannot help. A failed or closed payment is
 * not one of them: the server opens a new bill for the same order until it expires.
 */
const NEEDS_NEW_ORDER: ReadonlySet<string> = new Set([
  ClientErrorCode.paymentParamsInvalid,
  ClientErrorCode.paymentPlatformMismatch,
  ServerErrorCode.unknownSku,
  ServerErrorCode.orderTooLarge,
  ServerErrorCode.platformMismatch,
  ServerErrorCode.idempotencyKeyReused,
  OrderOutcomeCode.expired,
]);

export function shopperMessage(error: { code: string; status?: number }, source: CheckoutSource = 'cart'): string {
  const known = (source === 'app' ? APP_MESSAGES_BY_CODE[error.code] : undefined) ?? MESSAGES_BY_CODE[error.code];
  if (known) return known;
  if (error.status === 429) return MESSAGES_BY_CODE[ClientErrorCode.rateLimited];
  if (error.status !== undefined && error.status >= 500) return MESSAGES_BY_CODE[ClientErrorCode.serverUnavailable];
  return '支付遇到问题，请稍后重试';
}

/**
 * Builds the shopper-facing error. `preferredStep` is what makes sense where the failure
 * happened; codes that make the current order useless override it: a new order from the cart,
 * or back to the merchant's app for an order the app started (`source: 'app'`).
 */
export function toShopperError(
  error: { code: string; message: string; status?: number },
  preferredStep: NextStep,
  source: CheckoutSource = 'cart',
): ShopperError {
  const nextStep = overridingStep(error.code, source) ?? preferredStep;
  return { code: error.code, message: shopperMessage(error, source), nextStep, detail: error.message };
}

function overridingStep(code: string, source: CheckoutSource): NextStep | undefined {
  if (source === 'app') return NEEDS_NEW_ORDER.has(code) || NEEDS_NEW_CHECKOUT.has(code) ? 'returnToApp' : undefined;
  return NEEDS_NEW_ORDER.has(code) ? 'startOver' : undefined;
}

/** Anything that is not a CheckoutError is a bug; the shopper still gets a message and a way on. */
export function shopperErrorFrom(
  failure: unknown,
  preferredStep: NextStep,
  source: CheckoutSource = 'cart',
): ShopperError {
  if (isCheckoutError(failure)) return toShopperError(failure, preferredStep, source);
  const message = failure instanceof Error ? failure.message : String(failure);
  return toShopperError({ code: UNEXPECTED_ERROR_CODE, message }, preferredStep, source);
}
