import type { Context } from 'koa';
import type { AnswerHolds } from './held-answers';
import { BodyTooLargeError, echoed, isPlainObject, MESSAGE_LIMIT, parseJsonObject, readBody } from '../shared/http';
import { gatewayAppSign } from '../shared/signing';

/**
 * The gateway's REST conventions (seed 001 §4): every answer is HTTP 200 JSON carrying
 * `result_code`, `result_msg` and `err_detail` (empty on success); POSTs carry a JSON
 * body, GETs carry the same JSON URL-encoded in `?para=`.
 */

export const RESULT_MESSAGES: Readonly<Record<number, string>> = {
  0: 'OK',
  1: 'APP_INVALID',
  2: 'PAY_FACTOR_NOT_SET',
  3: 'CHANNEL_INVALID',
  4: 'MISS_PARAM',
  5: 'PARAM_INVALID',
  6: 'CERT_FILE_ERROR',
  7: 'CHANNEL_ERROR',
  8: 'NO_SUCH_BILL',
  9: 'BILL_UNSUCCESS',
  10: 'REFUND_EXCEED_TIME',
  11: 'ALREADY_REFUNDING',
  12: 'REFUND_AMOUNT_TOO_LARGE',
  13: 'NO_SUCH_REFUND',
  14: 'RUNTIME_ERROR',
};

export const ResultCode = {
  OK: 0,
  APP_INVALID: 1,
  PAY_FACTOR_NOT_SET: 2,
  CHANNEL_INVALID: 3,
  MISS_PARAM: 4,
  PARAM_INVALID: 5,
  CHANNEL_ERROR: 7,
  NO_SUCH_BILL: 8,
  BILL_UNSUCCESS: 9,
  REFUND_EXCEED_TIME: 10,
  ALREADY_REFUNDING: 11,
  REFUND_AMOUNT_TOO_LARGE: 12,
  NO_SUCH_REFUND: 13,
  RUNTIME_ERROR: 14,
} as const;

/**
 * Channels that send no callback after a refund (seed 001 §4.4.5: "用于对退款后不发送回调的渠道
 * （WX、YEE、KUAIQIAN、BD）"): the gateway has nothing to turn into a REFUND webhook, and the
 * merchant learns their refunds' state from `GET /2/rest/refund/status`, which only they may use.
 */
export const NO_REFUND_CALLBACK_CHANNELS: readonly string[] = ['WX', 'YEE', 'KUAIQIAN', 'BD'];

/** Whether refunds of bills on this aggregate channel end in a REFUND webhook (§3.1, §4.4.5). */
export function sendsRefundWebhook(channelType: string): boolean {
  return !NO_REFUND_CALLBACK_CHANNELS.includes(channelType);
}

/** A refusal the gateway answers with a non-zero `result_code`. */
export class GatewayError extends Error {
  readonly isGatewayError = true;
  /** The refusal's `err_detail`, cut to MESSAGE_LIMIT characters. */
  readonly detail: string;
  constructor(
    readonly resultCode: number,
    detail: string,
  ) {
    super(`${RESULT_MESSAGES[resultCode] ?? resultCode}: ${echoed(detail, MESSAGE_LIMIT)}`);
    this.detail = echoed(detail, MESSAGE_LIMIT);
    this.name = 'GatewayError';
  }
}

function isGatewayError(error: unknown): error is GatewayError {
  return typeof error === 'object' && error !== null && (error as { isGatewayError?: unknown }).isGatewayError === true;
}

export type Params = Record<string, unknown>;

export interface GatewayCall {
  params: Params;
  ctx: Context;
  /**
   * Asks for this call's answer, success or refusal, to be sent `ms` late (a slow-gateway
   * fault). The operation itself is not delayed: whatever it did is done before the wait.
   */
  holdAnswer(ms: number): void;
  /**
   * Asks for this call's answer to be replaced by an HTTP error page with `status` (a gateway
   * that fails after doing the work). The operation itself still runs to its end.
   */
  failAnswer(status: number): void;
}

/**
 * Wraps a gateway operation: reads its JSON (body or `para`), runs it, and answers the
 * gateway's envelope; a `GatewayError` becomes its result code, anything else
 * 14 RUNTIME_ERROR (never an HTTP 500, which the official SDK cannot parse, unless a fault
 * asked for one). An answer the operation asked to hold is held in `holds`, which the
 * sandbox releases when it closes.
 */
export function gatewayOperation(
  source: 'body' | 'para',
  log: (line: string) => void,
  holds: AnswerHolds,
  operation: (call: GatewayCall) => Params | Promise<Params>,
) {
  return async (ctx: Context): Promise<void> => {
    let answer: Params;
    let heldMs = 0;
    let failedWith: number | undefined;
    try {
      const params = await readParams(ctx, source);
      const call: GatewayCall = {
        params,
        ctx,
        holdAnswer: (ms) => {
          heldMs = ms;
        },
        failAnswer: (status) => {
          failedWith = status;
        },
      };
      answer = { ...envelope(ResultCode.OK, ''), ...(await operation(call)) };
    } catch (error) {
      if (isGatewayError(error)) {
        answer = envelope(error.resultCode, error.detail);
      } else {
        log(`gateway ${ctx.method} ${ctx.path} failed: ${(error as Error).stack ?? String(error)}`);
        answer = envelope(ResultCode.RUNTIME_ERROR, `sandbox runtime error: ${(error as Error).message}`);
      }
    }
    if (heldMs > 0) {
      log(`gateway ${ctx.method} ${ctx.path}: answer held ${heldMs} ms (injected delay)`);
      await holds.hold(heldMs);
    }
    if (failedWith !== undefined) {
      log(`gateway ${ctx.method} ${ctx.path} -> HTTP ${failedWith} (injected), not ${String(answer.result_code)}`);
      ctx.status = failedWith;
      ctx.type = 'text/html';
      ctx.body = `<html><head><title>${failedWith}</title></head><body><h1>${failedWith} ${
        ERROR_PAGE_TITLES[failedWith] ?? 'Error'
      }</h1></body></html>`;
      return;
    }
    log(`gateway ${ctx.method} ${ctx.path} -> ${String(answer.result_code)} ${String(answer.result_msg)}`);
    ctx.status = 200;
    ctx.body = answer;
  };
}

