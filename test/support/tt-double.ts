/**
 * A `tt` global for driving the compiled Douyin bundle in Node: login, request, storage, and a
 * `tt.pay` that behaves as Douyin's cashier does. Taro reads `Object.keys(tt)` once when the
 * bundle loads, so every API must exist before `loadTtPage` is called.
 *
 * `tt.pay` first checks `orderInfo.sign` with the pay secret (Douyin's algorithm, written here
 * independently of the server) and calls `fail` when it does not verify, without opening the
 * cashier. It then refuses, with the codes of the legacy cashier's FAQ, what Douyin refuses
 * (payments-beyond.md, "Douyin mini-program payment"):
 * - CD0011: `uid` longer than 32 characters;
 * - TS4113: `trade_time + valid_time` (seconds) not after Douyin's clock (`now`);
 * - CD0015: an `out_order_no` sent again with a `trade_time` other than the one Douyin first
 *   accepted for it (`tradeTimes`, shareable between doubles that stand for one Douyin).
 * Otherwise the test decides what the shopper does in the cashier (`atCashier`), and
 * the double reports it the way Douyin does:
 * - the WeChat H5 leg: opens `wx_url`, presses 确认支付 on WeChat's page, comes back, asks the
 *   mini-program's `getOrderStatus({out_order_no})` and reports `success({code})` with its code;
 * - the Alipay leg: hands `alipay_url` to the Alipay app; 9000 → `success({code: 0})`,
 *   6001 (cancelled in Alipay) → 4, anything else → 2;
 * - cancel: `success({code: 4})`;
 * - closing with the system back gesture: no callback at all (Douyin's known bug).
 *
 * `tt.pay({service: 5, orderInfo: {order_id, order_token}})` (担保支付) carries no `sign`: Douyin's
 * cashier opens the order `order_id` names only when `order_token` is the one its pre-order
 * answered, and calls `fail` otherwise (an unknown order, a mismatched token, an order no longer
 * payable). The double asks Douyin's side through `guaranteedCashier` (the sandbox's
 * `/sandbox/douyin/guaranteed/pay`): `open` first, then, for the shopper's choice, either leg pays
 * the order in Douyin's own cashier (`success({code: 0})`), cancel reports 4, and closing with the
 * back gesture reports nothing.
 */
import { createHash, createVerify } from 'node:crypto';
import { fetchAsWxRequest, WxRequestAnswer, WxRequestOptions } from './wx-double';
import { Callbacks, callbackOrPromise, storageAndDeviceApis } from './miniprogram-api';

export type TtRequestOptions = WxRequestOptions;
export type TtRequestAnswer = WxRequestAnswer;

/** `success(res).code` of Douyin's cashier. */
export const DouyinCashierCode = { paid: 0, timedOut: 1, failed: 2, closed: 3, cancelled: 4, unknown: 9 } as const;

export type CashierChoice = 'payWechatH5' | 'payAlipay' | 'cancel' | 'closeWithoutCallback';

export interface OpenCashier {
  orderInfo: Record<string, unknown>;
  service: number;
}

/** What the Alipay app answers for an order string: `resultStatus` 9000 paid, 6001 cancelled, 4000 failed. */
export interface AlipayAppAnswer {
  resultStatus: string;
  memo?: string;
}

