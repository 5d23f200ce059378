import { echoed } from '../../../domain/text';
import { AppError } from '../../../domain/errors';
import type { BillOutcome } from '../../../domain/order-status';
import type {
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
import { douyinRefundState, namedBill } from '../douyin-refund-state';
import { isJsonObject, upstreamFailure } from '../upstream-error';
import { EcpayClient, EcpayOrderStatus, EcpayRefusal } from './client';
import { isEcpayCallbackSignature } from './signing';

/**
 * Douyin's 担保支付 (`/api/apps/ecpay/v1/…`) as the domain's `PaymentProvider`, for `TT_MINI` bills
 * (payments-beyond.md, "Douyin mini-program payment" → 担保支付). Our `bill_no` is its
 * `out_order_no`, our `refund_no` its `out_refund_no`; `cp_extra` carries our order number.
 * Douyin's answers are not signed; its callbacks are (`msg_signature` with the token).
 *
 * Errors thrown are `AppError`: `GATEWAY_UNAVAILABLE` when Douyin could not be heard (no answer,
 * a 5xx, an answer that is not the documented JSON), `GATEWAY_ERROR` when it refused (`err_no`
 * and `err_tips` in the message and `details`).
 *
 * 担保支付 has no call that closes an order: an unpaid order ends at its `valid_time` (set to the
 * order's time left), so there is no `closeBill`, as at the gateway.
 */

/** The client, where callbacks go, and the clock that bounds their age. */
export interface DouyinGuaranteedProviderOptions {
  client: EcpayClient;
  /** Where Douyin POSTs payment and refund callbacks: `PUBLIC_BASE_URL/api/douyin/ecpay/notify`. */
  notifyUrl: string;
  /** ms clock, for the callbacks' timestamps. @default Date.now */
  now?: () => number;
}

/** `subject` and `body` of `create_order` are at most 128 characters. */
const MAX_SUBJECT = 128;
/** `reason` of `create_refund` is at most 100 characters. */
const MAX_REFUND_REASON = 100;
/**
 * How far a callback's `timestamp` may be from our clock, seconds. Douyin's page gives no bound;
 * this is the one WeChat Pay uses, so a recorded callback cannot be replayed days later (the
 * sandbox signs each attempt afresh).
 */
export const CALLBACK_MAX_SKEW_S = 300;

const OUTCOME_OF_ORDER_STATUS: Record<EcpayOrderStatus, BillOutcome> = {
  SUCCESS: 'paid',
  PROCESSING: 'unknown',
  FAIL: 'failed',
  TIMEOUT: 'closed',
};

/** A callback field that must be text (numbers as Douyin may write `timestamp`). */
function fieldText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function fenOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** 担保支付 for `TT_MINI` bills (see the module's comment above). */
export class DouyinGuaranteedProvider implements PaymentProvider {
  readonly id = 'douyin_guaranteed' as const;
  readonly channels: ReadonlySet<PaymentChannel> = new Set<PaymentChannel>(['TT_MINI']);
  /**
   * Not promised: 担保支付's refund page says nothing of a refund number sent twice, so a refund
   * whose answer was lost is only asked about (`query_refund`), never sent again.
   */
  readonly idempotentRefunds = false;
  private readonly client: EcpayClient;
  private readonly notifyUrl: string;
  private readonly now: () => number;

  constructor(options: DouyinGuaranteedProviderOptions) {
    this.client = options.client;
    this.notifyUrl = options.notifyUrl;
    this.now = options.now ?? Date.now;
  }

  /**
   * "预下单" `create_order` (`out_order_no` = `billNo`, `total_amount` fen, `subject` and `body` the
   * title, `valid_time` = `timeoutSeconds`, `cp_extra` = `orderNo`, `notify_url`): created with the
   * client's `tt.pay({service: 5, orderInfo: {order_id, order_token}})`, `providerId` = `order_id`.
   * A refusal is `refused` (GATEWAY_ERROR naming `err_no`); no readable answer is `unknown`
   * (GATEWAY_UNAVAILABLE), settled by `queryBill`.
   */
  async openBill(request: OpenBillRequest): Promise<BillCreation> {
    if (request.channel !== 'TT_MINI') {
      return {
        outcome: 'refused',
        error: new AppError('GATEWAY_ERROR', "Douyin's 担保支付 opens TT_MINI bills only", {
          provider: this.id,
          channel: request.channel,
        }),
      };
    }
    const title = [...request.title].slice(0, MAX_SUBJECT).join('');
    try {
      const { orderId, orderToken } = await this.client.createOrder({
        outOrderNo: request.billNo,
        totalAmount: request.amount,
        subject: title,
        body: title,
        validTime: request.timeoutSeconds,
        cpExtra: request.orderNo,
        notifyUrl: this.notifyUrl,
      });
      return {
        outcome: 'created',
        bill: {
          providerId: orderId,
          clientParams: {
            channel: 'TT_MINI',
            douyin: { call: 'pay', service: 5, orderInfo: { order_id: orderId, order_token: orderToken } },
          },
        },
      };
    } catch (error) {
      const appError = upstreamError(error, 'open a bill');
      return EcpayRefusal.is(error) ? { outcome: 'refused', error: appError } : { outcome: 'unknown', error: appError };
    }
  }

  /**
   * "订单查询" `query_order`: `payment_info.order_status` SUCCESS is `paid` (`amount` = `total_fee`
   * fen, `tradeNo` = Douyin's `order_id`), PROCESSING `unknown`, FAIL `failed`, TIMEOUT `closed`;
   * null when Douyin answers that the order does not exist. Throws AppError GATEWAY_UNAVAILABLE or
   * GATEWAY_ERROR.
   */
  async queryBill(billNo: string): Promise<ProviderBillState | null> {
    let order;
    try {
      order = await this.client.queryOrder(billNo);
    } catch (error) {
      if (EcpayRefusal.is(error) && error.notFound) return null;
      throw upstreamError(error, 'query a bill');
    }
    return {
      billNo,
      outcome: OUTCOME_OF_ORDER_STATUS[order.status],
      amount: order.totalFee,
      tradeNo: order.orderId || undefined,
      detail: order,
    };
  }

  /**
   * "退款" `create_refund` (`out_order_no` = `billNo`, `out_refund_no` = `refundNo`,
   * `refund_amount` fen, `reason`, `cp_extra` = `orderNo`, `notify_url`): `accepted`, its outcome
   * comes by callback or `queryRefund`. A refusal is `refused` (not retryable: Douyin's page names no
   * refusal that only asks to wait); no readable answer, or one saying Douyin itself failed
   * (系统错误, see `saysProviderFailed`), is `unknown`, settled by query.
   */
  async createRefund(request: CreateRefundRequest): Promise<RefundSubmission> {
    try {
      const { refundNo } = await this.client.createRefund({
        outOrderNo: request.billNo,
        outRefundNo: request.refundNo,
        reason: [...(request.reason ?? '退款')].slice(0, MAX_REFUND_REASON).join('') || '退款',
        refundAmount: request.amount,
        cpExtra: request.orderNo,
        notifyUrl: this.notifyUrl,
      });
      return { outcome: 'accepted', providerId: refundNo };
    } catch (error) {
      const failure = upstreamError(error, 'refund');
      if (EcpayRefusal.is(error) && !error.saysDouyinFailed)
        return { outcome: 'refused', reason: error.message, retryable: false, error: failure };
      return { outcome: 'unknown', reason: failure.message, error: failure };
    }
  }

  /**
   * "查询退款" `query_refund`: `refund_status` SUCCESS is `succeeded`, PROCESSING `pending`, FAIL
   * `failed`; `found: false` when Douyin answers that the refund does not exist. Throws AppError
   * GATEWAY_UNAVAILABLE or GATEWAY_ERROR.
   */
  async queryRefund(refundNo: string): Promise<ProviderRefundState> {
    let refund;
    try {
      refund = await this.client.queryRefund(refundNo);
    } catch (error) {
      if (EcpayRefusal.is(error) && error.notFound) return { found: false };
      throw upstreamError(error, 'query a refund');
    }
    return douyinRefundState(refund.status, refund);
  }

  /**
   * Verifies a callback (POST JSON `{timestamp, nonce, msg, type, msg_signature}`): `msg_signature`
   * must be `sha1(sort([token, timestamp, nonce, msg]).join(""))` over the fields as sent, and
   * `timestamp` within `CALLBACK_MAX_SKEW_S` of our clock; only then is `msg` (a JSON text) read.
   * `payment` with `status` SUCCESS is `payment.succeeded` (`billNo` = `cp_orderno`, `amount` =
   * `total_amount` fen, `tradeNo` = `order_id`); `refund` SUCCESS `refund.succeeded` (`refundNo` =
   * `cp_refundno`, `amount` = `refund_amount`), FAIL `refund.failed`, each naming the bill the msg
   * names (`billTradeNo` = `order_id`, `billNo` = `cp_orderno` if it has one) for the domain to
   * check; anything else verified, or
   * for another mini-program's `appid`, `not_ours`.
   *
   * Throws AppError WEBHOOK_SIGNATURE_INVALID when it is unsigned, forged, tampered or stale
   * (`details.reason`), WEBHOOK_INVALID when it verifies but is not what Douyin sends.
   */
  async readNotification(message: ProviderMessage): Promise<ProviderEvent> {
    const refuse = (code: 'WEBHOOK_INVALID' | 'WEBHOOK_SIGNATURE_INVALID', reason: string, why: string) =>
      new AppError(code, `Douyin 担保支付 callback refused: ${why}`, { provider: this.id, reason });
    let body: unknown;
    try {
      body = JSON.parse(message.rawBody);
    } catch {
      throw refuse('WEBHOOK_INVALID', 'BAD_BODY', 'the body is not JSON');
    }
    if (!isJsonObject(body)) throw refuse('WEBHOOK_INVALID', 'BAD_BODY', 'the body is not a JSON object');
    const timestamp = fieldText(body.timestamp);
    const nonce = fieldText(body.nonce);
    const msg = fieldText(body.msg);
    const signature = fieldText(body.msg_signature);
    if (timestamp === undefined || nonce === undefined || msg === undefined || !signature) {
      throw refuse('WEBHOOK_SIGNATURE_INVALID', 'MISSING_FIELDS', 'timestamp, nonce, msg or msg_signature is missing');
    }
    let token: string;
    try {
      token = await this.client.token();
    } catch (error) {
      throw upstreamError(error, 'read the callback token');
    }
    if (!isEcpayCallbackSignature({ timestamp, nonce, msg }, token, signature)) {
      throw refuse('WEBHOOK_SIGNATURE_INVALID', 'BAD_SIGNATURE', 'msg_signature does not verify');
    }
    const seconds = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : NaN;
    if (!(Math.abs(this.now() / 1000 - seconds) <= CALLBACK_MAX_SKEW_S)) {
      throw refuse(
        'WEBHOOK_SIGNATURE_INVALID',
        'STALE_TIMESTAMP',
        `timestamp is more than ${CALLBACK_MAX_SKEW_S} s from our clock`,
      );
    }
    let content: unknown;
    try {
      content = JSON.parse(msg);
    } catch {
      throw refuse('WEBHOOK_INVALID', 'BAD_BODY', 'msg is not JSON');
    }
    if (!isJsonObject(content)) throw refuse('WEBHOOK_INVALID', 'BAD_BODY', 'msg is not a JSON object');
    const type = fieldText(body.type) ?? '';
    // `type` is outside what msg_signature covers: a payment relabelled `settle` on its way would be
    // acknowledged and dropped. What the signed msg names decides; a label that disagrees is refused,
    // so Douyin sends the callback again.
    const signedKind = fieldText(content.cp_refundno)
      ? 'refund'
      : fieldText(content.cp_orderno) && !fieldText(content.cp_settle_no)
        ? 'payment'
        : undefined;
    if ((signedKind !== undefined || type === 'payment' || type === 'refund') && type !== signedKind) {
      throw refuse(
        'WEBHOOK_INVALID',
        'TYPE_MISMATCH',
        `type ${JSON.stringify(echoed(type))} does not match its signed msg (${signedKind ?? 'neither a payment nor a refund'})`,
      );
    }
    const notOurs = (reason: string, reference: string, amount = 0): ProviderEvent => ({
      type: 'not_ours',
      kind: `ecpay.${type || 'unknown'}`,
      reference,
      amount,
      reason,
      detail: content,
    });
    if (content.appid !== undefined && content.appid !== this.client.appId) {
      return notOurs(`a callback for another mini-program (appid ${echoed(JSON.stringify(content.appid) ?? '')})`, '');
    }
    const status = fieldText(content.status);
    if (type === 'payment') {
      const billNo = fieldText(content.cp_orderno);
      const amount = fenOf(content.total_amount);
      if (!billNo || amount === undefined)
        throw refuse('WEBHOOK_INVALID', 'BAD_BODY', 'a payment without cp_orderno or total_amount');
      if (status !== 'SUCCESS') return notOurs(`a payment callback with status ${status ?? '(none)'}`, billNo, amount);
      return {
        type: 'payment.succeeded',
        billNo,
        amount,
        tradeNo: fieldText(content.order_id) || undefined,
        detail: content,
      };
    }
    if (type === 'refund') {
      const refundNo = fieldText(content.cp_refundno);
      const amount = fenOf(content.refund_amount);
      if (!refundNo || amount === undefined) {
        throw refuse('WEBHOOK_INVALID', 'BAD_BODY', 'a refund without cp_refundno or refund_amount');
      }
      // The bill the signed msg names, so that a refund of another bill is never applied to ours.
      const named = {
        billNo: namedBill(content.cp_orderno),
        billTradeNo: namedBill(content.order_id),
      };
      if (status === 'SUCCESS') return { type: 'refund.succeeded', refundNo, amount, ...named, detail: content };
      if (status === 'FAIL')
        return {
          type: 'refund.failed',
          refundNo,
          reason: `status FAIL ${fieldText(content.message) ?? ''}`.trim(),
          ...named,
          detail: content,
        };
      return notOurs(`a refund callback with status ${status ?? '(none)'}`, refundNo, amount);
    }
    return notOurs(`a callback of type ${type || '(none)'}, which this checkout does not act on`, '');
  }

  /**
   * Not offered yet: 担保支付's statement (`GET /api/apps/bill`) is not read by this checkout.
   * Throws AppError GATEWAY_ERROR.
   */
  async listTransactions(day: string): Promise<ProviderTransaction[]> {
    throw new AppError('GATEWAY_ERROR', `Douyin 担保支付's statement of ${day} is not read by this checkout`, {
      provider: this.id,
    });
  }
}

/**
 * The AppError for a failed call (see `upstreamFailure`): a refusal is GATEWAY_ERROR with `err_no`
 * and `err_tips`; no answer, a 5xx or an unreadable answer GATEWAY_UNAVAILABLE.
 */
function upstreamError(error: unknown, what: string): AppError {
  return upstreamFailure(error, what, {
    provider: 'douyin_guaranteed',
    name: 'Douyin 担保支付',
    own: (refusal) =>
      EcpayRefusal.is(refusal)
        ? new AppError('GATEWAY_ERROR', refusal.message, {
            provider: 'douyin_guaranteed',
            errNo: refusal.errNo,
            errTips: refusal.errTips,
          })
        : undefined,
  });
}