const ERROR_PAGE_TITLES: Readonly<Record<number, string>> = {
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
};

export function envelope(resultCode: number, detail: string): Params {
  return {
    result_code: resultCode,
    result_msg: RESULT_MESSAGES[resultCode] ?? 'UNKNOWN',
    err_detail: echoed(detail, MESSAGE_LIMIT),
  };
}

async function readParams(ctx: Context, source: 'body' | 'para'): Promise<Params> {
  if (source === 'para') {
    const para = ctx.query.para;
    if (para === undefined || para === '') {
      throw new GatewayError(ResultCode.MISS_PARAM, 'missing query parameter para (the request JSON, URL-encoded)');
    }
    if (Array.isArray(para)) throw new GatewayError(ResultCode.PARAM_INVALID, 'para given more than once');
    const parsed = parseJsonObject(para, 'para');
    if (!parsed.ok) throw new GatewayError(ResultCode.PARAM_INVALID, parsed.error);
    return parsed.value;
  }
  let text: string;
  try {
    text = await readBody(ctx);
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw new GatewayError(ResultCode.PARAM_INVALID, error.message);
    throw error;
  }
  if (text.trim() === '') throw new GatewayError(ResultCode.MISS_PARAM, 'empty request body (a JSON object expected)');
  const parsed = parseJsonObject(text, 'request body');
  if (!parsed.ok) throw new GatewayError(ResultCode.PARAM_INVALID, parsed.error);
  return parsed.value;
}

export interface AppCredentials {
  appId: string;
  secret: string;
  /** How the secret is called in messages: `app_secret`, `test_secret`, `master_secret`. */
  secretName: string;
}

/** Checks `app_id`, `timestamp` and `app_sign = md5(app_id + timestamp + secret)`. */
export function authenticate(params: Params, credentials: AppCredentials): void {
  const appId = readString(params, 'app_id', true);
  const timestamp = params.timestamp;
  if (timestamp === undefined || timestamp === null || timestamp === '') {
    throw new GatewayError(ResultCode.MISS_PARAM, 'missing parameter timestamp');
  }
  const timestampIsValid =
    (typeof timestamp === 'number' && Number.isInteger(timestamp) && timestamp > 0) ||
    (typeof timestamp === 'string' && /^\d+$/.test(timestamp));
  if (!timestampIsValid) {
    throw new GatewayError(ResultCode.PARAM_INVALID, 'timestamp must be the signing time in milliseconds');
  }
  const appSign = readString(params, 'app_sign', true);
  if (appId !== credentials.appId) {
    throw new GatewayError(ResultCode.APP_INVALID, `no app with app_id ${echoed(appId)}`);
  }
  const expected = gatewayAppSign(appId, String(timestamp), credentials.secret);
  if (appSign.toLowerCase() !== expected) {
    throw new GatewayError(
      ResultCode.APP_INVALID,
      `app_sign does not match md5(app_id + timestamp + ${credentials.secretName})`,
    );
  }
}

export function readString(params: Params, name: string, required: true): string;
export function readString(params: Params, name: string, required?: false): string | undefined;
export function readString(params: Params, name: string, required = false): string | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === '') {
    if (required) throw new GatewayError(ResultCode.MISS_PARAM, `missing parameter ${name}`);
    return undefined;
  }
  if (typeof value !== 'string') throw new GatewayError(ResultCode.PARAM_INVALID, `${name} must be a string`);
  return value;
}

export function readInteger(
  params: Params,
  name: string,
  rules: { required?: boolean; min?: number; max?: number; meaning?: string } = {},
): number | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === '') {
    if (rules.required) throw new GatewayError(ResultCode.MISS_PARAM, `missing parameter ${name}`);
    return undefined;
  }
  const min = rules.min ?? Number.MIN_SAFE_INTEGER;
  const max = rules.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new GatewayError(
      ResultCode.PARAM_INVALID,
      `${name} must be ${rules.meaning ?? `an integer between ${min} and ${max}`}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function readBoolean(params: Params, name: string): boolean | undefined {
  const value = params[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new GatewayError(ResultCode.PARAM_INVALID, `${name} must be true or false`);
  return value;
}

export function readObject(params: Params, name: string): Record<string, unknown> | undefined {
  const value = params[name];
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) throw new GatewayError(ResultCode.PARAM_INVALID, `${name} must be a JSON object (a map)`);
  return value;
}

/** `notify_url` must start with `http://` or `https://` (seed 001 §4.2.1). */
export function readNotifyUrl(params: Params): string | undefined {
  const url = readString(params, 'notify_url');
  if (url === undefined) return undefined;
  if (!/^https?:\/\/[^\s/?#]+/i.test(url)) {
    throw new GatewayError(ResultCode.PARAM_INVALID, 'notify_url must start with http:// or https://');
  }
  return url;
}