export interface TtDoubleOptions {
  /** The secret Douyin verifies `orderInfo.sign` with: the server's DOUYIN_PAY_SECRET. */
  paySecret: string;
  /**
   * Answers `tt.request`. Reject with `{errMsg: 'request:fail …'}` to simulate a network failure.
   * @default real HTTP through `fetch`, JSON-parsed
   */
  request?: (options: TtRequestOptions) => Promise<TtRequestAnswer>;
  /** @default a fresh `tt-code-<n>` and `tt-anonymous-code-<n>` per call */
  login?: () => Promise<{ code: string; anonymousCode?: string }>;
  /** The shopper in the opened cashier; may do anything (settle bills, …) before choosing. @default 'payWechatH5' */
  atCashier?: (cashier: OpenCashier) => CashierChoice | Promise<CashierChoice>;
  /** The Alipay app, for 'payAlipay'. @default none: choosing 'payAlipay' is then a test error */
  alipayApp?: (orderString: string) => Promise<AlipayAppAnswer>;
  /**
   * Douyin's side of a 担保支付 cashier (`service: 5`): opens, pays or cancels the order of
   * `orderInfo`, answering `ok: false` with Douyin's reason when the order or its token is refused.
   * @default none: a `service: 5` payment is then a test error
   */
  guaranteedCashier?: (
    orderInfo: { order_id: string; order_token: string },
    action: 'open' | 'pay' | 'cancel',
  ) => Promise<{ ok: true } | { ok: false; reason: string }>;
  /** @default an empty Map */
  storage?: Map<string, unknown>;
  /**
   * How Douyin opened the mini-program: what `tt.getLaunchOptionsSync` answers; the miniprogram
   * harness passes it to App `onLaunch` / `onShow` and its query to the page's `onLoad`. Douyin's
   * scene values are strings such as "011004".
   * @default scene "011004", no query, the checkout page
   */
  launch?: Partial<TtLaunchOptions>;
  /**
   * Douyin's clock, epoch milliseconds: TS4113 refuses an `orderInfo` whose
   * `trade_time + valid_time` is not after it. Give it the server's clock when a test moves that.
   * @default Date.now
   */
  now?: () => number;
  /**
   * Douyin's record of the `trade_time` each `out_order_no` was first accepted with (CD0015).
   * Share one Map between doubles standing for the same Douyin (another device, the
   * mini-program started again). @default an empty Map
   */
  tradeTimes?: Map<string, string>;
  /**
   * Douyin's 通用交易系统 for `tt.requestOrder` / `tt.getOrderPayment`: the keys Douyin holds (the
   * uploaded app public key and its version, the mini-program's AppID) and the sandbox that keeps
   * its orders. @default none: `tt.requestOrder` then fails as a Douyin without the system would
   */
  trade?: TradeSystem;
  /** The shopper in the cashier `tt.getOrderPayment` opened. @default 'pay' */
  atOrderPayment?: (order: TradeOrderRecord) => OrderPaymentChoice | Promise<OrderPaymentChoice>;
}

export interface TradeSystem {
  appId: string;
  /** SPKI PEM, as uploaded in 开发设置 → 密钥设置. */
  appPublicKey: string;
  keyVersion: string;
  /** The sandbox's base URL (its `POST /sandbox/douyin/trade/request-order` and the settle control). */
  sandboxUrl: string;
}

export type OrderPaymentChoice = 'pay' | 'cancel' | 'closeWithoutCallback';

/** An order `tt.requestOrder` made, and what became of its cashier. */
export interface TradeOrderRecord {
  orderId: string;
  outOrderNo: string;
  data: Record<string, unknown>;
  /** What the shopper did in the cashier `tt.getOrderPayment` opened, once it was opened. */
  choice?: OrderPaymentChoice;
}

/** What `tt.getLaunchOptionsSync` returns. */
export interface TtLaunchOptions {
  scene: string;
  query: Record<string, string>;
  path: string;
}

export interface TtCall {
  api: string;
  options: unknown;
}

export type TtDouble = Record<string, unknown> & {
  /** Every API call in order, for assertions (`pay` without its callbacks). */
  readonly calls: TtCall[];
  readonly storage: Map<string, unknown>;
  /** Each cashier opened (a `tt.pay` whose sign verified), in order. */
  readonly cashiers: CashierRecord[];
  /** What went wrong inside the double (a leg that could not be paid, `getOrderStatus` rejecting, …). */
  readonly problems: string[];
  /** Each order `tt.requestOrder` made (or made again), in order. */
  readonly tradeOrders: TradeOrderRecord[];
};

export interface CashierRecord {
  orderInfo: Record<string, unknown>;
  /** What the shopper chose, once `atCashier` answered. */
  choice?: CashierChoice;
  /** What `getOrderStatus` resolved with, when the cashier asked. */
  orderStatus?: unknown;
  reportedCode?: number;
}

interface PayOptions extends Callbacks {
  orderInfo?: unknown;
  service?: unknown;
  getOrderStatus?: (query: { out_order_no: string }) => unknown;
}

/**
 * Douyin's `orderInfo` signature: drop `sign`, `risk_info` and every empty value; sort the keys
 * by ASCII; join `key=value` with `&`, values raw; append the pay secret; MD5, lowercase hex.
 */
