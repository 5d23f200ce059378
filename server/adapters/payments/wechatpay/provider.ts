import { AppError } from '../../../domain/errors';
import { echoed } from '../../../domain/text';
import type {
  BillClosing,
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
import type { BillOutcome } from '../../../domain/order-status';
import { upstreamFailure } from '../upstream-error';
import type { WechatPayClient } from './client';
import { WechatPayRefusal, WechatPayVerificationError } from './errors';
import type { WechatPayTradeState } from './resources';
import { parseTradeBill } from './trade-bill';

/**
 * WeChat Pay APIv3 for a direct merchant's mini-program, as the domain's `PaymentProvider`
 * (pay.weixin.qq.com, "JSAPI下单", "小程序调起支付", "查询订单", "关闭订单", "申请退款", "查询单笔
 * 退款", "支付成功回调通知", "退款结果通知", "申请交易账单", "下载账单"; payments-beyond.md, "WeChat
 * Pay APIv3"). Our `bill_no` is WeChat's `out_trade_no`, our `refund_no` its `out_refund_no`.
 *
 * What WeChat answers is believed only once `WechatPayClient` has verified its signature; an
 * answer that cannot be verified counts as no answer (the outcome is unknown), never as a
 * refusal. Errors thrown are `AppError`: `GATEWAY_UNAVAILABLE` when WeChat could not be heard
 * (no answer, a 5xx, an answer we cannot verify, 429 `FREQUENCY_LIMITED`: try again later) and
 * `GATEWAY_ERROR` when it refused (its `code` and `message` in the message and `details`).
 */

export interface WechatPayProviderOptions {
  client: WechatPayClient;
  /** The https URL WeChat Pay POSTs payment and refund notifications to (`…/api/wechatpay/notify`). */
  notifyUrl: string;
}

/** The only currency a mainland merchant takes ("JSAPI下单", `amount.currency`: CNY 人民币, 境内商户号仅支持人民币). */
const CURRENCY = 'CNY';
/** "JSAPI下单": `description` is at most 127 characters. */
const MAX_DESCRIPTION = 127;
/** "申请退款": `reason` is at most 80 characters. */
const MAX_REFUND_REASON = 80;

/**
 * Refusals that only ask to wait ("申请退款", 错误码): 429 FREQUENCY_LIMITED (该笔退款未受理, retry
 * more slowly) and 403 NOT_ENOUGH (the merchant's balance cannot cover it yet: it grows as
 * payments settle, or by a top-up). Nothing was created.
 */
const RETRYABLE_REFUND_CODES = new Set(['FREQUENCY_LIMITED', 'NOT_ENOUGH']);
/**
 * SYSTEM_ERROR ("申请退款", 错误码: 系统超时等, 请不要更换商户退款单号, 请使用相同参数再次调用API) says
 * nothing about what was done, whatever status carries it: the outcome is unknown, and the same
 * request is sent again.
 */
const UNKNOWN_OUTCOME_REFUND_CODES = new Set(['SYSTEM_ERROR']);
/** Refusals that mean "not now" rather than "no": answered GATEWAY_UNAVAILABLE. */
const BUSY_CODES = new Set(['FREQUENCY_LIMITED', 'SYSTEM_ERROR']);

/**
 * "查询订单", `trade_state`: SUCCESS paid; REFUND paid, then refunded (转入退款); NOTPAY and
 * USERPAYING still payable; CLOSED closed (关单 or expired); REVOKED revoked (已撤销, the
 * 付款码 flow); PAYERROR failed (支付失败, e.g. the bank refused).
 */
const OUTCOME_OF_TRADE_STATE: Record<WechatPayTradeState, BillOutcome> = {
  SUCCESS: 'paid',
  REFUND: 'paid',
  NOTPAY: 'unknown',
  USERPAYING: 'unknown',
  CLOSED: 'closed',
  REVOKED: 'closed',
  PAYERROR: 'failed',
};

/** How long the server hands a `prepay_id` out again: two hours less five minutes, ms. */
export const WECHATPAY_PREPAY_VALID_MS = (120 - 5) * 60 * 1000;

export class WechatPayProvider implements PaymentProvider {
  readonly id = 'wechatpay' as const;
  readonly channels: ReadonlySet<PaymentChannel> = new Set<PaymentChannel>(['WX_MINI']);
  /** "申请退款": 同一退款单号多次请求只退一笔; after a system error or timeout, send the same request again. */
  readonly idempotentRefunds = true;
  /**
   * "JSAPI下单": a `prepay_id` is valid two hours. Five minutes are kept back so that parameters
   * handed out are never about to lapse while the shopper pays.
   */
  readonly clientParamsValidMs = WECHATPAY_PREPAY_VALID_MS;
  private readonly client: WechatPayClient;
  private readonly notifyUrl: string;

  constructor(options: WechatPayProviderOptions) {
    this.client = options.client;
    this.notifyUrl = options.notifyUrl;
  }

  /**
   * "JSAPI下单" (`POST /v3/pay/transactions/jsapi`: `out_trade_no` = `billNo`, `attach` =
   * `orderNo`, `time_expire` = `expiresAt`, `amount.total` fen), then the `wx.requestPayment`
   * fields signed with the merchant key (`signType: "RSA"`); `providerId` is the `prepay_id`.
   *
   * A verified refusal is `refused` (GATEWAY_ERROR naming WeChat's code; GATEWAY_UNAVAILABLE for
   * FREQUENCY_LIMITED), except ORDERPAID and ORDER_CLOSED, which say the order exists: `unknown`,
   * settled by query. No answer, a 5xx or an answer that does not verify is `unknown`
   * (GATEWAY_UNAVAILABLE). WeChat answers a repeated prepay with identical parameters with the
   * same `prepay_id`; nothing here relies on that: an `unknown` bill is settled by `queryBill`
   * and `closeBill`, never opened again.
   */
  async openBill(request: OpenBillRequest): Promise<BillCreation> {
    if (request.channel !== 'WX_MINI' || !request.openid) {
      return {
        outcome: 'refused',
        error: new AppError('GATEWAY_ERROR', 'WeChat Pay opens WX_MINI bills only, for a payer with an openid', {
          provider: this.id,
          channel: request.channel,
        }),
      };
    }
    let prepayId: string;
    try {
      ({ prepayId } = await this.client.prepayJsapi({
        outTradeNo: request.billNo,
        description: [...request.title].slice(0, MAX_DESCRIPTION).join(''),
        amount: request.amount,
        openid: request.openid,
        notifyUrl: this.notifyUrl,
        expiresAt: request.expiresAt.getTime(),
        attach: request.orderNo,
      }));
    } catch (error) {
      const appError = upstreamError(error, 'open a bill');
      const exists = WechatPayRefusal.is(error) && (error.code === 'ORDERPAID' || error.code === 'ORDER_CLOSED');
      if (WechatPayRefusal.is(error) && !exists) return { outcome: 'refused', error: appError };
      return { outcome: 'unknown', error: appError };
    }
    const fields = this.client.requestPayment(prepayId);
    return {
      outcome: 'created',
      bill: {
        providerId: prepayId,
        clientParams: {
          channel: 'WX_MINI',
          requestPayment: {
            timeStamp: fields.timeStamp,
            nonceStr: fields.nonceStr,
            package: fields.package,
            signType: fields.signType,
            paySign: fields.paySign,
          },
        },
      },
    };
  }

  /**
   * "查询订单" by `out_trade_no` (`GET /v3/pay/transactions/out-trade-no/{out_trade_no}`): null when
   * WeChat has no such order (404 ORDER_NOT_EXIST). `trade_state` SUCCESS or REFUND is `paid`
   * with `amount` = `amount.total` (fen) and `tradeNo` = `transaction_id`; NOTPAY and USERPAYING
   * `unknown`; CLOSED and REVOKED `closed`; PAYERROR `failed`. Throws AppError GATEWAY_UNAVAILABLE
   * or GATEWAY_ERROR (see the class); GATEWAY_ERROR too for a payment in another currency than
   * CNY (`amount.currency`), whose total is no number of fen to record.
   */
  async queryBill(billNo: string): Promise<ProviderBillState | null> {
    let transaction;
    try {
      transaction = await this.client.queryTransaction(billNo);
    } catch (error) {
      throw upstreamError(error, 'query a bill');
    }
    if (!transaction) return null;
    const outcome = OUTCOME_OF_TRADE_STATE[transaction.tradeState];
    if (outcome === 'paid' && (transaction.amount === undefined || !transaction.transactionId)) {
      throw new AppError('GATEWAY_ERROR', `WeChat Pay reported ${billNo} paid without its amount or transaction_id`, {
        provider: this.id,
      });
    }
    if (transaction.amount !== undefined && transaction.amount.currency !== CURRENCY) {
      throw new AppError(
        'GATEWAY_ERROR',
        `WeChat Pay reported ${billNo} in ${transaction.amount.currency}, not ${CURRENCY}: not recorded, needs review`,
        { provider: this.id },
      );
    }
    return {
      billNo,
      outcome,
      amount: transaction.amount?.total ?? 0,
      tradeNo: transaction.transactionId,
      detail: transaction,
    };
  }

  /**
   * "关闭订单" (`POST …/out-trade-no/{out_trade_no}/close` → 204): `closed`. WeChat refuses to close
   * a paid order (ORDERPAID, "请当作已支付的正常交易"); since its APIv3 page does not list every
   * code such a refusal may carry, any verified refusal is followed by a query, which decides:
   * `paid`, or `closed` when the order is closed, failed or unknown to WeChat (404: it can never
   * be paid). Throws AppError GATEWAY_UNAVAILABLE when WeChat cannot be heard, GATEWAY_ERROR when it
   * refused to close an order that is still payable.
   */
  async closeBill(billNo: string): Promise<BillClosing> {
    try {
      await this.client.closeTransaction(billNo);
      return 'closed';
    } catch (error) {
      if (!WechatPayRefusal.is(error) || BUSY_CODES.has(error.code)) throw upstreamError(error, 'close a bill');
      const state = await this.queryBill(billNo);
      if (!state || state.outcome === 'closed' || state.outcome === 'failed') return 'closed';
      if (state.outcome === 'paid') return 'paid';
      throw upstreamError(error, 'close a bill');
    }
  }

  /**
   * "申请退款" (`POST /v3/refund/domestic/refunds`: `out_refund_no` = `refundNo`, `out_trade_no` =
   * `billNo`, `amount {refund, total, currency: "CNY"}` fen, `reason`, `notify_url`): `accepted`
   * (usually PROCESSING; the outcome comes by notification or `queryRefund`), `providerId` =
   * `refund_id`. A verified refusal is `refused`, `retryable` for FREQUENCY_LIMITED and
   * NOT_ENOUGH; anything else (no answer, a 5xx, SYSTEM_ERROR whatever its status, an answer that
   * does not verify) is `unknown`: WeChat asks that such a request be sent again with the same
   * `out_refund_no` and parameters ("同一退款单号多次请求只退一笔"), which `idempotentRefunds` tells
   * the domain. `error` is what `upstreamError` makes of the failure.
   */
  async createRefund(request: CreateRefundRequest): Promise<RefundSubmission> {
    try {
      const refund = await this.client.createRefund({
        outTradeNo: request.billNo,
        outRefundNo: request.refundNo,
        refund: request.amount,
        total: request.billAmount,
        reason: request.reason === undefined ? undefined : [...request.reason].slice(0, MAX_REFUND_REASON).join(''),
        notifyUrl: this.notifyUrl,
      });
      return { outcome: 'accepted', providerId: refund.refundId };
    } catch (error) {
      const appError = upstreamError(error, 'refund');
      if (WechatPayRefusal.is(error) && !UNKNOWN_OUTCOME_REFUND_CODES.has(error.code)) {
        return {
          outcome: 'refused',
          reason: `WeChat Pay refused the refund: ${error.code} ${error.detail}`.trim(),
          retryable: RETRYABLE_REFUND_CODES.has(error.code),
          error: appError,
        };
      }
      return { outcome: 'unknown', reason: appError.message, error: appError };
    }
  }

  /**
   * "查询单笔退款" (`GET /v3/refund/domestic/refunds/{out_refund_no}`): `status` SUCCESS is
   * `succeeded`, PROCESSING `pending`, CLOSED (退款关闭) `failed`; ABNORMAL (退款异常: the money
   * left the merchant but could not reach the payer's account, and is sent on by hand at the
   * merchant platform, after which WeChat reports SUCCESS) stays `pending` with its reason, so the
   * amount is never offered for refunding again; 404 is `found: false`. Throws
   * AppError GATEWAY_UNAVAILABLE or GATEWAY_ERROR.
   */
  async queryRefund(refundNo: string): Promise<ProviderRefundState> {
    let refund;
    try {
      refund = await this.client.queryRefund(refundNo);
    } catch (error) {
      throw upstreamError(error, 'query a refund');
    }
    if (!refund) return { found: false };
    switch (refund.status) {
      case 'SUCCESS':
        return { found: true, state: 'succeeded', detail: refund };
      case 'PROCESSING':
        return { found: true, state: 'pending', detail: refund };
      case 'CLOSED':
        return { found: true, state: 'failed', reason: 'CLOSED: WeChat Pay closed the refund', detail: refund };
      case 'ABNORMAL':
        return {
          found: true,
          state: 'pending',
          reason: "ABNORMAL: the money could not reach the payer's account; handle it at the merchant platform",
          detail: refund,
        };
    }
  }

  /**
   * Verifies a notification (`Wechatpay-Signature` over `timestamp\nnonce\nbody\n` with the key
   * its `Wechatpay-Serial` names, the timestamp within the skew) and decrypts its resource with
   * the APIv3 key ("支付成功回调通知", "退款结果通知"). TRANSACTION.SUCCESS is `payment.succeeded`
   * (`billNo` = `out_trade_no`, `amount` = `amount.total` fen, `tradeNo` = `transaction_id`);
   * REFUND.SUCCESS `refund.succeeded` (`amount` = `amount.refund`, `billNo` = `out_trade_no`);
   * REFUND.CLOSED `refund.failed`; REFUND.ABNORMAL (退款异常: the money left, and waits to be sent
   * on by hand at the merchant platform) is kept for a person as `not_ours` while the refund stays
   * pending — never `refund.failed`, which would offer the amount for refunding again; any other
   * verified event, one for another 商户号 or AppID, or one whose `amount.currency` is not CNY,
   * `not_ours` (with the resource's number and amount where it has them). Everything in the result
   * comes from the decrypted resource.
   *
   * Throws AppError WEBHOOK_SIGNATURE_INVALID when it cannot be verified or decrypted (forged,
   * stale, unknown serial, tampered), WEBHOOK_INVALID when it verifies but is not what WeChat
   * sends, GATEWAY_UNAVAILABLE when the platform certificates could not be downloaded to check it
   * (WeChat sends it again); `details.reason` is the verification reason.
   */
  async readNotification(message: ProviderMessage): Promise<ProviderEvent> {
    let notification;
    try {
      notification = await this.client.readNotification({ headers: { ...message.headers }, body: message.rawBody });
    } catch (error) {
      if (WechatPayVerificationError.is(error)) {
        const details = { provider: this.id, reason: error.reason };
        if (error.reason === 'BAD_BODY') throw new AppError('WEBHOOK_INVALID', error.message, details);
        if (error.reason === 'NO_CERTIFICATES') {
          throw new AppError(
            'GATEWAY_UNAVAILABLE',
            `WeChat Pay's certificates are unavailable: ${error.message}`,
            details,
          );
        }
        throw new AppError('WEBHOOK_SIGNATURE_INVALID', error.message, details);
      }
      throw upstreamError(error, 'download the platform certificates');
    }
    switch (notification.kind) {
      case 'transaction_succeeded': {
        const { transaction } = notification;
        return {
          type: 'payment.succeeded',
          billNo: transaction.outTradeNo,
          amount: (transaction.amount as { total: number }).total,
          tradeNo: transaction.transactionId,
          detail: transaction,
        };
      }
      case 'refund_succeeded':
        return {
          type: 'refund.succeeded',
          refundNo: notification.refund.outRefundNo,
          amount: notification.refund.amount.refund,
          billNo: notification.refund.outTradeNo,
          detail: notification.refund,
        };
      case 'refund_failed':
        if (notification.refund.status === 'ABNORMAL') {
          return {
            type: 'not_ours',
            kind: 'REFUND.ABNORMAL',
            reference: notification.refund.outRefundNo,
            amount: notification.refund.amount.refund,
            reason:
              "退款异常: the money could not reach the payer's account; send it on at the merchant platform " +
              '(the refund stays pending here until WeChat Pay reports it succeeded)',
            detail: notification.refund,
          };
        }
        return {
          type: 'refund.failed',
          refundNo: notification.refund.outRefundNo,
          reason: `refund_status ${notification.refund.status}`,
          billNo: notification.refund.outTradeNo,
          detail: notification.refund,
        };
      case 'not_ours':
        return {
          type: 'not_ours',
          kind: notification.eventType,
          reference: notification.reference ?? notification.id,
          amount: notification.amount ?? 0,
          reason: notification.reason,
          detail: notification,
        };
    }
  }

  /**
   * The successful payments of `day` (China time, `YYYY-MM-DD`) from WeChat's trade bill:
   * "申请交易账单" (`GET /v3/bill/tradebill?bill_date=…&bill_type=SUCCESS` → `download_url`,
   * `hash_value`), then "下载账单" (a signed GET; the file is not signed, its SHA1 must be
   * `hash_value`). Amounts are 订单金额 in fen. A day without a payment (400 NO_STATEMENT_EXIST) is
   * an empty list. Throws AppError VALIDATION_FAILED for a malformed day, GATEWAY_UNAVAILABLE
   * while the bill is not made yet (STATEMENT_CREATING: after 10:00 the next day) or WeChat cannot
   * be heard, GATEWAY_ERROR for a refusal or a bill that does not read or match its hash.
   */
  async listTransactions(day: string): Promise<ProviderTransaction[]> {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new AppError('VALIDATION_FAILED', `${echoed(day)} is not YYYY-MM-DD`);
    let text: string;
    try {
      const link = await this.client.tradeBill(day, 'SUCCESS');
      text = await this.client.downloadBill(link);
    } catch (error) {
      if (WechatPayRefusal.is(error) && error.code === 'NO_STATEMENT_EXIST') return [];
      if (WechatPayRefusal.is(error) && error.code === 'STATEMENT_CREATING') {
        throw new AppError(
          'GATEWAY_UNAVAILABLE',
          `WeChat Pay's bill of ${day} is not made yet (after 10:00 the next day)`,
          {
            provider: this.id,
            code: error.code,
          },
        );
      }
      if (WechatPayVerificationError.is(error) && error.reason === 'BAD_BODY') {
        throw new AppError('GATEWAY_ERROR', `WeChat Pay's bill of ${day} cannot be used: ${error.message}`, {
          provider: this.id,
        });
      }
      throw upstreamError(error, 'list transactions');
    }
    let rows;
    try {
      rows = parseTradeBill(text);
    } catch (error) {
      if (!WechatPayVerificationError.is(error)) throw error;
      throw new AppError('GATEWAY_ERROR', `WeChat Pay's bill of ${day} does not read: ${error.message}`, {
        provider: this.id,
      });
    }
    const refunded = new Set(rows.filter((row) => row.tradeState === 'REFUND').map((row) => row.outTradeNo));
    return rows
      .filter((row) => row.tradeState === 'SUCCESS')
      .map((row) => ({
        billNo: row.outTradeNo,
        tradeNo: row.transactionId || undefined,
        amount: row.total,
        paidAt: row.time,
        state: refunded.has(row.outTradeNo) ? 'refunded' : 'paid',
      }));
  }
}

/**
 * The AppError for a failed call: a verified refusal is GATEWAY_ERROR with WeChat's code and
 * message (GATEWAY_UNAVAILABLE for FREQUENCY_LIMITED and SYSTEM_ERROR); no answer, a 5xx or an
 * answer that does not verify is GATEWAY_UNAVAILABLE. Anything else is a bug and is rethrown.
 */
function upstreamError(error: unknown, what: string): AppError {
  return upstreamFailure(error, what, {
    provider: 'wechatpay',
    name: 'WeChat Pay',
    own: (failure, call) => {
      if (WechatPayRefusal.is(failure)) {
        return new AppError(
          BUSY_CODES.has(failure.code) ? 'GATEWAY_UNAVAILABLE' : 'GATEWAY_ERROR',
          `WeChat Pay refused to ${call}: ${failure.code} ${failure.detail}`.trim(),
          { provider: 'wechatpay', status: failure.status, code: failure.code, message: failure.detail },
        );
      }
      if (WechatPayVerificationError.is(failure)) {
        return new AppError(
          'GATEWAY_UNAVAILABLE',
          `WeChat Pay's answer cannot be trusted (${call}): ${failure.message}`,
          { provider: 'wechatpay', reason: failure.reason },
        );
      }
      return undefined;
    },
  });
}
