import { createSign, generateKeyPairSync } from 'node:crypto';
import { Router } from '@koa/router';
import {
  authenticate,
  GatewayError,
  gatewayOperation,
  NO_REFUND_CALLBACK_CHANNELS,
  readBoolean,
  readInteger,
  readNotifyUrl,
  readObject,
  readString,
  ResultCode,
  type AppCredentials,
  type GatewayCall,
  type Params,
} from './gateway-protocol';
import type { AnswerHolds } from './held-answers';
import { echoed, requestOrigin } from '../shared/http';
import type { Notifier } from './notifications';
import { nonceStr, prepayId, recordId } from '../shared/random';
import { finishRefund } from './refund-settlement';
import { privateKeyOf } from '../shared/parsed-keys';
import { alipayOrderString, wechatPaySign } from '../shared/signing';
import type { Bill, BillStatus, GatewayMode, GatewayStore, InjectedFaultOperation, Refund } from './store';
import { chinaDate8, chinaDateTime, chinaStamp14 } from '../shared/time';
import { buildPaymentWebhook, channelTypeOf, fenToYuan, paymentTradeNo } from './webhook-message';

/**
 * The aggregate gateway's REST API (seed 001 §4) at its real paths, including the
 * test-mode aliases under `/2/rest/sandbox/`.
 */

/** Channels the sandbox can open bills on. */
export const SUPPORTED_CHANNELS = ['WX_MINI', 'BC_WX_MINI', 'WX_JSAPI', 'BC_WX_JSAPI', 'BC_WX_WAP', 'ALI_APP'] as const;

/** Channels that need the payer's `openid`. */
const OPENID_CHANNELS = new Set(['WX_MINI', 'BC_WX_MINI', 'WX_JSAPI', 'BC_WX_JSAPI']);

/**
 * Channels the manual documents but the sandbox app has not configured: the gateway's
 * answer for those is 2 PAY_FACTOR_NOT_SET (the app's payment factors are not set up).
 */
const UNCONFIGURED_CHANNELS = new Set([
  'WX_APP',
  'WX_NATIVE',
  'WX_SCAN',
  'ALI_WEB',
  'ALI_QRCODE',
  'ALI_WAP',
  'ALI_SCAN',
  'ALI_OFFLINE_QRCODE',
  'UN_APP',
  'UN_WEB',
  'UN_WAP',
  'BC_GATEWAY',
  'BC_EXPRESS',
  'BC_NATIVE',
  'BC_ALI_QRCODE',
  'BC_ALI_APP',
  'BC_ALI_WEB',
  'BC_ALI_WAP',
  'BC_ALI_SCAN',
  'BC_WX_SCAN',
  'BC_APP',
  'JD_WAP',
  'JD_WEB',
  'YEE_WAP',
  'YEE_WEB',
  'YEE_NOBANKCARD',
  'KUAIQIAN_WAP',
  'KUAIQIAN_WEB',
  'BD_APP',
  'BD_WEB',
  'BD_WAP',
  'PAYPAL_SANDBOX',
  'PAYPAL_LIVE',
]);

/** Aggregate channel names a query may filter on. */
const AGGREGATE_CHANNELS = new Set(['WX', 'ALI', 'UN', 'JD', 'YEE', 'KUAIQIAN', 'BD', 'PAYPAL', 'BC']);

const MAX_TOTAL_FEE = 2_147_483_647;
const MAX_QUERY_LIMIT = 50;
/** The Alipay `app_id` in the sandbox's `ALI_APP` order strings. */
export const SANDBOX_ALIPAY_APP_ID = '2021000100000001';

export interface GatewayDependencies {
  store: GatewayStore;
  notifier: Notifier;
  appId: string;
  appSecret: string;
  masterSecret: string;
  testSecret: string;
  wechatAppId: string;
  mchId: string;
  payKey: string;
  now: () => number;
  log: (line: string) => void;
  /** Answers held back by slow-gateway faults; released when the sandbox closes. */
  holds: AnswerHolds;
}

export interface GatewayRoutes {
  router: Router;
  /** The PEM public key that verifies `ALI_APP` order strings (generated on first use). */
  alipayPublicKey(): string;
  /**
   * RSA2 (SHA256withRSA) signature, base64, with the same key: the sandbox plays both the
   * merchant (order strings) and Alipay (the App's signed result), one key pair for both.
   */
  alipaySign(content: string): string;
}