export function douyinOrderInfoSign(orderInfo: Readonly<Record<string, unknown>>, paySecret: string): string {
  const canonical = Object.keys(orderInfo)
    .filter((key) => key !== 'sign' && key !== 'risk_info')
    .filter((key) => orderInfo[key] !== undefined && orderInfo[key] !== null && rawValue(orderInfo[key]) !== '')
    .sort()
    .map((key) => `${key}=${rawValue(orderInfo[key])}`)
    .join('&');
  return createHash('md5')
    .update(canonical + paySecret, 'utf8')
    .digest('hex');
}

/** A field's value as it enters the canonical string: text and numbers as written; an object as JSON. */
function rawValue(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

/** `orderInfo` seconds fields are decimal text or a number; anything else is no whole second. */
function wholeSeconds(value: unknown): number | undefined {
  const text = typeof value === 'number' ? String(value) : value;
  return typeof text === 'string' && /^\d{1,12}$/.test(text) ? Number(text) : undefined;
}

/** Douyin's checks of a verified `orderInfo` before the cashier opens; the `fail` errMsg, or undefined. */
function refusal(
  orderInfo: Readonly<Record<string, unknown>>,
  nowMs: number,
  tradeTimes: Map<string, string>,
): string | undefined {
  const { uid, out_order_no: outOrderNo } = orderInfo;
  const tradeTime = wholeSeconds(orderInfo.trade_time);
  const validTime = wholeSeconds(orderInfo.valid_time);
  if (typeof outOrderNo !== 'string' || outOrderNo === '') return 'pay:fail invalid params: out_order_no is required';
  if (typeof uid !== 'string' || uid === '') return 'pay:fail invalid params: uid is required';
  if (tradeTime === undefined || validTime === undefined)
    return 'pay:fail invalid params: trade_time and valid_time must be whole seconds';
  if (uid.length > 32) return `pay:fail CD0011 uid 超过 32 个字符 (${uid.length})`;
  if (tradeTime + validTime <= Math.floor(nowMs / 1000))
    return `pay:fail TS4113 订单已过期: trade_time + valid_time = ${tradeTime + validTime}`;
  const accepted = tradeTimes.get(outOrderNo);
  if (accepted !== undefined && accepted !== String(tradeTime))
    return `pay:fail CD0015 同一订单 trade_time 不一致 (${accepted} → ${tradeTime})`;
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function decodeHtml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attributesOf(tag: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [, name, value] of tag.matchAll(/([\w-]+)="([^"]*)"/g)) attributes[name] = decodeHtml(value);
  return attributes;
}

/**
 * The shopper on WeChat's H5 payment page behind `wx_url`: loads it and presses 确认支付, which
 * submits the page's form (its hidden fields and the button's name/value), sent as JSON.
 */
export async function payOnWechatH5Page(wxUrl: string): Promise<void> {
  const pageResponse = await fetch(wxUrl);
  const html = await pageResponse.text();
  if (!pageResponse.ok) throw new Error(`wx_url answered HTTP ${pageResponse.status}`);
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`no payment form on the page behind wx_url:\n${html.slice(0, 500)}`);
  const formAttributes = attributesOf(form[1]);
  const fields: Record<string, string> = {};
  for (const [input] of form[2].matchAll(/<input\b[^>]*>/gi)) {
    const { name, value } = attributesOf(input);
    if (name) fields[name] = value ?? '';
  }
  const payButton = [...form[2].matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)].find(([, , label]) =>
    label.includes('确认支付'),
  );
  if (!payButton) throw new Error('no 确认支付 button on the page behind wx_url');
  const { name: buttonName, value: buttonValue } = attributesOf(payButton[1]);
  if (buttonName) fields[buttonName] = buttonValue ?? '';

  const submitted = await fetch(new URL(formAttributes.action ?? wxUrl, wxUrl), {
    method: (formAttributes.method ?? 'post').toUpperCase(),
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(fields),
  });
  if (!submitted.ok)
    throw new Error(`paying on WeChat's H5 page answered HTTP ${submitted.status}: ${await submitted.text()}`);
}

/** How far from now Douyin accepts a `byteAuthorization` timestamp here: 5 minutes (Douyin's own bound is unconfirmed). */
const BYTE_AUTHORIZATION_SKEW_S = 300;

