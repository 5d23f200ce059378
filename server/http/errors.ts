import type { Context, Next } from 'koa';
import { AppError, ErrorCode } from '../domain/errors';
import type { Logger } from '../domain/observability';
import type { PaymentProviderId } from '../domain/payment-provider';
import { echoed, MESSAGE_LIMIT } from '../domain/text';

/** The one place an error code becomes an HTTP status. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  MALFORMED_REQUEST: 400,
  PLATFORM_MISMATCH: 400,
  IDEMPOTENCY_KEY_REQUIRED: 400,
  WEBHOOK_INVALID: 400,
  SESSION_INVALID: 401,
  LOGIN_CODE_INVALID: 401,
  WEBHOOK_SIGNATURE_INVALID: 401,
  LOGIN_REJECTED: 403,
  MERCHANT_UNAUTHORIZED: 401,
  METRICS_UNAUTHORIZED: 401,
  MERCHANT_API_DISABLED: 404,
  CHECKOUT_TOKEN_INVALID: 404,
  CHECKOUT_TOKEN_USED: 409,
  CHECKOUT_TOKEN_EXPIRED: 410,
  NOT_FOUND: 404,
  ORDER_NOT_FOUND: 404,
  WEBHOOK_UNKNOWN_TRANSACTION: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  ORDER_ALREADY_PAID: 409,
  ORDER_EXPIRED: 409,
  PAYMENT_IN_PROGRESS: 409,
  ORDER_NOT_PAID: 409,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  EXPECTATION_FAILED: 417,
  REFUND_EXCEEDS_PAID: 422,
  UNKNOWN_SKU: 422,
  ORDER_TOO_LARGE: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  LOGIN_RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  WECHAT_ERROR: 502,
  DOUYIN_ERROR: 502,
  GATEWAY_ERROR: 502,
  WECHAT_UNAVAILABLE: 503,
  DOUYIN_UNAVAILABLE: 503,
  GATEWAY_UNAVAILABLE: 503,
  INTERNAL: 500,
};

/**
 * Client-error statuses that Koa, the body parser and Node raise themselves, as our codes. A 4xx
 * not listed here is a request we could not make sense of: MALFORMED_REQUEST.
 */
const CLIENT_ERROR_CODES: Partial<Record<number, ErrorCode>> = {
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  417: 'EXPECTATION_FAILED',
  431: 'HEADERS_TOO_LARGE',
};

/** A 4xx raised by a library or by Node (not by our code), as our error. */
export function clientError(status: number, message: string): AppError {
  return new AppError(CLIENT_ERROR_CODES[status] ?? 'MALFORMED_REQUEST', message);
}

/**
 * What the body parser threw, as our error: 413 (over the size limit) and 415 (a
 * Content-Encoding or charset it cannot decode) by their status; anything else — not JSON, a
 * broken gzip stream, an upload cut short — is a body that fails validation.
 */
export function bodyError(error: unknown): AppError {
  const { status, limit, message } = (typeof error === 'object' && error !== null ? error : {}) as {
    status?: unknown;
    limit?: unknown;
    message?: unknown;
  };
  const text = typeof message === 'string' ? message : String(error);
  if (status === 413) {
    return clientError(
      413,
      typeof limit === 'number' ? `body: larger than the ${limit} bytes accepted here` : `body: ${text}`,
    );
  }
  if (status === 415) return clientError(415, `body: ${text}`);
  return new AppError('VALIDATION_FAILED', `body: ${text}`);
}

/**
 * The JSON every error answer carries: `{"error": {"code", "message"}}`, the message cut to
 * MESSAGE_LIMIT characters (whatever it repeats of the request, the answer stays short).
 */
export function errorBody(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message: echoed(message, MESSAGE_LIMIT) } };
}

/** The services an upstream code can name, as shoppers know them (a GATEWAY_* error's `details.provider`, else the gateway). */
const UPSTREAM_NAMES: Record<'wechat' | 'douyin' | PaymentProviderId, string> = {
  wechat: 'WeChat',
  douyin: 'Douyin',
  gateway: 'The payment gateway',
  wechatpay: 'WeChat Pay',
  douyin_guaranteed: 'Douyin Pay',
  douyin_trade: 'Douyin Pay',
};

