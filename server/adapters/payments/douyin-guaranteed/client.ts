import { requestJson, UpstreamBadAnswer, UpstreamUnreachable } from '../../http-json';
import { ecpayRequestSign } from './signing';
import { isJsonObject } from '../upstream-error';
import { saysProviderFailed, saysRecordMissing } from '../douyin-refusal-words';

/**
 * Douyin's 担保支付 server API (`https://developer.toutiao.com/api/apps/ecpay/v1/…`;
 * payments-beyond.md, "Douyin mini-program payment" → 担保支付): every call is a JSON POST of its
 * parameters with `app_id` and the request `sign` (./signing.ts), answered HTTP 200 with
 * `{err_no, err_tips, …}`, `err_no` 0 meaning done. The answers are not signed. Field names of
 * the answers beyond the pre-order's follow Douyin's 担保支付 pages ("订单查询", "退款", "查询退款");
 * they are not in payments-beyond.md.
 */

/** The merchant's 担保支付 secrets: the SALT that signs requests and the token that signs callbacks. */
export interface EcpayCredentials {
  salt: string;
  token: string;
}

/** Where and as whom the client calls. */
export interface EcpayClientOptions {
  /** `https://developer.toutiao.com` (DOUYIN_API_BASE_URL), or the sandbox. */
  baseUrl: string;
  /** The mini-program's AppID. */
  appId: string;
  /** Read on first use (the sandbox's development keys are made on first use). */
  credentials: () => Promise<EcpayCredentials>;
  /** Deadline of each call, ms. */
  timeoutMs: number;
}

const REFUSAL_TAG = Symbol.for('miniprogram-checkout.EcpayRefusal');

/** A readable answer with `err_no` other than 0: Douyin refused. Recognised by a tag as well as `instanceof`. */
export class EcpayRefusal extends Error {
  readonly [REFUSAL_TAG] = true;

  constructor(
    readonly errNo: number,
    readonly errTips: string,
    what: string,
  ) {
    super(`Douyin refused to ${what}: err_no ${errNo} ${errTips}`.trim());
    this.name = 'EcpayRefusal';
  }

  static is(error: unknown): error is EcpayRefusal {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[REFUSAL_TAG] === true;
  }

  /**
   * Whether it says the order or refund asked about does not exist: its `err_tips` name the record
   * as missing and no setting (see `saysRecordMissing`; Douyin's err_no for it is unconfirmed).
   */
  get notFound(): boolean {
    return saysRecordMissing(this.errTips);
  }

  /** Whether its `err_tips` say Douyin itself failed, so the call may have taken effect (see `saysProviderFailed`). */
  get saysDouyinFailed(): boolean {
    return saysProviderFailed(this.errTips);
  }
}

/** `query_order`'s `payment_info.order_status`. */
export type EcpayOrderStatus = 'PROCESSING' | 'SUCCESS' | 'FAIL' | 'TIMEOUT';

/** What `query_order` says of an order (`total_fee` fen). */
export interface EcpayOrder {
  outOrderNo: string;
  orderId: string;
  status: EcpayOrderStatus;
  /** Fen. */
  totalFee: number;
  /** `pay_time` as Douyin writes it, when paid. */
  payTime?: string;
  /** 1 WeChat, 2 Alipay, 10 Douyin Pay (`way`). */
  way?: string;
  channelNo?: string;
}

/** `query_refund`'s `refundInfo.refund_status`. */
export type EcpayRefundStatus = 'PROCESSING' | 'SUCCESS' | 'FAIL';

/** What `query_refund` says of a refund (`refund_amount` fen, `refunded_at` seconds). */
export interface EcpayRefund {
  refundNo: string;
  /** Fen. */
  refundAmount: number;
  status: EcpayRefundStatus;
  refundedAt?: number;
}

const ORDER_STATUSES: ReadonlySet<string> = new Set(['PROCESSING', 'SUCCESS', 'FAIL', 'TIMEOUT']);
const REFUND_STATUSES: ReadonlySet<string> = new Set(['PROCESSING', 'SUCCESS', 'FAIL']);

