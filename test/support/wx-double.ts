import { Callbacks, callbackOrPromise, storageAndDeviceApis } from './miniprogram-api';

/**
 * A `wx` global for driving the compiled weapp bundle in Node. Only what the checkout uses,
 * with the real calling conventions: callbacks when given, a Promise otherwise (`wx.request`
 * always uses callbacks and returns a RequestTask). Taro reads `Object.keys(wx)` once when
 * the bundle loads, so every API must exist before `loadWeappPage` is called.
 */

export interface WxRequestOptions {
  url: string;
  method?: string;
  data?: unknown;
  header?: Record<string, string>;
  timeout?: number;
  dataType?: string;
}

export interface WxRequestAnswer {
  statusCode: number;
  data: unknown;
  header?: Record<string, string>;
}

export interface WxPaymentParams {
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType?: string;
  paySign: string;
}

/** What `wx.getLaunchOptionsSync` / `wx.getEnterOptionsSync` return (and App `onLaunch` / `onShow` receive). */
export interface WxLaunchOptions {
  /** Scene value: 1069 opened from an app, 1001 the Discover list, 1089 the chat's recent list, … */
  scene: number;
  /** The launch path's query, e.g. `{checkout: '<token>'}`. */
  query: Record<string, string>;
  /** The page path without a leading slash. */
  path: string;
}

export interface WxDoubleOptions {
  /**
   * Answers `wx.request`. Reject with `{errMsg: 'request:fail …'}` to simulate a network failure.
   * @default real HTTP through `fetch`, JSON-parsed like WeChat's `dataType: 'json'`
   */
  request?: (options: WxRequestOptions) => Promise<WxRequestAnswer>;
  /** @default a fresh `test-code-<n>` per call */
  login?: () => Promise<{ code: string }>;
  /**
   * The shopper at the payment sheet. Resolve for "paid in the sheet"; reject with
   * `{errMsg: 'requestPayment:fail cancel'}` (closed) or `{errMsg: 'requestPayment:fail …'}`.
   * @default resolves `{errMsg: 'requestPayment:ok'}`
   */
  requestPayment?: (params: WxPaymentParams) => Promise<{ errMsg: string }>;
  /** @default an empty Map */
  storage?: Map<string, unknown>;
  /**
   * How WeChat opened the mini-program: `getLaunchOptionsSync` answers this, and so does
   * `getEnterOptionsSync` until `setEnterOptions` (a later entry). The miniprogram harness passes
   * it to App `onLaunch` / `onShow` and its query to the page's `onLoad`.
   * @default scene 1001, no query, the checkout page
   */
  launch?: Partial<WxLaunchOptions>;
  /** `false` leaves out `getEnterOptionsSync`, as base libraries before 2.9.4 do. @default true */
  enterOptionsSupported?: boolean;
}

export interface WxCall {
  api: string;
  options: unknown;
}

export type WxDouble = Record<string, unknown> & {
  /** Every API call in order, for assertions. */
  readonly calls: WxCall[];
  readonly storage: Map<string, unknown>;
  getLaunchOptionsSync(): WxLaunchOptions;
  /** A later entry (a hot start): what `getEnterOptionsSync` answers from now on. */
  setEnterOptions(options: Partial<WxLaunchOptions> & { scene: number }): void;
};

export const DEFAULT_LAUNCH: WxLaunchOptions = { scene: 1001, query: {}, path: 'pages/checkout/index' };

export async function fetchAsWxRequest(options: WxRequestOptions): Promise<WxRequestAnswer> {
  const body =
    options.data === undefined || options.method === 'GET'
      ? undefined
      : typeof options.data === 'string'
        ? options.data
        : JSON.stringify(options.data);
  let response: Response;
  try {
    response = await fetch(options.url, {
      method: options.method ?? 'GET',
      headers: options.header,
      body,
      signal: AbortSignal.timeout(options.timeout ?? 60_000),
    });
  } catch (error) {
    throw { errMsg: `request:fail ${error instanceof Error ? error.message : String(error)}` };
  }
  const text = await response.text();
  let data: unknown = text;
  if ((options.dataType ?? 'json') === 'json') {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  const header: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    header[name] = value;
  });
  return { statusCode: response.status, data, header };
}

export function createWxDouble(options: WxDoubleOptions = {}): WxDouble {
  const calls: WxCall[] = [];
  const storage = options.storage ?? new Map<string, unknown>();
  const answerRequest = options.request ?? fetchAsWxRequest;
  let loginCount = 0;
  const login = options.login ?? (async () => ({ code: `test-code-${++loginCount}` }));
  const requestPayment = options.requestPayment ?? (async () => ({ errMsg: 'requestPayment:ok' }));

  const record = (api: string, callOptions: unknown) => calls.push({ api, options: callOptions });
  const launch: WxLaunchOptions = { ...DEFAULT_LAUNCH, ...options.launch };
  let entered: WxLaunchOptions = launch;
  // WeChat answers a fresh object each time.
  const copy = (launchOptions: WxLaunchOptions) => ({ ...launchOptions, query: { ...launchOptions.query } });
  const enterOptions = options.enterOptionsSupported === false ? {} : { getEnterOptionsSync: () => copy(entered) };

  return {
    calls,
    storage,
    getLaunchOptionsSync: () => copy(launch),
    ...enterOptions,
    setEnterOptions(next) {
      entered = { path: entered.path, query: {}, ...next };
    },
    request(requestOptions: WxRequestOptions & Callbacks) {
      record('request', requestOptions);
      // wx.request has no promise form: called without callbacks, its outcome goes nowhere.
      callbackOrPromise(requestOptions, () =>
        answerRequest(requestOptions).then((answer) => ({ header: {}, ...answer, errMsg: 'request:ok' })),
      )?.catch(() => undefined);
      return { abort() {}, onHeadersReceived() {}, offHeadersReceived() {} };
    },
    login(loginOptions: Callbacks = {}) {
      record('login', loginOptions);
      return callbackOrPromise(loginOptions, () => login().then((result) => ({ ...result, errMsg: 'login:ok' })));
    },
    requestPayment(paymentOptions: WxPaymentParams & Callbacks) {
      const { success, fail, complete, ...params } = paymentOptions;
      record('requestPayment', params);
      return callbackOrPromise({ success, fail, complete }, () => requestPayment(params));
    },
    ...storageAndDeviceApis(storage),
  };
}
