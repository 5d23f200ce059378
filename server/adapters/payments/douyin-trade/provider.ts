import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { AppError } from '../../../domain/errors';
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
import type { BillOutcome } from '../../../domain/order-status';
import { douyinRefundState, namedBill } from '../douyin-refund-state';
import { isJsonObject, upstreamFailure } from '../upstream-error';
import {
  DouyinTradeClient,
  DouyinTradeRefusal,
  ORDER_QUERY_PATH,
  REFUND_CREATE_PATH,
  REFUND_QUERY_PATH,
} from './client';
import { checkCallback, signRequestOrder } from './signing';

/**
 * Douyin's 通用交易系统 (general trade system) for a mini-program, as the domain's
 * `PaymentProvider` (payments-beyond.md, "Douyin mini-program payment", 通用交易系统;
 * developer.open-douyin.com, 小程序 → 服务端 → 支付 → 通用交易系统). Our `bill_no` is its
 * `outOrderNo` / `out_order_no`, our `refund_no` its `out_refund_no`; Douyin's `order_id` is the
 * bill's `tradeNo`.
 *
 * Douyin creates the order only when the mini-program calls `tt.requestOrder({data,
 * byteAuthorization})`: opening a bill here signs the order locally and calls nothing, and a
 * query finds no order (null) until the shopper's client has made that call.
 *
 * Errors thrown are `AppError`: GATEWAY_UNAVAILABLE when Douyin could not be heard (no answer, a
 * 5xx, 429, an unreadable answer, or a refusal that only asks to wait), GATEWAY_ERROR when it
 * refused (its `err_no` and `err_msg` in the message and details).
 */

export interface DouyinTradeProviderOptions {
  client: DouyinTradeClient;
  /** The mini-program's AppID (`appid` in `byteAuthorization`; `app_id` in callbacks). */
  appId: string;
  /** The app private key (PKCS#8 or PKCS#1 PEM) whose public half is uploaded in 开发设置 → 密钥设置. */
  appPrivateKeyPem: string;
  /** The version the console gave the uploaded app public key (`key_version`). */
  keyVersion: string;
  /** Douyin's platform public key (SPKI PEM), downloaded from the same console page. */
  platformPublicKeyPem: string;
  /** Where Douyin POSTs payment and refund callbacks (`…/api/douyin/trade/notify`). */
  notifyUrl: string;
  /** The mini-program page an order links to (`orderEntrySchema.path`). */
  orderPagePath: string;
  now: () => number;
}

/**
 * Callbacks older or newer than this are refused (STALE). Douyin states no bound (unconfirmed);
 * 5 minutes, as WeChat Pay, since each retry is signed afresh.
 */
export const CALLBACK_MAX_SKEW_SECONDS = 300;

/**
 * How old a `byteAuthorization` Douyin may still take at `tt.requestOrder`, seconds: its bound is
 * unconfirmed (the sandbox takes 5 minutes), so twice that is assumed. Every signing sets
 * `payExpireSeconds` to the time left to the order's deadline, counted by Douyin from the
 * `tt.requestOrder` call, so an order made from parameters handed out before the deadline can be
 * paid at most this long past it: the order waits that long before it expires.
 */
export const REQUEST_ORDER_MAX_AGE_SECONDS = 600;

/** "预下单" `payExpireSeconds`: at most 48 hours (payments-beyond.md); at least 1 here. */
const MAX_PAY_EXPIRE_SECONDS = 48 * 3600;
/** SKU titles are short in Douyin's cashier; its limit is unconfirmed, 256 characters is a guess kept small. */
const MAX_TITLE = 256;

/**
 * "查询订单" `pay_status` (unconfirmed spelling: PROCESS while payable, SUCCESS paid, FAIL failed,
 * TIMEOUT expired unpaid; CANCEL as callbacks name a closed order). Anything else counts as payable.
 */
const OUTCOME_OF_PAY_STATUS: Record<string, BillOutcome> = {
  SUCCESS: 'paid',
  PROCESS: 'unknown',
  INIT: 'unknown',
  FAIL: 'failed',
  FAILED: 'failed',
  TIMEOUT: 'closed',
  CANCEL: 'closed',
  CLOSED: 'closed',
};