/**
 * Why Douyin would refuse `byteAuthorization` for `data`, or undefined when it verifies: its
 * scheme and parts, the AppID, the key version, a fresh timestamp, and the RSA-SHA256 signature
 * with the app public key over `POST\n/requestOrder\n<timestamp>\n<nonce_str>\n<data>\n` (written
 * here from Douyin's description, independently of the server's signer).
 */
export function byteAuthorizationProblem(
  byteAuthorization: string,
  data: string,
  trade: Pick<TradeSystem, 'appId' | 'appPublicKey' | 'keyVersion'>,
): string | undefined {
  const match =
    /^SHA256-RSA2048 appid=([^,]+),nonce_str=([^,]+),timestamp=(\d+),key_version=([^,]+),signature=(.+)$/.exec(
      byteAuthorization,
    );
  if (!match) return 'byteAuthorization 格式错误';
  const [, appid, nonce, timestamp, keyVersion, signature] = match;
  if (appid !== trade.appId) return `appid ${appid} 不匹配`;
  if (keyVersion !== trade.keyVersion) return `key_version ${keyVersion} 不匹配`;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > BYTE_AUTHORIZATION_SKEW_S) return 'timestamp 过期';
  const verifies = createVerify('RSA-SHA256')
    .update(`POST\n/requestOrder\n${timestamp}\n${nonce}\n${data}\n`)
    .verify(trade.appPublicKey, signature, 'base64');
  return verifies ? undefined : '签名校验失败';
}

function codeFromAlipayAnswer(answer: AlipayAppAnswer): number {
  if (answer.resultStatus === '9000') return DouyinCashierCode.paid;
  if (answer.resultStatus === '6001') return DouyinCashierCode.cancelled;
  return DouyinCashierCode.failed;
}

