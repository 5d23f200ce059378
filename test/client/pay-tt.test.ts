import { createApiClient } from '../../src/api/client';
import type { OrderStatusCode, PayResponse } from '../../src/api/types';
import type { PaymentContext, PaymentOutcome, PlatformPayAdapter } from '../../src/platform/contract';
import * as ttPay from '../../src/platform/pay.tt';
import { FakeCheckoutServer, transportTo } from './doubles/fake-checkout-server';
import { resetTaroDouble, taroDouble } from './doubles/taro';

const orderInfo = {
  app_id: '800000000001',
  merchant_id: '1900000001',
  out_order_no: 'CO000001',
  total_amount: 2000,
  wx_url: 'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1',
  alipay_url: 'app_id=2019000000000006&biz_content=x',
  sign: '0f1e3358a9898d7c4c6c23740251808a',
  risk_info: '{"ip":"127.0.0.1"}',
};

const payResponse: PayResponse = { platform: 'tt', service: 1, orderInfo };

/** Exercised through the contract, as the flow uses it. */
const { platform, loginCode, presentPayment }: PlatformPayAdapter = ttPay;
const { CASHIER_CALLBACK_GRACE_MS } = ttPay;

/** What the cashier sees of the options Taro hands to `tt.pay`. */
interface CashierOptions {
  orderInfo: unknown;
  service: unknown;
  getOrderStatus: (query: { out_order_no: string }) => Promise<{ code: number }>;
  success: (result: unknown) => void;
  fail: (error: unknown) => void;
}

function isCashierOptions(options: Record<string, unknown>): options is Record<string, unknown> & CashierOptions {
  return ['getOrderStatus', 'success', 'fail'].every((name) => typeof options[name] === 'function');
}

/**
 * `Taro.pay` as the tt build installs it: a copy of the options goes to `tt.pay` with `success` /
 * `fail` wrapped so they are still called and also settle the returned Promise.
 */
function taroLikePay(cashier: (options: CashierOptions) => unknown) {
  const opened: CashierOptions[] = [];
  const api = (options: Record<string, unknown> = {}) =>
    new Promise((resolve, reject) => {
      if (!isCashierOptions(options)) throw new Error('Taro.pay called without getOrderStatus, success and fail');
      const forwarded: CashierOptions = {
        ...options,
        success: (result) => {
          options.success(result);
          resolve(result);
        },
        fail: (error) => {
          options.fail(error);
          reject(error);
        },
      };
      opened.push(forwarded);
      // A cashier that fails (an assertion or request inside it) rejects the call, not an unhandled promise.
      Promise.resolve(cashier(forwarded)).catch(reject);
    });
  return { api, opened };
}