export function createGatewayRoutes(deps: GatewayDependencies): GatewayRoutes {
  const { store, now, log } = deps;
  const alipayKeyPair = () =>
    store.alipayKeys(() =>
      generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      }),
    );

  const credentials = {
    app: { appId: deps.appId, secret: deps.appSecret, secretName: 'app_secret' },
    test: { appId: deps.appId, secret: deps.testSecret, secretName: 'test_secret' },
    master: { appId: deps.appId, secret: deps.masterSecret, secretName: 'master_secret' },
  } satisfies Record<string, AppCredentials>;
  const secretsFor = (mode: GatewayMode) => (mode === 'test' ? credentials.test : credentials.app);

  /**
   * Applies the next injected fault of an operation, if any, at the point where the
   * gateway would call the channel (after its own validation). A delay only holds the
   * answer back: the operation goes on and is carried out before the late answer. An HTTP
   * status likewise lets the operation be carried out, then answers an error page instead
   * of its result (the caller cannot tell whether it happened). A result code refuses here,
   * before anything is done, whether or not that refusal is also late.
   */
  function injectFault(operation: Exclude<InjectedFaultOperation, 'any'>, call: GatewayCall): void {
    const fault = store.takeFault(operation);
    if (!fault) return;
    if (fault.delayMs !== undefined) call.holdAnswer(fault.delayMs);
    if (fault.httpStatus !== undefined) call.failAnswer(fault.httpStatus);
    if (fault.resultCode !== undefined) {
      if (operation === 'bill') {
        // The channel was asked, so this bill_no is spent even though the bill failed.
        const billNo = String(call.params.bill_no);
        store.spendBillNo(billNo, `its first request failed with ${fault.resultCode}`);
      }
      throw new GatewayError(fault.resultCode, fault.detail ?? '');
    }
  }

  // ---- POST /2/rest/bill ------------------------------------------------------------

  function createBill(call: GatewayCall, mode: GatewayMode): Params {
    const { params, ctx } = call;
    authenticate(params, secretsFor(mode));
    const channel = readString(params, 'channel', true);
    if (!(SUPPORTED_CHANNELS as readonly string[]).includes(channel)) {
      if (UNCONFIGURED_CHANNELS.has(channel)) {
        throw new GatewayError(
          ResultCode.PAY_FACTOR_NOT_SET,
          `channel ${channel} is not set up for this app (the sandbox emulates ${SUPPORTED_CHANNELS.join(', ')})`,
        );
      }
      throw new GatewayError(ResultCode.CHANNEL_INVALID, `unknown channel ${echoed(String(channel))}`);
    }
    const totalFee = readInteger(params, 'total_fee', {
      required: true,
      min: 1,
      max: MAX_TOTAL_FEE,
      meaning: 'a positive integer number of fen',
    }) as number;
    const billNo = readString(params, 'bill_no', true);
    if (!/^[A-Za-z0-9]{8,32}$/.test(billNo)) {
      throw new GatewayError(ResultCode.PARAM_INVALID, 'bill_no must be 8 to 32 letters and/or digits');
    }
    const title = readString(params, 'title', true);
    const titleBytes = Buffer.byteLength(title, 'utf8');
    if (titleBytes > 32) {
      throw new GatewayError(ResultCode.PARAM_INVALID, `title must be at most 32 bytes of UTF-8, got ${titleBytes}`);
    }
    const optional = readObject(params, 'optional') ?? {};
    const billTimeoutSec = readInteger(params, 'bill_timeout', {
      min: 1,
      meaning: 'a positive integer number of seconds',
    });
    const notifyUrl = readNotifyUrl(params);
    const openid = OPENID_CHANNELS.has(channel) ? readString(params, 'openid', true) : readString(params, 'openid');
    const buyerId = readString(params, 'buyer_id');
    if (buyerId !== undefined && buyerId.length > 64) {
      throw new GatewayError(ResultCode.PARAM_INVALID, 'buyer_id must be at most 64 characters');
    }
    const earlier = store.usedBillNos.get(billNo);
    if (earlier !== undefined) {
      throw new GatewayError(
        ResultCode.PARAM_INVALID,
        `duplicate bill_no ${billNo}: ${earlier}; the gateway never accepts a bill_no twice`,
      );
    }
    injectFault('bill', call);

    const createdAt = now();
    const bill: Bill = {
      id: recordId(),
      mode,
      billNo,
      channel,
      channelType: channelTypeOf(channel),
      totalFee,
      title,
      optional,
      notifyUrl,
      openid,
      billTimeoutSec,
      createdAt,
      status: 'open',
      deliveries: [],
    };
    const answer: Params = { id: bill.id };
    if (OPENID_CHANNELS.has(channel)) {
      bill.prepayId = prepayId(chinaStamp14(createdAt));
      const pay = {
        appId: deps.wechatAppId,
        nonceStr: nonceStr(),
        package: `prepay_id=${bill.prepayId}`,
        signType: 'MD5',
        // wx.requestPayment wants `timeStamp` in seconds; the manual says 13-digit ms for
        // WX_JSAPI, but a JSAPI/mini-program payment signed over milliseconds would be
        // refused by WeChat, so the sandbox answers what the client can actually use.
        timeStamp: String(Math.floor(createdAt / 1000)),
      };
      Object.assign(answer, {
        app_id: pay.appId,
        package: pay.package,
        nonce_str: pay.nonceStr,
        timestamp: pay.timeStamp,
        pay_sign: wechatPaySign(pay, deps.payKey, 'MD5'),
        sign_type: pay.signType,
      });
    } else if (channel === 'BC_WX_WAP') {
      bill.url = `${requestOrigin(ctx)}/sandbox/wechat/h5pay?bill_no=${encodeURIComponent(billNo)}`;
      answer.url = bill.url;
    } else {
      const bizContent: Record<string, string> = {
        out_trade_no: billNo,
        total_amount: fenToYuan(totalFee),
        subject: title,
        product_code: 'QUICK_MSECURITY_PAY',
      };
      if (billTimeoutSec !== undefined) bizContent.timeout_express = `${Math.max(1, Math.ceil(billTimeoutSec / 60))}m`;
      bill.orderString = alipayOrderString(
        {
          app_id: SANDBOX_ALIPAY_APP_ID,
          method: 'alipay.trade.app.pay',
          format: 'json',
          charset: 'utf-8',
          sign_type: 'RSA2',
          timestamp: chinaDateTime(createdAt),
          version: '1.0',
          biz_content: JSON.stringify(bizContent),
        },
        alipayKeyPair().privateKey,
      );
      answer.order_string = bill.orderString;
    }
    store.addBill(bill);
    log(`gateway ${mode} bill ${billNo} ${channel} ${totalFee} fen opened`);
    return answer;
  }

  // ---- GET /2/rest/bills, /2/rest/bills/count, /2/rest/bill/{id} ---------------------

  function billView(bill: Bill, withDetail: boolean): Params {
    const status = store.effectiveStatus(bill, now());
    const view: Params = {
      id: bill.id,
      bill_no: bill.billNo,
      total_fee: bill.totalFee,
      trade_no: bill.tradeNo ?? '',
      channel: bill.channelType,
      sub_channel: bill.channel,
      title: bill.title,
      spay_result: status === 'paid',
      create_time: bill.createdAt,
      optional: JSON.stringify(bill.optional),
      revert_result: false,
      refund_result: store.refundedFee(bill.billNo) > 0,
    };
    if (bill.successTime !== undefined) view.success_time = bill.successTime;
    if (withDetail) view.message_detail = bill.messageDetail ? JSON.stringify(bill.messageDetail) : '';
    return view;
  }

  function readChannelFilter(params: Params): string | undefined {
    const channel = readString(params, 'channel');
    if (
      channel !== undefined &&
      !AGGREGATE_CHANNELS.has(channel) &&
      !UNCONFIGURED_CHANNELS.has(channel) &&
      !(SUPPORTED_CHANNELS as readonly string[]).includes(channel)
    ) {
      throw new GatewayError(ResultCode.CHANNEL_INVALID, `unknown channel ${echoed(String(channel))}`);
    }
    return channel;
  }

  function readTimeRange(params: Params): { start?: number; end?: number } {
    return {
      start: readInteger(params, 'start_time', { min: 0, meaning: 'a time in milliseconds' }),
      end: readInteger(params, 'end_time', { min: 0, meaning: 'a time in milliseconds' }),
    };
  }

  function readPage(params: Params): { skip: number; limit: number } {
    const skip = readInteger(params, 'skip', { min: 0, meaning: 'a non-negative integer' }) ?? 0;
    const limit =
      readInteger(params, 'limit', {
        min: 1,
        max: MAX_QUERY_LIMIT,
        meaning: `an integer from 1 to ${MAX_QUERY_LIMIT}`,
      }) ?? 10;
    return { skip, limit };
  }

  function matchingBills(params: Params, mode: GatewayMode): Bill[] {
    const billNo = readString(params, 'bill_no');
    const spayResult = readBoolean(params, 'spay_result');
    const refundResult = readBoolean(params, 'refund_result');
    const channel = readChannelFilter(params);
    const { start, end } = readTimeRange(params);
    const at = now();
    return [...store.bills.values()]
      .filter((bill) => bill.mode === mode)
      .filter((bill) => billNo === undefined || bill.billNo === billNo)
      .filter((bill) => spayResult === undefined || (store.effectiveStatus(bill, at) === 'paid') === spayResult)
      .filter((bill) => refundResult === undefined || store.refundedFee(bill.billNo) > 0 === refundResult)
      .filter((bill) => channel === undefined || bill.channelType === channel || bill.channel === channel)
      .filter((bill) => start === undefined || bill.createdAt >= start)
      .filter((bill) => end === undefined || bill.createdAt <= end)
      .reverse(); // newest first
  }

  function queryBills(call: GatewayCall, mode: GatewayMode): Params {
    const { params } = call;
    authenticate(params, secretsFor(mode));
    const needDetail = readBoolean(params, 'need_detail') ?? false;
    const { skip, limit } = readPage(params);
    const bills = matchingBills(params, mode);
    injectFault('query', call);
    return { bills: bills.slice(skip, skip + limit).map((bill) => billView(bill, needDetail)) };
  }

  function countBills(call: GatewayCall, mode: GatewayMode): Params {
    const { params } = call;
    authenticate(params, secretsFor(mode));
    const bills = matchingBills(params, mode);
    injectFault('query', call);
    return { count: bills.length };
  }

  function billById(call: GatewayCall, mode: GatewayMode): Params {
    const { params } = call;
    const id = String(call.ctx.params.id);
    authenticate(params, secretsFor(mode));
    const bill = store.billsById.get(id);
    injectFault('query', call);
    if (!bill) throw new GatewayError(ResultCode.NO_SUCH_BILL, `no bill with id ${echoed(id)}`);
    if (bill.mode !== mode) {
      const where = bill.mode === 'test' ? '/2/rest/sandbox/bill/{id} with test_secret' : '/2/rest/bill/{id}';
      throw new GatewayError(
        ResultCode.NO_SUCH_BILL,
        `bill ${echoed(id)} belongs to ${bill.mode} mode; query it at ${where}`,
      );
    }
    return { pay: billView(bill, true) };
  }

  // ---- POST /2/rest/refund, GET /2/rest/refunds … -----------------------------------

  function createRefund(call: GatewayCall): Params {
    const { params } = call;
    authenticate(params, credentials.master);
    const refundNo = readString(params, 'refund_no', true);
    const match = /^(\d{8})([A-Za-z0-9]{3,24})$/.exec(refundNo);
    if (!match) {
      throw new GatewayError(
        ResultCode.PARAM_INVALID,
        'refund_no must be the refund date YYYYMMDD followed by 3 to 24 letters and/or digits',
      );
    }
    const today = chinaDate8(now());
    if (match[1] !== today) {
      throw new GatewayError(
        ResultCode.PARAM_INVALID,
        `refund_no must start with today's date ${today} (China time), got ${match[1]}`,
      );
    }
    if (match[2] === '000') throw new GatewayError(ResultCode.PARAM_INVALID, 'refund_no serial must not be 000');
    const billNo = readString(params, 'bill_no', true);
    const refundFee = readInteger(params, 'refund_fee', {
      required: true,
      min: 1,
      max: MAX_TOTAL_FEE,
      meaning: 'a positive integer number of fen',
    }) as number;
    const channel = readChannelFilter(params);
    const notifyUrl = readNotifyUrl(params);
    const optional = readObject(params, 'optional') ?? {};
    if (store.refunds.has(refundNo)) {
      throw new GatewayError(
        ResultCode.PARAM_INVALID,
        `duplicate refund_no ${echoed(refundNo)}: a refund_no is accepted once`,
      );
    }
    const bill = store.bills.get(billNo);
    if (!bill || (channel !== undefined && channel !== bill.channelType && channel !== bill.channel)) {
      throw new GatewayError(
        ResultCode.NO_SUCH_BILL,
        `no bill ${echoed(billNo)}${channel ? ` on channel ${echoed(channel)}` : ''}`,
      );
    }
    if (bill.mode !== 'live') {
      throw new GatewayError(
        ResultCode.NO_SUCH_BILL,
        `bill ${billNo} is a test-mode bill (/2/rest/sandbox/bill); test mode has no refunds`,
      );
    }
    const status = store.effectiveStatus(bill, now());
    if (status !== 'paid') {
      throw new GatewayError(ResultCode.BILL_UNSUCCESS, `bill ${echoed(billNo)} is not paid (it is ${status})`);
    }
    const processing = store.refundsOf(billNo).find((earlier) => earlier.status === 'processing');
    if (processing) {
      // §4.3.1 result code 11: "该订单已有正在处理中的退款", one refund at a time per bill.
      throw new GatewayError(
        ResultCode.ALREADY_REFUNDING,
        `bill ${billNo} already has a refund in progress: ${processing.refundNo}`,
      );
    }
    // Processing and succeeded refunds are promised away; a failed one gave its amount back.
    const left = bill.totalFee - store.committedRefundFee(billNo);
    if (refundFee > left) {
      throw new GatewayError(
        ResultCode.REFUND_AMOUNT_TOO_LARGE,
        `refund_fee ${refundFee} exceeds what is left to refund: ${left} of ${bill.totalFee}`,
      );
    }
    injectFault('refund', call);

    const refund: Refund = {
      id: recordId(),
      refundNo,
      billNo,
      refundFee,
      optional,
      notifyUrl,
      createdAt: now(),
      status: 'processing',
      deliveries: [],
    };
    store.addRefund(refund);
    if (store.takeRefundHold()) {
      log(`gateway refund ${refundNo} of ${refundFee} fen on ${billNo} accepted, held processing`);
    } else {
      log(`gateway refund ${refundNo} of ${refundFee} fen on ${billNo} accepted`);
      finishRefund({ notifier: deps.notifier, gateway: deps }, refund, bill, 'succeeded');
    }
    return { id: refund.id };
  }

  function refundView(refund: Refund, withDetail: boolean): Params {
    const bill = store.bills.get(refund.billNo) as Bill;
    const view: Params = {
      id: refund.id,
      bill_no: refund.billNo,
      refund_no: refund.refundNo,
      total_fee: bill.totalFee,
      refund_fee: refund.refundFee,
      title: bill.title,
      channel: bill.channelType,
      sub_channel: bill.channel,
      // §4.4.3: `finish` whether the channel has answered, `result` whether the money went back.
      finish: refund.status !== 'processing',
      result: refund.status === 'succeeded',
      optional: JSON.stringify(refund.optional),
      create_time: refund.createdAt,
    };
    if (withDetail) view.message_detail = refund.messageDetail ? JSON.stringify(refund.messageDetail) : '';
    return view;
  }

  function matchingRefunds(params: Params): Refund[] {
    const billNo = readString(params, 'bill_no');
    const refundNo = readString(params, 'refund_no');
    const channel = readChannelFilter(params);
    const { start, end } = readTimeRange(params);
    // Pre-refunds awaiting approval are not emulated: there are never any.
    const needApproval = readBoolean(params, 'need_approval') ?? false;
    return [...store.refunds.values()]
      .filter(() => !needApproval)
      .filter((refund) => billNo === undefined || refund.billNo === billNo)
      .filter((refund) => refundNo === undefined || refund.refundNo === refundNo)
      .filter((refund) => {
        const bill = store.bills.get(refund.billNo) as Bill;
        return channel === undefined || bill.channelType === channel || bill.channel === channel;
      })
      .filter((refund) => start === undefined || refund.createdAt >= start)
      .filter((refund) => end === undefined || refund.createdAt <= end)
      .reverse();
  }

  function queryRefunds(call: GatewayCall): Params {
    const { params } = call;
    authenticate(params, credentials.app);
    const needDetail = readBoolean(params, 'need_detail') ?? false;
    const { skip, limit } = readPage(params);
    const refunds = matchingRefunds(params);
    injectFault('query', call);
    return { refunds: refunds.slice(skip, skip + limit).map((refund) => refundView(refund, needDetail)) };
  }

  function countRefunds(call: GatewayCall): Params {
    const { params } = call;
    authenticate(params, credentials.app);
    const refunds = matchingRefunds(params);
    injectFault('query', call);
    return { count: refunds.length };
  }

  function refundById(call: GatewayCall): Params {
    const { params } = call;
    const id = String(call.ctx.params.id);
    authenticate(params, credentials.app);
    injectFault('query', call);
    const refund = store.refundsById.get(id);
    if (!refund) throw new GatewayError(ResultCode.NO_SUCH_REFUND, `no refund with id ${echoed(id)}`);
    return { refund: refundView(refund, true) };
  }

  /**
   * §4.4.5: the state of a refund on a channel that sends no refund callback. `PROCESSING`
   * until the channel answers, then `SUCCESS`, or the channel's failure status
   * (`REFUNDCLOSE`, `CHANGE`, as WeChat's refund query reports them).
   */
  function refundStatus(call: GatewayCall): Params {
    const { params } = call;
    authenticate(params, credentials.app);
    const channel = readString(params, 'channel', true);
    if (!NO_REFUND_CALLBACK_CHANNELS.includes(channel)) {
      throw new GatewayError(
        ResultCode.PARAM_INVALID,
        `channel must be one of ${NO_REFUND_CALLBACK_CHANNELS.join(', ')}`,
      );
    }
    const refundNo = readString(params, 'refund_no', true);
    injectFault('query', call);
    const refund = store.refunds.get(refundNo);
    const bill = refund && store.bills.get(refund.billNo);
    if (!refund || !bill || bill.channelType !== channel) {
      throw new GatewayError(ResultCode.NO_SUCH_REFUND, `no ${echoed(channel)} refund ${echoed(refundNo)}`);
    }
    const status =
      refund.status === 'processing' ? 'PROCESSING' : refund.status === 'succeeded' ? 'SUCCESS' : refund.failureStatus;
    return { refund_status: status };
  }

  // ---- routes ------------------------------------------------------------------------

  const router = new Router();
  const op = (source: 'body' | 'para', run: (call: GatewayCall) => Params) =>
    gatewayOperation(source, log, deps.holds, run);

  for (const [prefix, mode] of [
    ['/2/rest', 'live'],
    ['/2/rest/sandbox', 'test'],
  ] as const) {
    router.post(
      `${prefix}/bill`,
      op('body', (call) => createBill(call, mode)),
    );
    router.get(
      `${prefix}/bills`,
      op('para', (call) => queryBills(call, mode)),
    );
    router.get(
      `${prefix}/bills/count`,
      op('para', (call) => countBills(call, mode)),
    );
    router.get(
      `${prefix}/bill/:id`,
      op('para', (call) => billById(call, mode)),
    );
  }
  router.post('/2/rest/refund', op('body', createRefund));
  router.get('/2/rest/refunds', op('para', queryRefunds));
  router.get('/2/rest/refunds/count', op('para', countRefunds));
  router.get('/2/rest/refund/status', op('para', refundStatus));
  router.get('/2/rest/refund/:id', op('para', refundById));

  return {
    router,
    alipayPublicKey: () => alipayKeyPair().publicKey,
    alipaySign: (content) =>
      createSign('RSA-SHA256').update(content, 'utf8').sign(privateKeyOf(alipayKeyPair().privateKey), 'base64'),
  };
}