/** The order JSON `tt.requestOrder` takes as `data` (payments-beyond.md, 通用交易系统, `data`). */
export interface DouyinTradeOrderData {
  skuList: Array<{
    skuId: string;
    /** Fen, per unit. */
    price: number;
    quantity: number;
    title: string;
    imageList: string[];
  }>;
  outOrderNo: string;
  /** Fen. */
  totalAmount: number;
  /** Seconds from the `tt.requestOrder` call. */
  payExpireSeconds: number;
  payNotifyUrl: string;
  orderEntrySchema: { path: string; params: string };
}

/** `PaymentProvider.payerMadeBills` of the 通用交易系统 (see REQUEST_ORDER_MAX_AGE_SECONDS). */
export const DOUYIN_TRADE_PAYER_MADE_BILLS = Object.freeze({
  payableBeyondDeadlineMs: REQUEST_ORDER_MAX_AGE_SECONDS * 1000,
});

export class DouyinTradeProvider implements PaymentProvider {
  readonly id = 'douyin_trade' as const;
  readonly channels: ReadonlySet<PaymentChannel> = new Set<PaymentChannel>(['TT_MINI']);
  /**
   * Not promised: the refund page says nothing of an `out_refund_no` sent twice (unconfirmed), so
   * a refund whose answer was lost is only asked about, never sent again.
   */
  readonly idempotentRefunds = false;
  /** Douyin makes the order at the mini-program's `tt.requestOrder`, from our signed `data`. */
  readonly payerMadeBills = DOUYIN_TRADE_PAYER_MADE_BILLS;
  private readonly client: DouyinTradeClient;
  private readonly appPrivateKey: KeyObject;
  private readonly platformPublicKey: KeyObject;

  /** Throws when a key does not read (checked at boot). */
  constructor(private readonly options: DouyinTradeProviderOptions) {
    this.client = options.client;
    this.appPrivateKey = createPrivateKey(options.appPrivateKeyPem);
    this.platformPublicKey = createPublicKey(options.platformPublicKeyPem);
  }

  /**
   * Builds the order `data` (one SKU line: `skuId` = our order number, the whole amount at
   * quantity 1; `outOrderNo` = `billNo`; `payExpireSeconds` = the seconds left to the order's
   * deadline; `payNotifyUrl`; `orderEntrySchema` pointing at the checkout page with the order
   * number) and signs it into `byteAuthorization`. No upstream call: always `created`, with no
   * `providerId` (Douyin's `order_id` exists only after `tt.requestOrder`). `imageList` is empty:
   * whether Douyin insists on an image for every category is unconfirmed.
   */
  async openBill(request: OpenBillRequest): Promise<BillCreation> {
    if (request.channel !== 'TT_MINI') {
      return {
        outcome: 'refused',
        error: new AppError('GATEWAY_ERROR', 'Douyin 通用交易系统 opens TT_MINI bills only', {
          provider: this.id,
          channel: request.channel,
        }),
      };
    }
    const data: DouyinTradeOrderData = {
      skuList: [
        {
          skuId: request.orderNo,
          price: request.amount,
          quantity: 1,
          title: [...request.title].slice(0, MAX_TITLE).join(''),
          imageList: [],
        },
      ],
      outOrderNo: request.billNo,
      totalAmount: request.amount,
      payExpireSeconds: this.payExpireSeconds(request.expiresAt),
      payNotifyUrl: this.options.notifyUrl,
      orderEntrySchema: {
        path: this.options.orderPagePath,
        params: JSON.stringify({ orderNo: request.orderNo }),
      },
    };
    return { outcome: 'created', bill: { clientParams: this.signed(JSON.stringify(data)) } };
  }