export function createTtDouble(options: TtDoubleOptions): TtDouble {
  const calls: TtCall[] = [];
  const cashiers: CashierRecord[] = [];
  const problems: string[] = [];
  const storage = options.storage ?? new Map<string, unknown>();
  const answerRequest = options.request ?? fetchAsWxRequest;
  let loginCount = 0;
  const login =
    options.login ??
    (async () => ({ code: `tt-code-${++loginCount}`, anonymousCode: `tt-anonymous-code-${loginCount}` }));
  const atCashier = options.atCashier ?? (() => 'payWechatH5');
  const now = options.now ?? Date.now;
  const tradeTimes = options.tradeTimes ?? new Map<string, string>();

  const record = (api: string, callOptions: unknown) => calls.push({ api, options: callOptions });

  async function askOrderStatus(payOptions: PayOptions, cashier: CashierRecord, outOrderNo: string): Promise<number> {
    if (typeof payOptions.getOrderStatus !== 'function') {
      problems.push('tt.pay was given no getOrderStatus');
      return DouyinCashierCode.unknown;
    }
    try {
      const answer: unknown = await payOptions.getOrderStatus({ out_order_no: outOrderNo });
      cashier.orderStatus = answer;
      const code = isRecord(answer) ? answer.code : undefined;
      if (typeof code !== 'number' || ![0, 1, 2, 3, 9].includes(code)) {
        problems.push(`getOrderStatus resolved with ${JSON.stringify(answer)}`);
        return DouyinCashierCode.unknown;
      }
      return code;
    } catch (error) {
      problems.push(`getOrderStatus rejected: ${error instanceof Error ? error.message : JSON.stringify(error)}`);
      return DouyinCashierCode.unknown;
    }
  }

  /** Carries out the shopper's choice; the code for `success`, or undefined for no callback. */
  async function runCashier(
    payOptions: PayOptions,
    choice: CashierChoice,
    cashier: CashierRecord,
  ): Promise<number | undefined> {
    const { orderInfo } = cashier;
    switch (choice) {
      case 'cancel':
        return DouyinCashierCode.cancelled;
      case 'closeWithoutCallback':
        return undefined;
      case 'payWechatH5': {
        if (typeof orderInfo.wx_url !== 'string' || orderInfo.wx_url === '') throw new Error('orderInfo has no wx_url');
        await payOnWechatH5Page(orderInfo.wx_url);
        return askOrderStatus(payOptions, cashier, String(orderInfo.out_order_no));
      }
      case 'payAlipay': {
        if (typeof orderInfo.alipay_url !== 'string' || orderInfo.alipay_url === '')
          throw new Error('orderInfo has no alipay_url');
        if (!options.alipayApp) throw new Error('the shopper chose Alipay but the double has no alipayApp');
        return codeFromAlipayAnswer(await options.alipayApp(orderInfo.alipay_url));
      }
    }
  }

  /** 担保支付's cashier: opened for a known order and its token only; the shopper pays inside it. */
  function payGuaranteed(payOptions: PayOptions, orderInfo: Record<string, unknown>): void {
    const { success, fail, complete } = payOptions;
    const { order_id: orderId, order_token: orderToken } = orderInfo;
    if (typeof orderId !== 'string' || typeof orderToken !== 'string' || !orderId || !orderToken) {
      queueMicrotask(() =>
        fail?.({ errMsg: 'pay:fail invalid params: orderInfo.order_id and order_token are required' }),
      );
      return;
    }
    const cashierSide = options.guaranteedCashier;
    if (!cashierSide) {
      problems.push('tt.pay service 5 was called but the double has no guaranteedCashier');
      return;
    }
    const order = { order_id: orderId, order_token: orderToken };
    void (async () => {
      try {
        const opened = await cashierSide(order, 'open');
        if (!opened.ok) {
          fail?.({ errMsg: `pay:fail ${opened.reason}` });
          complete?.({ errMsg: `pay:fail ${opened.reason}` });
          return;
        }
        const cashier: CashierRecord = { orderInfo: { ...orderInfo } };
        cashiers.push(cashier);
        const choice = await atCashier({ orderInfo: { ...orderInfo }, service: 5 });
        cashier.choice = choice;
        if (choice === 'closeWithoutCallback') return;
        const action = choice === 'cancel' ? 'cancel' : 'pay';
        const done = await cashierSide(order, action);
        if (!done.ok) throw new Error(`Douyin refused to ${action} an opened order: ${done.reason}`);
        const code = action === 'pay' ? DouyinCashierCode.paid : DouyinCashierCode.cancelled;
        cashier.reportedCode = code;
        success?.({ code, errMsg: 'pay:ok' });
        complete?.({ code, errMsg: 'pay:ok' });
      } catch (error) {
        problems.push(`guaranteed cashier: ${error instanceof Error ? error.message : String(error)}`);
      }
    })();
  }

  function pay(payOptions: PayOptions = {}) {
    const { success, fail, complete, ...params } = payOptions;
    record('pay', params);
    const { orderInfo, service } = payOptions;
    if (!isRecord(orderInfo) || typeof service !== 'number') {
      queueMicrotask(() => fail?.({ errMsg: 'pay:fail invalid params: orderInfo and service are required' }));
      return undefined;
    }
    if (service === 5) {
      payGuaranteed(payOptions, orderInfo);
      return undefined;
    }
    if (orderInfo.sign !== douyinOrderInfoSign(orderInfo, options.paySecret)) {
      // Douyin refuses an orderInfo whose sign does not verify (its code CD0025) before opening the cashier.
      queueMicrotask(() => fail?.({ errMsg: 'pay:fail CD0025 签名错误' }));
      return undefined;
    }
    const refused = refusal(orderInfo, now(), tradeTimes);
    if (refused !== undefined) {
      queueMicrotask(() => fail?.({ errMsg: refused }));
      return undefined;
    }
    tradeTimes.set(String(orderInfo.out_order_no), String(wholeSeconds(orderInfo.trade_time)));
    const cashier: CashierRecord = { orderInfo: { ...orderInfo } };
    cashiers.push(cashier);
    void (async () => {
      try {
        const choice = await atCashier({ orderInfo: { ...orderInfo }, service });
        cashier.choice = choice;
        const code = await runCashier(payOptions, choice, cashier);
        if (code === undefined) return;
        cashier.reportedCode = code;
        success?.({ code, errMsg: 'pay:ok' });
        complete?.({ code, errMsg: 'pay:ok' });
      } catch (error) {
        problems.push(
          `cashier (${cashier.choice ?? 'choosing'}): ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    })();
    return undefined;
  }

  const tradeOrders: TradeOrderRecord[] = [];
  const atOrderPayment = options.atOrderPayment ?? (() => 'pay');

  /** `tt.requestOrder`: Douyin checks the signature, then makes the order (in the sandbox). */
  function requestOrder(requestOptions: Callbacks & { data?: unknown; byteAuthorization?: unknown } = {}) {
    const { success, fail, complete, ...params } = requestOptions;
    record('requestOrder', params);
    const failWith = (errMsg: string) => {
      fail?.({ errMsg: `requestOrder:fail ${errMsg}` });
      complete?.({ errMsg: `requestOrder:fail ${errMsg}` });
    };
    void (async () => {
      const { data, byteAuthorization } = requestOptions;
      if (!options.trade) return failWith('通用交易系统 not enabled for this mini-program');
      if (typeof data !== 'string' || typeof byteAuthorization !== 'string') {
        return failWith('invalid params: data and byteAuthorization are required');
      }
      const problem = byteAuthorizationProblem(byteAuthorization, data, options.trade);
      if (problem) return failWith(problem);
      const made = await fetch(new URL('/sandbox/douyin/trade/request-order', options.trade.sandboxUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data, byteAuthorization }),
      });
      const answer = (await made.json()) as Record<string, unknown> & { error?: { message?: string } };
      if (!made.ok) return failWith(answer.error?.message ?? `HTTP ${made.status}`);
      tradeOrders.push({
        orderId: String(answer.orderId),
        outOrderNo: String(answer.outOrderNo),
        data: JSON.parse(data) as Record<string, unknown>,
      });
      const result = { ...answer, errMsg: 'requestOrder:ok' };
      success?.(result);
      complete?.(result);
    })().catch((error: unknown) => {
      problems.push(`requestOrder: ${error instanceof Error ? error.message : String(error)}`);
    });
    return undefined;
  }

  /** `tt.getOrderPayment`: Douyin's cashier for an order `tt.requestOrder` made; the test's shopper decides. */
  function getOrderPayment(paymentOptions: Callbacks & { orderId?: unknown } = {}) {
    const { success, fail, complete, ...params } = paymentOptions;
    record('getOrderPayment', params);
    void (async () => {
      const order = [...tradeOrders].reverse().find((made) => made.orderId === paymentOptions.orderId);
      if (!order || !options.trade) {
        fail?.({ errMsg: 'getOrderPayment:fail order not found' });
        return;
      }
      const choice = await atOrderPayment(order);
      order.choice = choice;
      if (choice === 'closeWithoutCallback') return;
      if (choice === 'cancel') {
        fail?.({ errMsg: 'getOrderPayment:fail cancel' });
        complete?.({ errMsg: 'getOrderPayment:fail cancel' });
        return;
      }
      const settled = await fetch(
        new URL(`/sandbox/douyin/orders/${encodeURIComponent(order.outOrderNo)}/settle`, options.trade.sandboxUrl),
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ result: 'paid' }) },
      );
      if (!settled.ok)
        throw new Error(`paying ${order.outOrderNo} answered HTTP ${settled.status}: ${await settled.text()}`);
      success?.({ orderId: order.orderId, outOrderNo: order.outOrderNo, errMsg: 'getOrderPayment:ok' });
      complete?.({ errMsg: 'getOrderPayment:ok' });
    })().catch((error: unknown) => {
      problems.push(`getOrderPayment: ${error instanceof Error ? error.message : String(error)}`);
    });
    return undefined;
  }

  const launch: TtLaunchOptions = { scene: '011004', query: {}, path: 'pages/checkout/index', ...options.launch };

  return {
    calls,
    storage,
    cashiers,
    problems,
    tradeOrders,
    requestOrder,
    getOrderPayment,
    getLaunchOptionsSync: () => ({ ...launch, query: { ...launch.query } }),
    request(requestOptions: TtRequestOptions & Callbacks) {
      record('request', requestOptions);
      // tt.request has no promise form: called without callbacks, its outcome goes nowhere.
      callbackOrPromise(requestOptions, () =>
        answerRequest(requestOptions).then((answer) => ({ header: {}, ...answer, errMsg: 'request:ok' })),
      )?.catch(() => undefined);
      return { abort() {}, onHeadersReceived() {}, offHeadersReceived() {} };
    },
    login(loginOptions: Callbacks = {}) {
      record('login', loginOptions);
      return callbackOrPromise(loginOptions, () =>
        login().then((result) => ({ ...result, isLogin: true, errMsg: 'login:ok' })),
      );
    },
    pay,
    ...storageAndDeviceApis(storage),
  };
}