/** A context whose page-shown signal the test fires. */
function contextWith(getOrderStatus: PaymentContext['getOrderStatus'] = async () => ({ code: 9 })) {
  const listeners = new Set<() => void>();
  const context: PaymentContext = {
    orderNo: 'CO000001',
    getOrderStatus,
    onPageShown: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return { context, showPage: () => [...listeners].forEach((listener) => listener()), listeners };
}

describe('pay.tt', () => {
  afterEach(() => {
    resetTaroDouble();
    jest.useRealTimers();
  });

  it('should name its platform', () => {
    expect(platform).toBe('tt');
  });

  describe('presentPayment', () => {
    it('should hand orderInfo and service to Taro.pay unchanged, with getOrderStatus', async () => {
      const { api, opened } = taroLikePay((cashier) => cashier.success({ code: 0 }));
      taroDouble.pay = api;

      await expect(presentPayment(payResponse, contextWith().context)).resolves.toEqual({ kind: 'submitted' });
      expect(opened[0].orderInfo).toEqual(orderInfo);
      expect(opened[0].service).toBe(1);
    });

    it.each<[number, PaymentOutcome]>([
      [0, { kind: 'submitted' }],
      [1, { kind: 'submitted' }],
      [2, { kind: 'submitted' }],
      [3, { kind: 'submitted' }],
      [4, { kind: 'cancelled' }],
      [9, { kind: 'submitted' }],
      [7, { kind: 'submitted' }],
    ])('should map success({code: %i}) to %o', async (code, outcome) => {
      taroDouble.pay = taroLikePay((cashier) => setTimeout(() => cashier.success({ code }))).api;
      await expect(presentPayment(payResponse, contextWith().context)).resolves.toEqual(outcome);
    });

    it('should report a refused sign as failed with a new order, never as cancelled', async () => {
      taroDouble.pay = taroLikePay((cashier) => cashier.fail({ errMsg: 'pay:fail CD0025 签名错误' })).api;
      await expect(presentPayment(payResponse, contextWith().context)).resolves.toEqual({
        kind: 'failed',
        code: 'PAYMENT_PARAMS_INVALID',
        message: 'pay:fail CD0025 签名错误',
      });
    });

    it('should report a cashier that could not open as failed with a retry', async () => {
      taroDouble.pay = taroLikePay((cashier) => cashier.fail({ errMsg: 'pay:fail 当前客户端版本过低' })).api;
      await expect(presentPayment(payResponse, contextWith().context)).resolves.toEqual({
        kind: 'failed',
        code: 'PAYMENT_SHEET_UNAVAILABLE',
        message: 'pay:fail 当前客户端版本过低',
      });
    });

    it('should report a missing Taro.pay (not a tt build) as failed', async () => {
      taroDouble.pay = () => {
        throw new TypeError('Taro.pay is not a function');
      };
      await expect(presentPayment(payResponse, contextWith().context)).resolves.toMatchObject({
        kind: 'failed',
        code: 'PAYMENT_SHEET_UNAVAILABLE',
      });
    });

    it('should refuse a pay response meant for another platform without opening the cashier', async () => {
      const pay = jest.fn();
      taroDouble.pay = pay;
      const weappAnswer: PayResponse = {
        platform: 'weapp',
        requestPayment: { timeStamp: '1', nonceStr: 'n', package: 'prepay_id=wx1', signType: 'MD5', paySign: 'S' },
      };
      await expect(presentPayment(weappAnswer, contextWith().context)).resolves.toMatchObject({
        kind: 'failed',
        code: 'PAYMENT_PLATFORM_MISMATCH',
      });
      expect(pay).not.toHaveBeenCalled();
    });
  });

  describe("the cashier's getOrderStatus", () => {
    async function serverWithOrder() {
      const server = new FakeCheckoutServer();
      let failNextRequest = false;
      const serverTransport = transportTo(server);
      const api = createApiClient({
        baseUrl: 'http://checkout.test',
        transport: (request) =>
          failNextRequest
            ? Promise.reject({ errMsg: 'request:fail net::ERR_INTERNET_DISCONNECTED' })
            : serverTransport(request),
      });
      const { token } = await api.createSession({ platform: 'tt', code: 'c1', anonymousCode: 'a1' });
      const order = await api.createOrder(token, [{ sku: 'tea', quantity: 1 }], 'key-1');
      const getOrderStatus = async () => api.getOrderStatus(token, order.orderNo);
      return { server, order, getOrderStatus, cutNetwork: () => (failNextRequest = true) };
    }

    async function answersToCashier(getOrderStatus: PaymentContext['getOrderStatus']) {
      const answers: { code: number }[] = [];
      taroDouble.pay = taroLikePay(async (cashier) => {
        const answer = await cashier.getOrderStatus({ out_order_no: orderInfo.out_order_no });
        answers.push(answer);
        cashier.success({ code: answer.code });
      }).api;
      const outcome = await presentPayment(payResponse, contextWith(getOrderStatus).context);
      return { answers, outcome };
    }

    it.each<[OrderStatusCode]>([[0], [1], [2], [3], [9]])('should answer the server status code %i', async (code) => {
      const { server, order, getOrderStatus } = await serverWithOrder();
      server.settle(order.orderNo, code);

      const { answers, outcome } = await answersToCashier(getOrderStatus);

      expect(answers).toEqual([{ code }]);
      expect(outcome).toEqual({ kind: 'submitted' });
      expect(server.countRequests('status')).toBe(1);
    });

    it('should answer 9 (unknown) rather than reject when the request fails', async () => {
      const { getOrderStatus, cutNetwork } = await serverWithOrder();
      cutNetwork();

      const { answers } = await answersToCashier(getOrderStatus);

      expect(answers).toEqual([{ code: 9 }]);
    });

    it('should answer 9 when the server answers an error', async () => {
      const { server, getOrderStatus } = await serverWithOrder();
      server.answerNext('status', { status: 503, body: { error: { code: 'GATEWAY_UNAVAILABLE', message: 'busy' } } });

      const { answers } = await answersToCashier(getOrderStatus);

      expect(answers).toEqual([{ code: 9 }]);
    });
  });

  describe('the cashier closing without any callback', () => {
    it('should report submitted once the page has shown again and no callback came in the grace period', async () => {
      jest.useFakeTimers();
      const { api, opened } = taroLikePay(() => undefined);
      taroDouble.pay = api;
      const { context, showPage, listeners } = contextWith();
      let outcome: PaymentOutcome | undefined;
      void presentPayment(payResponse, context).then((settled) => (outcome = settled));

      await jest.advanceTimersByTimeAsync(60_000);
      expect(outcome).toBeUndefined();

      showPage();
      await jest.advanceTimersByTimeAsync(CASHIER_CALLBACK_GRACE_MS - 1);
      expect(outcome).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);
      expect(outcome).toEqual({ kind: 'submitted' });
      expect(listeners.size).toBe(0);

      opened[0].success({ code: 4 });
      await jest.advanceTimersByTimeAsync(0);
      expect(outcome).toEqual({ kind: 'submitted' });
    });

    it('should still take the callback that follows the page showing again', async () => {
      jest.useFakeTimers();
      const { api, opened } = taroLikePay(() => undefined);
      taroDouble.pay = api;
      const { context, showPage } = contextWith();
      const presented = presentPayment(payResponse, context);

      showPage();
      await jest.advanceTimersByTimeAsync(CASHIER_CALLBACK_GRACE_MS / 2);
      opened[0].success({ code: 4 });

      await expect(presented).resolves.toEqual({ kind: 'cancelled' });
    });

    it('should not wait for the page once the cashier answered', async () => {
      const { context, listeners } = contextWith();
      taroDouble.pay = taroLikePay((cashier) => cashier.success({ code: 0 })).api;

      await presentPayment(payResponse, context);

      expect(listeners.size).toBe(0);
    });
  });

  describe('presentPayment with the 通用交易系统 (tt.requestOrder)', () => {
    const tradeResponse: PayResponse = {
      platform: 'tt',
      requestOrder: { data: '{"outOrderNo":"B1","totalAmount":100}', byteAuthorization: 'SHA256-RSA2048 appid=tt1' },
    };

    /** Douyin's two calls as Taro proxies them: callbacks only, `requestOrder` answering `orderId`. */
    function douyinTrade(options: {
      requestOrder?: (params: Record<string, unknown>) => { ok: unknown } | { fail: unknown };
      getOrderPayment?: (params: Record<string, unknown>) => { ok: unknown } | { fail: unknown } | 'silent';
    }) {
      const calls: Array<{ api: string; params: Record<string, unknown> }> = [];
      taroDouble.requestOrder = (params: Record<string, unknown> = {}) => {
        const { success, fail, ...rest } = params as Record<string, unknown> & CashierCallbacks;
        calls.push({ api: 'requestOrder', params: rest });
        const answer = options.requestOrder?.(rest) ?? { ok: { orderId: 'ot001', errMsg: 'requestOrder:ok' } };
        setTimeout(() => ('ok' in answer ? success(answer.ok) : fail(answer.fail)));
      };
      taroDouble.getOrderPayment = (params: Record<string, unknown> = {}) => {
        const { success, fail, ...rest } = params as Record<string, unknown> & CashierCallbacks;
        calls.push({ api: 'getOrderPayment', params: rest });
        const answer = options.getOrderPayment?.(rest) ?? { ok: { errMsg: 'getOrderPayment:ok' } };
        if (answer === 'silent') return;
        setTimeout(() => ('ok' in answer ? success(answer.ok) : fail(answer.fail)));
      };
      return calls;
    }

    interface CashierCallbacks {
      success: (result: unknown) => void;
      fail: (error: unknown) => void;
    }

    it('should hand data and byteAuthorization to tt.requestOrder unchanged, then open the cashier for its orderId', async () => {
      const calls = douyinTrade({});
      await expect(presentPayment(tradeResponse, contextWith().context)).resolves.toEqual({ kind: 'submitted' });
      expect(calls).toEqual([
        {
          api: 'requestOrder',
          params: { data: tradeResponse.requestOrder.data, byteAuthorization: 'SHA256-RSA2048 appid=tt1' },
        },
        { api: 'getOrderPayment', params: { orderId: 'ot001' } },
      ]);
    });

    it('should report a cancel in the cashier as cancelled, and any other cashier failure as submitted', async () => {
      douyinTrade({ getOrderPayment: () => ({ fail: { errMsg: 'getOrderPayment:fail cancel', errNo: 4 } }) });
      await expect(presentPayment(tradeResponse, contextWith().context)).resolves.toEqual({ kind: 'cancelled' });
      douyinTrade({ getOrderPayment: () => ({ fail: { errMsg: 'getOrderPayment:fail 支付超时' } }) });
      await expect(presentPayment(tradeResponse, contextWith().context)).resolves.toEqual({ kind: 'submitted' });
    });

    it.each<[string, PaymentOutcome]>([
      [
        'requestOrder:fail 签名校验失败',
        { kind: 'failed', code: 'PAYMENT_PARAMS_INVALID', message: 'requestOrder:fail 签名校验失败' },
      ],
      [
        'requestOrder:fail timestamp 过期',
        { kind: 'failed', code: 'PAYMENT_SHEET_UNAVAILABLE', message: 'requestOrder:fail timestamp 过期' },
      ],
      ['requestOrder:fail order ORD1 is paid, already paid', { kind: 'submitted' }],
      [
        'requestOrder:fail 网络错误',
        { kind: 'failed', code: 'PAYMENT_SHEET_UNAVAILABLE', message: 'requestOrder:fail 网络错误' },
      ],
    ])('should map requestOrder fail %s without opening the cashier', async (errMsg, outcome) => {
      const calls = douyinTrade({ requestOrder: () => ({ fail: { errMsg } }) });
      await expect(presentPayment(tradeResponse, contextWith().context)).resolves.toEqual(outcome);
      expect(calls.map((call) => call.api)).toEqual(['requestOrder']);
    });

    it('should report a Douyin without tt.requestOrder as failed', async () => {
      taroDouble.requestOrder = undefined;
      await expect(presentPayment(tradeResponse, contextWith().context)).resolves.toMatchObject({
        kind: 'failed',
        code: 'PAYMENT_SHEET_UNAVAILABLE',
      });
    });

    it('should report submitted when the cashier closed with no callback and the page showed again', async () => {
      jest.useFakeTimers();
      douyinTrade({ getOrderPayment: () => 'silent' });
      const { context, showPage } = contextWith();
      const outcome = presentPayment(tradeResponse, context);
      await jest.advanceTimersByTimeAsync(10);
      showPage();
      await jest.advanceTimersByTimeAsync(CASHIER_CALLBACK_GRACE_MS);
      await expect(outcome).resolves.toEqual({ kind: 'submitted' });
    });
  });

  describe('loginCode', () => {
    it('should pass code and anonymousCode through', async () => {
      taroDouble.login = async () => ({ code: 'c', anonymousCode: 'a', isLogin: true, errMsg: 'login:ok' });
      await expect(loginCode()).resolves.toEqual({ code: 'c', anonymousCode: 'a' });
    });

    it('should leave anonymousCode out when Douyin gives none', async () => {
      taroDouble.login = async () => ({ code: 'c', errMsg: 'login:ok' });
      await expect(loginCode()).resolves.toEqual({ code: 'c' });
    });

    it('should turn a login failure into LOGIN_FAILED', async () => {
      taroDouble.login = () => Promise.reject({ errMsg: 'login:fail auth deny' });
      await expect(loginCode()).rejects.toMatchObject({ code: 'LOGIN_FAILED', message: 'login:fail auth deny' });
    });

    it('should treat an answer without a code as LOGIN_FAILED', async () => {
      taroDouble.login = async () => ({ code: '', anonymousCode: 'a', isLogin: false, errMsg: 'login:ok' });
      await expect(loginCode()).rejects.toMatchObject({ code: 'LOGIN_FAILED' });
    });
  });
});