  /**
   * The same order, signed again for a second Pay tap: `byteAuthorization` carries a timestamp
   * (a stale one may be refused: how old Douyin accepts is unconfirmed) and `payExpireSeconds`
   * counts from the `tt.requestOrder` call, so it is set again to the seconds left to
   * `expiresAt`. Anything else in `data` is kept. Parameters of another kind come back unchanged.
   */
  async reissueClientParams(params: BillClientParams, expiresAt: Date): Promise<BillClientParams> {
    if (params.channel !== 'TT_MINI' || params.douyin.call !== 'requestOrder') return params;
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(params.douyin.data) as Record<string, unknown>;
    } catch {
      return params;
    }
    return this.signed(JSON.stringify({ ...data, payExpireSeconds: this.payExpireSeconds(expiresAt) }));
  }

  private payExpireSeconds(expiresAt: Date): number {
    const left = Math.floor((expiresAt.getTime() - this.options.now()) / 1000);
    return Math.min(MAX_PAY_EXPIRE_SECONDS, Math.max(1, left));
  }

  private signed(data: string): BillClientParams {
    const byteAuthorization = signRequestOrder({
      data,
      appid: this.options.appId,
      keyVersion: this.options.keyVersion,
      privateKey: this.appPrivateKey,
      nowSeconds: this.options.now() / 1000,
    });
    return { channel: 'TT_MINI', douyin: { call: 'requestOrder', data, byteAuthorization } };
  }

  /**
   * "查询订单" (`POST /api/trade_basic/v1/developer/order_query/` `{out_order_no}`): null when Douyin
   * has no such order (never passed to `tt.requestOrder`, or refused there). `pay_status` SUCCESS
   * is `paid` with `amount` = `total_amount` (fen) and `tradeNo` = `order_id`; see
   * OUTCOME_OF_PAY_STATUS for the rest. Throws AppError GATEWAY_UNAVAILABLE or GATEWAY_ERROR.
   */
  async queryBill(billNo: string): Promise<ProviderBillState | null> {
    const order = await this.queryOrder(billNo);
    if (!order) return null;
    const status = text(order.pay_status);
    const outcome = OUTCOME_OF_PAY_STATUS[status] ?? 'unknown';
    const amount = Number(order.total_amount);
    const orderId = typeof order.order_id === 'string' ? order.order_id : undefined;
    if (outcome === 'paid' && (!Number.isSafeInteger(amount) || !orderId)) {
      throw new AppError('GATEWAY_ERROR', `Douyin reported ${billNo} paid without its total_amount or order_id`, {
        provider: this.id,
      });
    }
    return {
      billNo,
      outcome,
      amount: Number.isSafeInteger(amount) ? amount : 0,
      tradeNo: orderId,
      detail: order,
    };
  }

  private async queryOrder(billNo: string): Promise<Record<string, unknown> | null> {
    try {
      const data = await this.client.call(ORDER_QUERY_PATH, { out_order_no: billNo });
      return typeof data.order_id === 'string' || typeof data.out_order_no === 'string' ? data : null;
    } catch (error) {
      if (DouyinTradeRefusal.is(error) && error.saysNotFound) return null;
      throw upstreamError(error, 'query an order');
    }
  }

  /**
   * "发起退款" (`POST /api/trade_basic/v1/developer/refund_create/`): `out_order_no`,
   * `out_refund_no`, `refund_total_amount` (fen), `refund_reason: [{code: 999, text}]`,
   * `order_entry_schema`, `notify_url`, and `item_order_detail: [{item_order_id, refund_amount}]`,
   * which needs the order's item line from "查询订单" first (field names as remembered from the
   * page: unconfirmed). `accepted` with `providerId` = `refund_id`; a readable refusal is
   * `refused` (`retryable` when it only asks to wait), unless it says Douyin itself failed
   * (系统错误, see `saysProviderFailed`); that and anything else is `unknown`, settled by query.
   */
  async createRefund(request: CreateRefundRequest): Promise<RefundSubmission> {
    let order: Record<string, unknown> | null;
    try {
      order = await this.queryOrder(request.billNo);
    } catch (error) {
      const failure = upstreamError(error, 'refund');
      return { outcome: 'refused', reason: failure.message, retryable: true, error: failure };
    }
    if (!order) {
      const reason = `Douyin has no order ${request.billNo}`;
      const error = new AppError('GATEWAY_ERROR', reason, { provider: this.id });
      return { outcome: 'refused', reason, retryable: false, error };
    }
    const items = Array.isArray(order.item_order_list) ? (order.item_order_list as Array<Record<string, unknown>>) : [];
    const itemOrderId = items.find((item) => typeof item.item_order_id === 'string')?.item_order_id;
    const body: Record<string, unknown> = {
      out_order_no: request.billNo,
      out_refund_no: request.refundNo,
      refund_total_amount: request.amount,
      refund_reason: [{ code: 999, text: request.reason ?? '商家退款' }],
      order_entry_schema: {
        path: this.options.orderPagePath,
        params: JSON.stringify({ orderNo: request.orderNo }),
      },
      notify_url: this.options.notifyUrl,
    };
    if (typeof itemOrderId === 'string') {
      body.item_order_detail = [{ item_order_id: itemOrderId, refund_amount: request.amount }];
    }
    try {
      const data = await this.client.call(REFUND_CREATE_PATH, body);
      return { outcome: 'accepted', providerId: typeof data.refund_id === 'string' ? data.refund_id : undefined };
    } catch (error) {
      const failure = upstreamError(error, 'refund');
      if (DouyinTradeRefusal.is(error) && !error.saysDouyinFailed) {
        return {
          outcome: 'refused',
          reason: `Douyin refused the refund: err_no ${error.errNo} ${error.errMsg}`.trim(),
          retryable: error.saysBusy || error.saysTokenInvalid,
          error: failure,
        };
      }
      return { outcome: 'unknown', reason: failure.message, error: failure };
    }
  }

  /**
   * "查询退款" (`POST /api/trade_basic/v1/developer/refund_query/` `{out_refund_no}` →
   * `refund_list`): `refund_status` SUCCESS is `succeeded`, PROCESSING `pending`, FAIL `failed`
   * (spellings unconfirmed; anything else stays pending); an empty list or "not found" is
   * `found: false`. Throws AppError GATEWAY_UNAVAILABLE or GATEWAY_ERROR.
   */
  async queryRefund(refundNo: string): Promise<ProviderRefundState> {
    let data: Record<string, unknown>;
    try {
      data = await this.client.call(REFUND_QUERY_PATH, { out_refund_no: refundNo });
    } catch (error) {
      if (DouyinTradeRefusal.is(error) && error.saysNotFound) return { found: false };
      throw upstreamError(error, 'query a refund');
    }
    const list = Array.isArray(data.refund_list) ? (data.refund_list as Array<Record<string, unknown>>) : [];
    const refund = list.find((entry) => entry.out_refund_no === refundNo);
    if (!refund) return { found: false };
    return douyinRefundState(refund.refund_status, refund);
  }

  /**
   * Verifies a callback (`Byte-Signature` over `Byte-Timestamp\nByte-Nonce-Str\nbody\n` with the
   * platform public key, the timestamp within CALLBACK_MAX_SKEW_SECONDS) and reads its
   * `{version, type, msg}` body, `msg` being JSON text (payments-beyond.md, 通用交易系统,
   * Callback). `type: "payment"` with `status: "SUCCESS"` is `payment.succeeded` (`billNo` =
   * `out_order_no`, `amount` = `total_amount` fen, `tradeNo` = `order_id`); `type: "refund"` with
   * SUCCESS `refund.succeeded` (`amount` = `refund_total_amount`) and FAIL `refund.failed`
   * (refund field names unconfirmed), each naming the bill the msg names (`billTradeNo` =
   * `order_id`, `billNo` = `out_order_no` if it has one) for the domain to check; a payment with
   * CANCEL (closed unpaid) `payment.closed`. Anything else verified (`settle`, another app's `app_id`) is `not_ours`. Throws AppError WEBHOOK_SIGNATURE_INVALID when it does
   * not verify or is stale, WEBHOOK_INVALID when it verifies but does not read.
   */
  async readNotification(message: ProviderMessage): Promise<ProviderEvent> {
    const refusal = checkCallback(
      message.headers,
      message.rawBody,
      this.platformPublicKey,
      this.options.now() / 1000,
      CALLBACK_MAX_SKEW_SECONDS,
    );
    if (refusal) {
      const why = {
        MISSING_HEADERS: 'it has no Byte-Timestamp, Byte-Nonce-Str or Byte-Signature',
        REPEATED_HEADERS: 'it brings Byte-Timestamp, Byte-Nonce-Str or Byte-Signature more than once',
        STALE: `its Byte-Timestamp is more than ${CALLBACK_MAX_SKEW_SECONDS} s from now`,
        BAD_SIGNATURE: "Byte-Signature is not Douyin's platform key's over its timestamp, nonce and body",
      }[refusal];
      throw new AppError('WEBHOOK_SIGNATURE_INVALID', `Douyin trade callback refused: ${why}`, {
        provider: this.id,
        reason: refusal,
      });
    }
    const invalid = (why: string) =>
      new AppError('WEBHOOK_INVALID', `Douyin trade callback does not read: ${why}`, { provider: this.id });
    let envelope: unknown;
    let msg: unknown;
    try {
      envelope = JSON.parse(message.rawBody);
      msg = JSON.parse(String((envelope as { msg?: unknown }).msg));
    } catch {
      throw invalid('the body or its msg is not JSON');
    }
    if (!isJsonObject(envelope) || !isJsonObject(msg)) throw invalid('the body or its msg is not an object');
    const type = text(envelope.type);
    const status = text(msg.status);
    const reference = text(msg.out_order_no ?? msg.out_refund_no ?? msg.order_id);
    const notOurs = (reason: string, amount = 0): ProviderEvent => ({
      type: 'not_ours',
      kind: `${type}.${status}`,
      reference,
      amount,
      reason,
      detail: msg,
    });
    if (msg.app_id !== undefined && msg.app_id !== this.options.appId) {
      return notOurs(`app_id ${text(msg.app_id)} is not this mini-program's`);
    }
    if (type === 'payment') {
      const amount = Number(msg.total_amount);
      if (typeof msg.out_order_no !== 'string' || !Number.isSafeInteger(amount) || amount < 0) {
        throw invalid('a payment without out_order_no or total_amount');
      }
      if (status === 'CANCEL') return { type: 'payment.closed', billNo: msg.out_order_no, detail: msg };
      if (status !== 'SUCCESS') return notOurs(`the order ended ${status || 'without a status'}: nothing was paid`);
      return {
        type: 'payment.succeeded',
        billNo: msg.out_order_no,
        amount,
        tradeNo: typeof msg.order_id === 'string' ? msg.order_id : undefined,
        detail: msg,
      };
    }
    if (type === 'refund') {
      const amount = Number(msg.refund_total_amount);
      if (typeof msg.out_refund_no !== 'string' || !Number.isSafeInteger(amount) || amount < 0) {
        throw invalid('a refund without out_refund_no or refund_total_amount');
      }
      // The bill the signed msg names, so that a refund of another bill is never applied to ours.
      const named = { billNo: namedBill(msg.out_order_no), billTradeNo: namedBill(msg.order_id) };
      if (status === 'SUCCESS') {
        return { type: 'refund.succeeded', refundNo: msg.out_refund_no, amount, ...named, detail: msg };
      }
      if (status === 'FAIL') {
        return {
          type: 'refund.failed',
          refundNo: msg.out_refund_no,
          reason: `refund status FAIL`,
          ...named,
          detail: msg,
        };
      }
      return notOurs(`a refund callback with status ${status || 'none'}`, amount);
    }
    return notOurs(`a ${type || 'typeless'} callback, which this checkout never asks for`);
  }

  /**
   * Not offered yet: the 通用交易系统's statement ("获取对账单") is not read here. Throws AppError
   * GATEWAY_ERROR so a reconciliation of this provider says so rather than reporting an empty day.
   */
  async listTransactions(day: string): Promise<ProviderTransaction[]> {
    throw new AppError('GATEWAY_ERROR', `Douyin 通用交易系统 statements are not read by this checkout (day ${day})`, {
      provider: this.id,
    });
  }
}

/**
 * The AppError for a failed call (see `upstreamFailure`): a refusal is GATEWAY_ERROR with Douyin's
 * err_no and err_msg (GATEWAY_UNAVAILABLE when it only asks to wait or names the token); no
 * answer, a 5xx or an unreadable answer GATEWAY_UNAVAILABLE.
 */
function upstreamError(error: unknown, what: string): AppError {
  return upstreamFailure(error, what, {
    provider: 'douyin_trade',
    name: 'Douyin',
    own: (refusal, call) =>
      DouyinTradeRefusal.is(refusal)
        ? new AppError(
            refusal.saysBusy || refusal.saysTokenInvalid ? 'GATEWAY_UNAVAILABLE' : 'GATEWAY_ERROR',
            `Douyin refused to ${call}: err_no ${refusal.errNo} ${refusal.errMsg}`.trim(),
            { provider: 'douyin_trade', errNo: refusal.errNo, message: refusal.errMsg },
          )
        : undefined,
  });
}

/** A field read as text: strings and numbers as written, anything else empty. */
function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}