/** An upstream's own error code as a message may name it: a number or an upper-case token, nothing free-form. */
const UPSTREAM_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * What a caller is told of an upstream's failure (a 502 or 503 code): which service failed and
 * whether to retry, with the upstream's own error code when it gave one (`errcode`, `err_no`,
 * the gateway's `result_msg`, WeChat Pay's `code`). Nothing else of the adapter's message reaches
 * the caller — an upstream's address, its free text, how this instance is configured — which the
 * error handler logs instead. Undefined for every other code: its message is the caller's.
 */
export function upstreamMessage(error: AppError): string | undefined {
  const status = HTTP_STATUS[error.code];
  if (status !== 502 && status !== 503) return undefined;
  const details = error.details ?? {};
  const provider = details.provider === 'wechatpay' ? 'wechatpay' : 'gateway';
  const service =
    UPSTREAM_NAMES[
      error.code.startsWith('WECHAT_') ? 'wechat' : error.code.startsWith('DOUYIN_') ? 'douyin' : provider
    ];
  const own = [
    ['errcode ', details.errcode],
    ['err_no ', details.errNo],
    ['', details.resultMsg],
    ['', details.code],
  ].find(([, value]) => Number.isSafeInteger(value) || (typeof value === 'string' && UPSTREAM_CODE.test(value)));
  const named = own ? ` (${String(own[0])}${String(own[1])})` : '';
  return status === 503
    ? `${service} is unavailable at the moment${named}: retry shortly`
    : `${service} could not complete the request${named}`;
}

/** Writes an error answer's body from our code and message. */
export type ErrorBodyWriter = (code: ErrorCode, message: string) => unknown;

/**
 * Renders every failure as `{"error": {"code", "message"}}`, or, on a path of `bodies` (a
 * provider's notification endpoint, which must answer in the provider's own words), as that
 * path's writer says; the status is the code's either way. Paths match as the routers match them:
 * whatever the case, with or without a trailing slash. Our own errors show their message, and so
 * do the client errors Koa's libraries raise (mapped by status to our codes); anything else is a
 * bug: logged in full, answered with a bare 500. An upstream's failure is answered with
 * `upstreamMessage` and logged with the adapter's own message and details. A failure answered
 * before the request's body has arrived closes the connection after the answer.
 */
export function errorHandler(log: Logger, bodies: Readonly<Record<string, ErrorBodyWriter>> = {}) {
  const writers = new Map(Object.entries(bodies).map(([path, writer]) => [routerPath(path), writer]));
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new AppError('NOT_FOUND', `No route for ${ctx.method} ${echoed(ctx.path)}`);
      }
    } catch (error) {
      // Refused before its body has all arrived: the rest is not worth reading, so the
      // connection closes after the answer.
      if (!ctx.req.complete) ctx.set('Connection', 'close');
      const known = AppError.is(error) ? error : exposedClientError(error);
      const write = writers.get(routerPath(ctx.path)) ?? errorBody;
      if (known) {
        ctx.status = HTTP_STATUS[known.code];
        ctx.body = write(known.code, upstreamMessage(known) ?? known.message);
        // RFC 9110 §11.6.1: a 401 names the scheme that would be accepted.
        if (ctx.status === 401) ctx.set('WWW-Authenticate', 'Bearer');
        // What the caller was not told (an upstream's address and words) is for the merchant's operators.
        if (ctx.status >= 500) {
          log.warn(known.message, {
            reqId: ctx.state.requestId,
            code: known.code,
            path: ctx.path,
            ...(known.details && { details: known.details }),
          });
        }
        return;
      }
      log.error('unhandled error', {
        reqId: ctx.state.requestId,
        path: ctx.path,
        error: error instanceof Error ? error.stack : String(error),
      });
      ctx.status = 500;
      ctx.body = write('INTERNAL', 'Internal error');
    }
  };
}

/** A path as @koa/router matches it by default: case-insensitive, a trailing slash optional. */
function routerPath(path: string): string {
  return path.toLowerCase().replace(/(.)\/$/, '$1');
}

/** http-errors marks the errors whose message is meant for the client with `expose`. */
function exposedClientError(error: unknown): AppError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, expose, message } = error as { status?: unknown; expose?: unknown; message?: unknown };
  if (typeof status !== 'number' || status < 400 || status > 499 || expose !== true) return undefined;
  return clientError(status, typeof message === 'string' ? message : 'Bad request');
}
