/**
 * The one error type of the client. Server errors keep the server's code; failures that
 * never reached a server answer get a client-side code from `ClientErrorCode`.
 */
export interface CheckoutErrorShape {
  code: string;
  message: string;
}

/** Codes the client produces itself; every other code comes from the server. */
export const ClientErrorCode = {
  networkError: 'NETWORK_ERROR',
  networkTimeout: 'NETWORK_TIMEOUT',
  badResponse: 'BAD_RESPONSE',
  rateLimited: 'RATE_LIMITED',
  serverUnavailable: 'SERVER_UNAVAILABLE',
  loginFailed: 'LOGIN_FAILED',
  paymentFailed: 'PAYMENT_FAILED',
  paymentParamsInvalid: 'PAYMENT_PARAMS_INVALID',
  paymentPlatformMismatch: 'PAYMENT_PLATFORM_MISMATCH',
  /** The platform could not open its payment sheet (Douyin's `tt.pay` `fail`). */
  paymentSheetUnavailable: 'PAYMENT_SHEET_UNAVAILABLE',
} as const;

/** Server codes the client reacts to. */
export const ServerErrorCode = {
  sessionInvalid: 'SESSION_INVALID',
  loginCodeInvalid: 'LOGIN_CODE_INVALID',
  loginRateLimited: 'LOGIN_RATE_LIMITED',
  loginRejected: 'LOGIN_REJECTED',
  wechatUnavailable: 'WECHAT_UNAVAILABLE',
  douyinUnavailable: 'DOUYIN_UNAVAILABLE',
  gatewayUnavailable: 'GATEWAY_UNAVAILABLE',
  gatewayError: 'GATEWAY_ERROR',
  unknownSku: 'UNKNOWN_SKU',
  orderTooLarge: 'ORDER_TOO_LARGE',
  orderExpired: 'ORDER_EXPIRED',
  orderAlreadyPaid: 'ORDER_ALREADY_PAID',
  paymentInProgress: 'PAYMENT_IN_PROGRESS',
  platformMismatch: 'PLATFORM_MISMATCH',
  idempotencyKeyReused: 'IDEMPOTENCY_KEY_REUSED',
  validationFailed: 'VALIDATION_FAILED',
  orderNotFound: 'ORDER_NOT_FOUND',
  /** The app's launch token was claimed already (by this shopper earlier, or by someone else). */
  checkoutTokenUsed: 'CHECKOUT_TOKEN_USED',
  checkoutTokenExpired: 'CHECKOUT_TOKEN_EXPIRED',
  checkoutTokenInvalid: 'CHECKOUT_TOKEN_INVALID',
} as const;

const CHECKOUT_ERROR_TAG = 'CheckoutError';

export class CheckoutError extends Error implements CheckoutErrorShape {
  /** Recognised by this tag rather than `instanceof`, which fails across realms (jest, bundles). */
  readonly tag = CHECKOUT_ERROR_TAG;
  readonly code: string;
  /** HTTP status when the error came from a server answer. */
  readonly status?: number;

  constructor(code: string, message: string, status?: number) {
    super(message);
    this.name = CHECKOUT_ERROR_TAG;
    this.code = code;
    this.status = status;
  }
}

export function isCheckoutError(value: unknown): value is CheckoutError {
  return isRecord(value) && value.tag === CHECKOUT_ERROR_TAG && typeof value.code === 'string';
}

/** Whether retrying the same request later may succeed: network trouble, rate limits, 5xx. */
export function isTransientError(error: CheckoutError): boolean {
  if (error.code === ClientErrorCode.networkError || error.code === ClientErrorCode.networkTimeout) {
    return true;
  }
  return error.status === 429 || (error.status !== undefined && error.status >= 500);
}

/** Reads `errMsg` from the `{errMsg}` objects mini-program APIs reject with. */
export function readErrMsg(value: unknown): string | undefined {
  return isRecord(value) && typeof value.errMsg === 'string' ? value.errMsg : undefined;
}

/** Turns whatever a failed `Taro.request` rejected with into a CheckoutError. */
export function normaliseRequestFailure(failure: unknown): CheckoutError {
  if (isCheckoutError(failure)) {
    return failure;
  }
  const errMsg = readErrMsg(failure) ?? (failure instanceof Error ? failure.message : String(failure));
  if (/timeout|timed out/i.test(errMsg)) {
    return new CheckoutError(ClientErrorCode.networkTimeout, errMsg);
  }
  return new CheckoutError(ClientErrorCode.networkError, errMsg);
}

/**
 * Turns a non-2xx answer into a CheckoutError: the server's `{error: {code, message}}` when the
 * body has one, otherwise a code derived from the HTTP status (proxies answer 502 with HTML).
 */
export function normaliseErrorResponse(status: number, body: unknown): CheckoutError {
  const serverError = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  if (serverError && typeof serverError.code === 'string') {
    const message = typeof serverError.message === 'string' ? serverError.message : serverError.code;
    return new CheckoutError(serverError.code, message, status);
  }
  if (status === 429) {
    return new CheckoutError(ClientErrorCode.rateLimited, `HTTP ${status}`, status);
  }
  if (status >= 500) {
    return new CheckoutError(ClientErrorCode.serverUnavailable, `HTTP ${status}`, status);
  }
  return new CheckoutError(ClientErrorCode.badResponse, `HTTP ${status} without an error body`, status);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
