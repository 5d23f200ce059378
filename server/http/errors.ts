import type { Context, Next } from 'koa';
import { AppError, ErrorCode } from '../domain/errors';
import type { Logger } from '../domain/checkout';

/** The one place an error code becomes an HTTP status. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  PLATFORM_MISMATCH: 400,
  IDEMPOTENCY_KEY_REQUIRED: 400,
  WEBHOOK_INVALID: 400,
  SESSION_INVALID: 401,
  LOGIN_CODE_INVALID: 401,
  WEBHOOK_SIGNATURE_INVALID: 401,
  LOGIN_REJECTED: 403,
  MERCHANT_UNAUTHORIZED: 401,
  MERCHANT_API_DISABLED: 404,
  CHECKOUT_TOKEN_INVALID: 404,
  CHECKOUT_TOKEN_USED: 409,
  CHECKOUT_TOKEN_EXPIRED: 410,
  NOT_FOUND: 404,
  ORDER_NOT_FOUND: 404,
  WEBHOOK_UNKNOWN_TRANSACTION: 404,
  ORDER_ALREADY_PAID: 409,
  ORDER_EXPIRED: 409,
  PAYMENT_IN_PROGRESS: 409,
  ORDER_NOT_PAID: 409,
  REFUND_EXCEEDS_PAID: 422,
  UNKNOWN_SKU: 422,
  ORDER_TOO_LARGE: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  LOGIN_RATE_LIMITED: 429,
  WECHAT_ERROR: 502,
  DOUYIN_ERROR: 502,
  GATEWAY_ERROR: 502,
  WECHAT_UNAVAILABLE: 503,
  DOUYIN_UNAVAILABLE: 503,
  GATEWAY_UNAVAILABLE: 503,
  INTERNAL: 500,
};

/**
 * Renders every failure as `{"error": {"code", "message"}}`. Our own errors show their message;
 * anything else is a bug: logged in full, answered with a bare 500.
 */
export function errorHandler(log: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new AppError('NOT_FOUND', `No route for ${ctx.method} ${ctx.path}`);
      }
    } catch (error) {
      if (AppError.is(error)) {
        ctx.status = HTTP_STATUS[error.code];
        ctx.body = { error: { code: error.code, message: error.message } };
        if (ctx.status >= 500) log.warn(error.message, { code: error.code, path: ctx.path });
        return;
      }
      const status = httpErrorStatus(error);
      if (status !== undefined && status < 500) {
        // Koa's own client errors, e.g. a body that is not JSON or is too large.
        ctx.status = status;
        ctx.body = { error: { code: 'VALIDATION_FAILED', message: (error as Error).message } };
        return;
      }
      log.error('unhandled error', { path: ctx.path, error: error instanceof Error ? error.stack : String(error) });
      ctx.status = 500;
      ctx.body = { error: { code: 'INTERNAL', message: 'Internal error' } };
    }
  };
}

function httpErrorStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, expose } = error as { status?: unknown; expose?: unknown };
  return typeof status === 'number' && expose === true ? status : undefined;
}