/** What a settle request may do to a bill. */
export type SettleOutcome = { changed: boolean } | { refused: string };

/**
 * Moves a bill to `paid`, `failed` or `closed`, as the channel would have. Settling a bill
 * to the state it is in changes nothing; a paid bill stays paid (failed/closed is refused),
 * while a failed or closed bill may still turn out paid.
 */
export function settleBill(
  bill: Bill,
  result: Exclude<BillStatus, 'open'>,
  deps: Pick<GatewayDependencies, 'appId' | 'masterSecret' | 'wechatAppId' | 'mchId' | 'now'>,
): SettleOutcome {
  if (bill.status === result) return { changed: false };
  if (bill.status === 'paid') return { refused: `bill ${bill.billNo} is already paid` };
  const at = deps.now();
  bill.status = result;
  if (result === 'paid') {
    bill.successTime = at;
    bill.tradeNo = paymentTradeNo(bill.channelType, at);
  }
  bill.messageDetail = buildPaymentWebhook({
    appId: deps.appId,
    masterSecret: deps.masterSecret,
    billNo: bill.billNo,
    channel: bill.channel,
    totalFee: bill.totalFee,
    outcome: result,
    title: bill.title,
    openid: bill.openid,
    tradeNo: bill.tradeNo,
    optional: bill.optional,
    timestamp: at,
    createdAt: bill.createdAt,
    paidAt: bill.successTime,
    wechatAppId: deps.wechatAppId,
    mchId: deps.mchId,
  }).message_detail;
  return { changed: true };
}
