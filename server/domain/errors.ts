/**
 * The one error type of the server. `code` is stable and documented in README; the HTTP
 * layer maps it to a status in one place (`http/errors.ts`). Recognised by a tag as well as
 * `instanceof`, because jest runs test files in separate realms.
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'MALFORMED_REQUEST'
  | 'METHOD_NOT_ALLOWED'
  | 'REQUEST_TIMEOUT'
  | 'BODY_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'EXPECTATION_FAILED'
  | 'HEADERS_TOO_LARGE'
  | 'PLATFORM_MISMATCH'
  | 'SESSION_INVALID'
  | 'LOGIN_CODE_INVALID'
  | 'LOGIN_RATE_LIMITED'
  | 'LOGIN_REJECTED'
  | 'NOT_FOUND'
  | 'ORDER_NOT_FOUND'
  | 'MERCHANT_UNAUTHORIZED'
  | 'METRICS_UNAUTHORIZED'
  | 'MERCHANT_API_DISABLED'
  | 'CHECKOUT_TOKEN_INVALID'
  | 'CHECKOUT_TOKEN_USED'
  | 'CHECKOUT_TOKEN_EXPIRED'
  | 'UNKNOWN_SKU'
  | 'ORDER_TOO_LARGE'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_KEY_REQUIRED'
  | 'ORDER_NOT_PAID'
  | 'REFUND_EXCEEDS_PAID'
  | 'ORDER_ALREADY_PAID'
  | 'ORDER_EXPIRED'
  | 'PAYMENT_IN_PROGRESS'
  | 'WEBHOOK_INVALID'
  | 'WEBHOOK_SIGNATURE_INVALID'
  | 'WEBHOOK_UNKNOWN_TRANSACTION'
  | 'WECHAT_UNAVAILABLE'
  | 'WECHAT_ERROR'
  | 'DOUYIN_UNAVAILABLE'
  | 'DOUYIN_ERROR'
  | 'GATEWAY_UNAVAILABLE'
  | 'GATEWAY_ERROR'
  | 'INTERNAL';

const TAG = Symbol.for('miniprogram-checkout.AppError');

export class AppError extends Error {
  readonly [TAG] = true;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }

  static is(value: unknown): value is AppError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TAG] === true;
  }
}
