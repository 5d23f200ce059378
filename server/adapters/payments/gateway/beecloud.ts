import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../../domain/errors';
import type { BillOutcome } from '../../../domain/order-status';
import { echoed } from '../../../domain/text';
import { chinaDayBounds } from '../../../domain/identifiers';
import type {
  BillClientParams,
  BillCreation,
  CreateRefundRequest,
  OpenBillRequest,
  PaymentChannel,
  PaymentProvider,
  ProviderBillState,
  ProviderEvent,
  ProviderMessage,
  ProviderRefundState,
  ProviderTransaction,
  RefundSubmission,
} from '../../../domain/payment-provider';
import { requestJson, UpstreamBadAnswer, UpstreamUnreachable } from '../../http-json';

export interface BeeCloudOptions {
  baseUrl: string;
  appId: string;
  appSecret: string;
  masterSecret: string;
  /** When set, bills and queries go to the gateway's test mode, signed with this secret. */
  testSecret?: string;
  /** Where the gateway sends its webhooks for our bills and refunds (`notify_url`, §4.2.1, §4.3.1). */
  notifyUrl: string;
  timeoutMs?: number;
  now?: () => number;
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

/** `app_sign = md5(app_id + timestamp + secret)` (seed 001 §4.2.1). */
export function appSign(appId: string, timestamp: number, secret: string): string {
  return md5(`${appId}${timestamp}${secret}`);
}

/** `signature = md5(app_id + transaction_id + transaction_type + channel_type + transaction_fee + master_secret)` (§3.3.1). */
export function webhookSignature(
  appId: string,
  message: { transaction_id: string; transaction_type: string; channel_type: string; transaction_fee: number },
  masterSecret: string,
): string {
  return md5(
    `${appId}${message.transaction_id}${message.transaction_type}${message.channel_type}${message.transaction_fee}${masterSecret}`,
  );
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

const answerSchema = z.object({
  result_code: z.number(),
  result_msg: z.string().optional(),
  err_detail: z.string().optional(),
});

/** The answer fields of each channel we open bills on (seed 001 §4.2.1). */
const channelAnswerSchemas = {
  WX_MINI: z.object({
    id: z.string(),
    package: z.string().min(1),
    nonce_str: z.string().min(1),
    timestamp: z.union([z.string(), z.number()]),
    pay_sign: z.string().min(1),
    sign_type: z.string().min(1),
  }),
  BC_WX_WAP: z.object({ id: z.string(), url: z.string().url() }),
  ALI_APP: z.object({ id: z.string(), order_string: z.string().min(1) }),
};

const billsAnswerSchema = z.object({
  bills: z.array(
    z.object({
      bill_no: z.string(),
      total_fee: z.number(),
      spay_result: z.boolean(),
      channel: z.string().optional(),
      sub_channel: z.string().optional(),
      trade_no: z.string().nullish(),
      /** When it was paid, ms. */
      success_time: z.number().nullish(),
      refund_result: z.boolean().nullish(),
      /** The channel's own report, a JSON string (§4.4.1 with `need_detail`). */
      message_detail: z.unknown().optional(),
    }),
  ),
});

/** The most bills one `GET /2/rest/bills` gives (`limit`, "最大为50", §4.4.1). */
const BILLS_PAGE_LIMIT = 50;

const refundsAnswerSchema = z.object({
  refunds: z.array(
    z.object({
      refund_no: z.string(),
      finish: z.boolean(),
      result: z.boolean(),
      message_detail: z.unknown().optional(),
    }),
  ),
});

/** §4.3.1: another refund of the bill is in progress; nothing was created, so asking again later is safe. */
const REFUND_IN_PROGRESS = 11;
/** §4.2.1, §4.3.1: 14 RUNTIME_ERROR, "运行时错误": the gateway failed, whatever the request. */
const RUNTIME_ERROR = 14;
/** §4.3.1: 13 NO_SUCH_REFUND. */
const NO_SUCH_REFUND = 13;

/** Channels whose refunds send no webhook: their state comes from `GET /2/rest/refund/status` (§4.4.5). */
const STATUS_QUERY_CHANNELS = ['WX', 'YEE', 'KUAIQIAN', 'BD'];

/** The aggregate channel of a bill channel such as `WX_MINI`, `BC_WX_WAP` or `ALI_APP`. */
function channelTypeOf(channel: string): string {
  return channel.replace(/^BC_/, '').split('_')[0] ?? channel;
}

/** Fen, as a number or a digit string; beyond 2^53 it could not be compared exactly, so it is refused. */
const fee = z.union([
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  z
    .string()
    .regex(/^\d{1,16}$/)
    .transform(Number)
    .refine((value) => Number.isSafeInteger(value)),
]);

// The signed fields (§3.3.1) must be there and usable; the others are read only where they have
// the expected shape, so nothing unsigned can make a verified message unreadable.
const webhookSchema = z.object({
  signature: z.string(),
  app_id: z.unknown().optional(),
  channel_type: z.string(),
  sub_channel_type: z.unknown().optional(),
  transaction_type: z.string(),
  transaction_id: z.string().min(1),
  transaction_fee: fee,
  message_detail: z.unknown().optional(),
});

/**
 * The aggregate gateway (BeeCloud REST API v2, seed 001) as a payment provider. The offline
 * sandbox serves the same paths, so production differs only in `baseUrl` and the secrets.
 */
export class BeeCloudGateway implements PaymentProvider {
  readonly id = 'gateway';
  readonly channels: ReadonlySet<PaymentChannel> = new Set<PaymentChannel>(['WX_MINI', 'BC_WX_WAP', 'ALI_APP']);
  /**
   * A `refund_no` carries the day it is sent and is unique (§4.3.1); nothing is promised for one
   * sent twice, so a refund whose request got no answer is only asked about.
   */
  readonly idempotentRefunds = false;
  private readonly now: () => number;

  constructor(private readonly options: BeeCloudOptions) {
    this.now = options.now ?? Date.now;
  }

  private signed(secret: string) {
    const timestamp = this.now();
    return { app_id: this.options.appId, timestamp, app_sign: appSign(this.options.appId, timestamp, secret) };
  }

  private path(live: string, test: string): string {
    return new URL(this.options.testSecret ? test : live, this.options.baseUrl).toString();
  }

  private async call(method: 'GET' | 'POST', url: string, body: Record<string, unknown>) {
    let answer: Record<string, unknown>;
    try {
      answer = await requestJson(
        method === 'GET'
          ? { method, url: `${url}?para=${encodeURIComponent(JSON.stringify(body))}`, timeoutMs: this.timeout }
          : { method, url, body, timeoutMs: this.timeout },
      );
    } catch (error) {
      if (error instanceof UpstreamUnreachable) {
        throw new AppError('GATEWAY_UNAVAILABLE', 'The payment gateway could not be reached: retry shortly');
      }
      if (error instanceof UpstreamBadAnswer)
        throw new AppError('GATEWAY_ERROR', 'The payment gateway gave an unreadable answer');
      throw error;
    }
    const status = answerSchema.safeParse(answer);
    if (!status.success) throw new AppError('GATEWAY_ERROR', 'The payment gateway answered without a result_code');
    if (status.data.result_code !== 0) {
      // RUNTIME_ERROR (运行时错误) is the gateway's own failure, not one of our request: retry later.
      throw new AppError(
        status.data.result_code === RUNTIME_ERROR ? 'GATEWAY_UNAVAILABLE' : 'GATEWAY_ERROR',
        `The payment gateway refused: ${status.data.result_msg ?? status.data.result_code} ${status.data.err_detail ?? ''}`.trim(),
        { resultCode: status.data.result_code, resultMsg: status.data.result_msg },
      );
    }
    return answer;
  }

  private get timeout() {
    return this.options.timeoutMs ?? 10_000;
  }

  private get requestSecret() {
    return this.options.testSecret ?? this.options.appSecret;
  }

  /**
   * `POST /2/rest/bill` (§4.2.1). A non-zero `result_code` is a refusal: nothing was created.
   * Anything short of a readable answer with the channel's payment fields leaves the outcome
   * unknown: the gateway may have made the bill (a timeout, an error page after the work was
   * done). Its `bill_no` is never sent again: "同一订单号不可重复提交" (§4.2.1), "已经提交的订单的
   * 订单号不论是否支付成功都不能重复使用" (§1.2.2.1). The order number travels in `optional`,
   * which the webhook gives back.
   */
  async openBill(request: OpenBillRequest): Promise<BillCreation> {
    try {
      const answer = await this.call('POST', this.path('/2/rest/bill', '/2/rest/sandbox/bill'), {
        ...this.signed(this.requestSecret),
        channel: request.channel,
        total_fee: request.amount,
        bill_no: request.billNo,
        title: request.title,
        notify_url: this.options.notifyUrl,
        bill_timeout: request.timeoutSeconds,
        openid: request.openid,
        optional: { orderNo: request.orderNo },
      });
      const bill = {
        providerId: typeof answer.id === 'string' ? answer.id : '',
        clientParams: clientParamsOf(request.channel, answer),
      };
      return { outcome: 'created', bill };
    } catch (error) {
      if (!AppError.is(error)) throw error;
      const refused = typeof error.details?.resultCode === 'number';
      return refused ? { outcome: 'refused', error } : { outcome: 'unknown', error };
    }
  }

  /**
   * `GET /2/rest/bills` by `bill_no` with `need_detail` (§4.4.1): `spay_result` says paid; a bill
   * that is not paid is failed or closed only when the channel's detail says so. The bill number
   * alone finds it: `channel` is not needed.
   */
  async queryBill(billNo: string): Promise<ProviderBillState | null> {
    const answer = await this.call('GET', this.path('/2/rest/bills', '/2/rest/sandbox/bills'), {
      ...this.signed(this.requestSecret),
      bill_no: billNo,
      need_detail: true,
    });
    const parsed = billsAnswerSchema.safeParse(answer);
    if (!parsed.success) throw new AppError('GATEWAY_ERROR', 'The payment gateway answered a query without bills');
    const bill = parsed.data.bills.find((candidate) => candidate.bill_no === billNo);
    if (!bill) return null;
    const detail = detailObject(bill.message_detail);
    return {
      billNo,
      outcome: bill.spay_result ? 'paid' : unpaidOutcomeOf(detail),
      amount: bill.total_fee,
      tradeNo: bill.trade_no || undefined,
      detail,
    };
  }

  /**
   * The paid bills created on `day` (China time, `YYYY-MM-DD`): `GET /2/rest/bills` with
   * `spay_result` and the day as `start_time`/`end_time` in ms, 50 a page through `skip` (§4.4.1).
   * The gateway filters by when a bill was created, not when it was paid ("start_time, end_time
   * 指的是订单生成的时间，而不是订单支付的时间", §4.4.1): a bill created just before midnight and paid
   * after it is listed under the day it was created. `refunded` when the gateway reports
   * `refund_result` (any refund, whole or part). Throws AppError GATEWAY_* (and RangeError for a
   * day that is not one).
   */
  async listTransactions(day: string): Promise<ProviderTransaction[]> {
    const { start, end } = chinaDayBounds(day);
    const found = new Map<string, ProviderTransaction>();
    for (let skip = 0; ; skip += BILLS_PAGE_LIMIT) {
      const answer = await this.call('GET', this.path('/2/rest/bills', '/2/rest/sandbox/bills'), {
        ...this.signed(this.requestSecret),
        spay_result: true,
        start_time: start.getTime(),
        end_time: end.getTime() - 1,
        skip,
        limit: BILLS_PAGE_LIMIT,
      });
      const parsed = billsAnswerSchema.safeParse(answer);
      if (!parsed.success) throw new AppError('GATEWAY_ERROR', 'The payment gateway answered a query without bills');
      for (const bill of parsed.data.bills) {
        if (!bill.spay_result) continue;
        found.set(bill.bill_no, {
          billNo: bill.bill_no,
          tradeNo: bill.trade_no || undefined,
          amount: bill.total_fee,
          paidAt: typeof bill.success_time === 'number' ? new Date(bill.success_time) : undefined,
          state: bill.refund_result ? 'refunded' : 'paid',
        });
      }
      if (parsed.data.bills.length < BILLS_PAGE_LIMIT) return [...found.values()];
    }
  }

  /**
   * `POST /2/rest/refund` signed with the master secret (§4.3.1). A non-zero `result_code` is a
   * refusal (nothing was created), except 14 RUNTIME_ERROR: the gateway failing says nothing of
   * how far the refund got, so, like no readable answer, it leaves the outcome unknown, settled by
   * query (a refund failed at once could be asked for again and paid twice).
   */
  async createRefund(request: CreateRefundRequest): Promise<RefundSubmission> {
    try {
      const answer = await this.call('POST', new URL('/2/rest/refund', this.options.baseUrl).toString(), {
        ...this.signed(this.options.masterSecret),
        refund_no: request.refundNo,
        bill_no: request.billNo,
        refund_fee: request.amount,
        notify_url: this.options.notifyUrl,
        optional: { orderNo: request.orderNo },
      });
      return {
        outcome: 'accepted',
        providerId: typeof answer.id === 'string' && answer.id !== '' ? answer.id : undefined,
      };
    } catch (error) {
      if (
        AppError.is(error) &&
        typeof error.details?.resultCode === 'number' &&
        error.details.resultCode !== RUNTIME_ERROR
      ) {
        return {
          outcome: 'refused',
          reason: error.message,
          retryable: error.details.resultCode === REFUND_IN_PROGRESS,
          error,
        };
      }
      const unknown = AppError.is(error)
        ? error
        : new AppError('GATEWAY_ERROR', error instanceof Error ? error.message : String(error));
      return { outcome: 'unknown', reason: unknown.message, error: unknown };
    }
  }

  /**
   * A refund's state: `GET /2/rest/refund/status` (§4.4.5) for channels that send no refund
   * webhook, else `GET /2/rest/refunds` by `refund_no` (§4.4.3, `finish` and `result`).
   */
  async queryRefund(refundNo: string, billChannel: PaymentChannel): Promise<ProviderRefundState> {
    const channelType = channelTypeOf(billChannel);
    if (STATUS_QUERY_CHANNELS.includes(channelType)) {
      let answer: Record<string, unknown>;
      try {
        answer = await this.call('GET', new URL('/2/rest/refund/status', this.options.baseUrl).toString(), {
          ...this.signed(this.options.appSecret),
          channel: channelType,
          refund_no: refundNo,
        });
      } catch (error) {
        if (AppError.is(error) && error.details?.resultCode === NO_SUCH_REFUND) return { found: false };
        throw error;
      }
      const status = typeof answer.refund_status === 'string' ? answer.refund_status.toUpperCase() : '';
      if (status === 'SUCCESS') return { found: true, state: 'succeeded', detail: answer };
      if (status === 'PROCESSING' || status === '') return { found: true, state: 'pending', detail: answer };
      // WeChat's REFUNDCLOSE (closed) and CHANGE (abnormal: the money could not go back).
      return { found: true, state: 'failed', reason: `refund_status ${status}`, detail: answer };
    }
    const answer = await this.call('GET', new URL('/2/rest/refunds', this.options.baseUrl).toString(), {
      ...this.signed(this.options.appSecret),
      refund_no: refundNo,
      need_detail: true,
    });
    const parsed = refundsAnswerSchema.safeParse(answer);
    if (!parsed.success) throw new AppError('GATEWAY_ERROR', 'The payment gateway answered a query without refunds');
    const refund = parsed.data.refunds.find((candidate) => candidate.refund_no === refundNo);
    if (!refund) return { found: false };
    const detail = detailObject(refund.message_detail);
    if (!refund.finish) return { found: true, state: 'pending', detail };
    return refund.result
      ? { found: true, state: 'succeeded', detail }
      : { found: true, state: 'failed', reason: 'the gateway reports the refund finished without success', detail };
  }

  /**
   * Verifies and reads a webhook (§3): the body is the JSON message, its `signature` over the
   * fields of §3.3.1 (no header signs it). The gateway sends webhooks only for successes (§3.1,
   * §3.4.2), so a refund never fails by message here. Signed text is passed on as sent, NUL and
   * unpaired surrogates included: the domain keeps such a message for a person, as it does any
   * provider's. Throws AppError WEBHOOK_INVALID or WEBHOOK_SIGNATURE_INVALID.
   */
  async readNotification(message: ProviderMessage): Promise<ProviderEvent> {
    return this.parseWebhook(message.rawBody);
  }

  private parseWebhook(rawBody: string): ProviderEvent {
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      throw new AppError('WEBHOOK_INVALID', 'Webhook body is not JSON');
    }
    const parsed = webhookSchema.safeParse(body);
    if (!parsed.success) {
      throw new AppError(
        'WEBHOOK_INVALID',
        `Webhook body is malformed: ${echoed(parsed.error.issues[0]?.path.join('.') ?? '')}`,
      );
    }
    const message = parsed.data;
    // What is stored is the message as sent, not the fields read from it.
    const received = body as Record<string, unknown>;
    if (message.app_id !== undefined && message.app_id !== this.options.appId) {
      throw new AppError('WEBHOOK_SIGNATURE_INVALID', 'Webhook is for another app');
    }
    const expected = webhookSignature(this.options.appId, message, this.options.masterSecret);
    if (!constantTimeEqual(expected, message.signature.toLowerCase())) {
      throw new AppError('WEBHOOK_SIGNATURE_INVALID', 'Webhook signature does not verify');
    }
    // Only signed fields decide what a message means. `trade_success` is not signed (§3.3.1) and
    // the gateway sends messages only for successes (§3.1, §3.4.2): it is kept, never read.
    if (message.transaction_type === 'PAY') {
      const detail = detailObject(message.message_detail);
      return {
        type: 'payment.succeeded',
        billNo: message.transaction_id,
        amount: message.transaction_fee,
        tradeNo:
          typeof detail.transaction_id === 'string'
            ? detail.transaction_id
            : typeof detail.trade_no === 'string'
              ? detail.trade_no
              : undefined,
        detail: received,
      };
    }
    if (message.transaction_type === 'REFUND') {
      return {
        type: 'refund.succeeded',
        refundNo: message.transaction_id,
        amount: message.transaction_fee,
        detail: received,
      };
    }
    return {
      type: 'not_ours',
      kind: message.transaction_type,
      reference: message.transaction_id,
      amount: message.transaction_fee,
      reason: 'not a payment or refund of this checkout',
      detail: received,
    };
  }
}

/** The gateway gives a channel's detail as a JSON string (queries) or an object (webhooks). */
function detailObject(value: unknown): Record<string, unknown> {
  if (typeof value === 'string' && value.trim() !== '') {
    try {
      const parsed: unknown = JSON.parse(value);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        return parsed as Record<string, unknown>;
    } catch {
      return {};
    }
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  return {};
}

/** What the client needs from a bill, passed through exactly as the gateway signed it: only names change. */
function clientParamsOf(channel: PaymentChannel, answer: Record<string, unknown>): BillClientParams {
  const invalid = () => new AppError('GATEWAY_ERROR', `The payment gateway's ${channel} answer lacks payment fields`);
  switch (channel) {
    case 'WX_MINI': {
      const fields = channelAnswerSchemas.WX_MINI.safeParse(answer);
      if (!fields.success) throw invalid();
      return {
        channel,
        requestPayment: {
          timeStamp: String(fields.data.timestamp),
          nonceStr: fields.data.nonce_str,
          package: fields.data.package,
          signType: fields.data.sign_type,
          paySign: fields.data.pay_sign,
        },
      };
    }
    case 'BC_WX_WAP': {
      const fields = channelAnswerSchemas.BC_WX_WAP.safeParse(answer);
      if (!fields.success) throw invalid();
      return { channel, url: fields.data.url };
    }
    case 'ALI_APP': {
      const fields = channelAnswerSchemas.ALI_APP.safeParse(answer);
      if (!fields.success) throw invalid();
      return { channel, orderString: fields.data.order_string };
    }
    case 'TT_MINI':
      // Not in `channels`: the registry never routes Douyin's own checkout here.
      throw new Error('the payment gateway does not open TT_MINI bills');
  }
}

/**
 * A bill the gateway reports unpaid is failed or closed only when the channel's verdict in the
 * query's `message_detail` says so (WeChat `trade_state`, Alipay `trade_status`); otherwise it
 * may still be paid.
 */
function unpaidOutcomeOf(detail: Record<string, unknown>): BillOutcome {
  const state = upperText(detail.trade_state ?? detail.trade_status);
  if (state === 'CLOSED' || state === 'TRADE_CLOSED' || state === 'REVOKED') return 'closed';
  if (state === 'PAYERROR' || upperText(detail.result_code) === 'FAIL') return 'failed';
  return 'unknown';
}

/** A verdict field of the channel's detail, upper-cased; '' when it is not text (no verdict). */
function upperText(value: unknown): string {
  return typeof value === 'string' ? value.toUpperCase() : '';
}