function text(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function fen(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/**
 * The calls of 担保支付 this checkout makes. Each throws `EcpayRefusal` for a refusal,
 * `UpstreamUnreachable` when Douyin cannot be heard and `UpstreamBadAnswer` for an answer that is
 * not the documented JSON.
 */
export class EcpayClient {
  constructor(private readonly options: EcpayClientOptions) {}

  /** The mini-program's AppID, as callbacks name it (`appid`). */
  get appId(): string {
    return this.options.appId;
  }

  /** The merchant's callback token (`msg_signature`). */
  async token(): Promise<string> {
    return (await this.credentials()).token;
  }

  /** The full URL of a call. */
  private url(path: string): string {
    return `${this.options.baseUrl.replace(/\/+$/, '')}/api/apps/ecpay/v1/${path}`;
  }

  /** The merchant's secrets; unreadable ones (the sandbox's not made yet) count as Douyin not heard. */
  private async credentials(): Promise<EcpayCredentials> {
    try {
      return await this.options.credentials();
    } catch (error) {
      throw new UpstreamUnreachable(this.options.baseUrl, error);
    }
  }

  private async call(path: string, params: Record<string, unknown>, what: string): Promise<Record<string, unknown>> {
    const { salt } = await this.credentials();
    const url = this.url(path);
    const body = { app_id: this.options.appId, ...params, sign: ecpayRequestSign(params, salt) };
    const answer = await requestJson({ method: 'POST', url, body, timeoutMs: this.options.timeoutMs });
    if (typeof answer.err_no !== 'number') throw new UpstreamBadAnswer(url, 200, JSON.stringify(answer).slice(0, 500));
    if (answer.err_no !== 0)
      throw new EcpayRefusal(answer.err_no, typeof answer.err_tips === 'string' ? answer.err_tips : '', what);
    return answer;
  }

  /** "预下单" `create_order`: `{order_id, order_token}` for `tt.pay`. Amount fen, `valid_time` seconds. */
  async createOrder(order: {
    outOrderNo: string;
    totalAmount: number;
    subject: string;
    body: string;
    validTime: number;
    cpExtra: string;
    notifyUrl: string;
  }): Promise<{ orderId: string; orderToken: string }> {
    const answer = await this.call(
      'create_order',
      {
        out_order_no: order.outOrderNo,
        total_amount: order.totalAmount,
        subject: order.subject,
        body: order.body,
        valid_time: order.validTime,
        cp_extra: order.cpExtra,
        notify_url: order.notifyUrl,
      },
      'create an order',
    );
    const data = isJsonObject(answer.data) ? answer.data : {};
    const orderId = text(data.order_id);
    const orderToken = text(data.order_token);
    if (!orderId || !orderToken)
      throw new UpstreamBadAnswer(this.url('create_order'), 200, 'create_order answered no order_id or order_token');
    return { orderId, orderToken };
  }

  /** "订单查询" `query_order` by `out_order_no`. */
  async queryOrder(outOrderNo: string): Promise<EcpayOrder> {
    const answer = await this.call('query_order', { out_order_no: outOrderNo }, 'query an order');
    const info = isJsonObject(answer.payment_info) ? answer.payment_info : undefined;
    const status = info ? text(info.order_status) : undefined;
    const totalFee = info ? fen(info.total_fee) : undefined;
    if (!info || !status || !ORDER_STATUSES.has(status) || totalFee === undefined) {
      throw new UpstreamBadAnswer(this.url('query_order'), 200, 'query_order answered no readable payment_info');
    }
    return {
      outOrderNo: text(answer.out_order_no) ?? outOrderNo,
      orderId: text(answer.order_id) ?? '',
      status: status as EcpayOrderStatus,
      totalFee,
      payTime: text(info.pay_time),
      way: text(info.way),
      channelNo: text(info.channel_no),
    };
  }

  /** "退款" `create_refund`: Douyin's `refund_no`. Amount fen. */
  async createRefund(refund: {
    outOrderNo: string;
    outRefundNo: string;
    reason: string;
    refundAmount: number;
    cpExtra: string;
    notifyUrl: string;
  }): Promise<{ refundNo?: string }> {
    const answer = await this.call(
      'create_refund',
      {
        out_order_no: refund.outOrderNo,
        out_refund_no: refund.outRefundNo,
        reason: refund.reason,
        refund_amount: refund.refundAmount,
        cp_extra: refund.cpExtra,
        notify_url: refund.notifyUrl,
      },
      'refund',
    );
    return { refundNo: text(answer.refund_no) };
  }

  /** "查询退款" `query_refund` by `out_refund_no`. */
  async queryRefund(outRefundNo: string): Promise<EcpayRefund> {
    const answer = await this.call('query_refund', { out_refund_no: outRefundNo }, 'query a refund');
    const info = isJsonObject(answer.refundInfo) ? answer.refundInfo : undefined;
    const status = info ? text(info.refund_status) : undefined;
    const refundAmount = info ? fen(info.refund_amount) : undefined;
    if (!info || !status || !REFUND_STATUSES.has(status) || refundAmount === undefined) {
      throw new UpstreamBadAnswer(this.url('query_refund'), 200, 'query_refund answered no readable refundInfo');
    }
    return {
      refundNo: text(info.refund_no) ?? '',
      refundAmount,
      status: status as EcpayRefundStatus,
      refundedAt: typeof info.refunded_at === 'number' ? info.refunded_at : undefined,
    };
  }
}
