import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../domain/errors';
import type { BillOutcome } from '../../domain/order-status';
import type {
  BillClientParams,
  CreateBillRequest,
  GatewayChannel,
  CreatedBill,
  GatewayBillState,
  GatewayEvent,
  PaymentGateway,
} from '../../domain/ports';
import { requestJson, UpstreamBadAnswer, UpstreamUnreachable } from '../http-json';

export interface BeeCloudOptions {
  baseUrl: string;
  appId: string;
  appSecret: string;
  masterSecret: string;
  /** When set, bills and queries go to the gateway's test mode, signed with this secret. */
  testSecret?: string;
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
    }),
  ),
});

const fee = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/).transform(Number)]);

const webhookSchema = z.object({
  signature: z.string(),
  app_id: z.string().optional(),
  timestamp: z.union([z.number(), z.string()]).optional(),
  channel_type: z.string(),
  sub_channel_type: z.string().optional(),
  transaction_type: z.string(),
  transaction_id: z.string().min(1),
  transaction_fee: fee,
  trade_success: z.boolean(),
  message_detail: z.record(z.string(), z.unknown()).nullish(),
  optional: z.unknown().optional(),
});

/**
 * The aggregate gateway (BeeCloud REST API v2, seed 001). The offline sandbox serves the same
 * paths, so production differs only in `baseUrl` and the secrets.
 */
export class BeeCloudGateway implements PaymentGateway {
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
      if (error instanceof UpstreamBadAnswer) throw new AppError('GATEWAY_ERROR', 'The payment gateway gave an unreadable answer');
      throw error;
    }
    const status = answerSchema.safeParse(answer);
    if (!status.success) throw new AppError('GATEWAY_ERROR', 'The payment gateway answered without a result_code');
    if (status.data.result_code !== 0) {
      throw new AppError(
        'GATEWAY_ERROR',
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

  async createBill(request: CreateBillRequest): Promise<CreatedBill> {
    const answer = await this.call('POST', this.path('/2/rest/bill', '/2/rest/sandbox/bill'), {
      ...this.signed(this.requestSecret),
      channel: request.channel,
      total_fee: request.amount,
      bill_no: request.billNo,
      title: request.title,
      notify_url: request.notifyUrl,
      bill_timeout: request.timeoutSeconds,
      openid: request.openid,
      optional: request.optional,
    });
    return { gatewayId: typeof answer.id === 'string' ? answer.id : '', clientParams: clientParamsOf(request.channel, answer) };
  }

  async queryBill(billNo: string): Promise<GatewayBillState | null> {
    const answer = await this.call('GET', this.path('/2/rest/bills', '/2/rest/sandbox/bills'), {
      ...this.signed(this.requestSecret),
      bill_no: billNo,
    });
    const parsed = billsAnswerSchema.safeParse(answer);
    if (!parsed.success) throw new AppError('GATEWAY_ERROR', 'The payment gateway answered a query without bills');
    const bill = parsed.data.bills.find((candidate) => candidate.bill_no === billNo);
    if (!bill) return null;
    return {
      billNo,
      paid: bill.spay_result,
      amount: bill.total_fee,
      channel: bill.sub_channel ?? bill.channel ?? '',
      gatewayTradeNo: bill.trade_no ?? undefined,
    };
  }

  parseWebhook(rawBody: string): GatewayEvent {
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      throw new AppError('WEBHOOK_INVALID', 'Webhook body is not JSON');
    }
    const parsed = webhookSchema.safeParse(body);
    if (!parsed.success) {
      throw new AppError('WEBHOOK_INVALID', `Webhook body is malformed: ${parsed.error.issues[0]?.path.join('.')}`);
    }
    const message = parsed.data;
    if (message.app_id !== undefined && message.app_id !== this.options.appId) {
      throw new AppError('WEBHOOK_SIGNATURE_INVALID', 'Webhook is for another app');
    }
    const expected = webhookSignature(this.options.appId, message, this.options.masterSecret);
    if (!constantTimeEqual(expected, message.signature.toLowerCase())) {
      throw new AppError('WEBHOOK_SIGNATURE_INVALID', 'Webhook signature does not verify');
    }
    const transactionType =
      message.transaction_type === 'PAY' || message.transaction_type === 'REFUND' ? message.transaction_type : 'OTHER';
    const detail = message.message_detail ?? {};
    return {
      transactionType,
      transactionId: message.transaction_id,
      amount: message.transaction_fee,
      outcome: outcomeOf(message.trade_success, detail),
      channel: message.sub_channel_type ?? message.channel_type,
      gatewayTradeNo: typeof detail.transaction_id === 'string'
        ? detail.transaction_id
        : typeof detail.trade_no === 'string'
          ? detail.trade_no
          : undefined,
      detail: message,
    };
  }
}

/** What the client needs from a bill, passed through exactly as the gateway signed it: only names change. */
function clientParamsOf(channel: GatewayChannel, answer: Record<string, unknown>): BillClientParams {
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
  }
}

/**
 * `trade_success: false` is not by itself a failure (the manual says so); only a channel
 * verdict in `message_detail` settles a bill as failed or closed.
 */
function outcomeOf(tradeSuccess: boolean, detail: Record<string, unknown>): BillOutcome {
  if (tradeSuccess) return 'paid';
  const state = String(detail.trade_state ?? detail.trade_status ?? '').toUpperCase();
  if (state === 'CLOSED' || state === 'TRADE_CLOSED' || state === 'REVOKED') return 'closed';
  if (state === 'PAYERROR' || String(detail.result_code ?? '').toUpperCase() === 'FAIL') return 'failed';
  return 'unknown';
}
