import type { PayResponse } from '../../src/api/types';
import type { PaymentContext, PlatformPayAdapter } from '../../src/platform/contract';
import * as weappPay from '../../src/platform/pay.weapp';
import {
  outcomeFromWeappPaymentFailure,
  outcomeFromWeappPaymentSuccess,
} from '../../src/platform/weapp-payment-result';
import { resetTaroDouble, taroDouble } from './doubles/taro';

const payResponse: PayResponse = {
  platform: 'weapp',
  requestPayment: {
    timeStamp: '1700000000',
    nonceStr: 'n0nce',
    package: 'prepay_id=wx123',
    signType: 'MD5',
    paySign: 'C380BEC2BFD727A4B6845133519F3AD6',
  },
};

/** Exercised through the contract, as the flow uses it. */
const { platform, loginCode, presentPayment }: PlatformPayAdapter = weappPay;

const context: PaymentContext = {
  orderNo: 'CO1',
  getOrderStatus: async () => ({ code: 9 }),
  onPageShown: () => () => undefined,
};

type Callbacks = { success?: (result: unknown) => void; fail?: (error: unknown) => void };

/** Like the real `wx.requestPayment`: callbacks when given, otherwise a Promise. */
function wxLikeRequestPayment(settle: { ok: true } | { errMsg: string }) {
  const calls: Record<string, unknown>[] = [];
  const api = (options: Record<string, unknown> = {}) => {
    calls.push(options);
    const { success, fail } = options as Callbacks;
    const failed = 'errMsg' in settle;
    if (success || fail) {
      setTimeout(() => (failed ? fail?.(settle) : success?.({ errMsg: 'requestPayment:ok' })));
      return undefined;
    }
    return failed ? Promise.reject(settle) : Promise.resolve({ errMsg: 'requestPayment:ok' });
  };
  return { api, calls };
}

describe('pay.weapp', () => {
  afterEach(resetTaroDouble);

  it('should name its platform', () => {
    expect(platform).toBe('weapp');
  });

  describe('presentPayment', () => {
    it('should pass the server parameters to Taro.requestPayment unchanged and report submitted', async () => {
      const { api, calls } = wxLikeRequestPayment({ ok: true });
      taroDouble.requestPayment = api;

      await expect(presentPayment(payResponse, context)).resolves.toEqual({ kind: 'submitted' });
      expect(calls[0]).toMatchObject(payResponse.requestPayment);
    });

    it('should settle with a Promise-only requestPayment that ignores callbacks', async () => {
      taroDouble.requestPayment = () => Promise.reject({ errMsg: 'requestPayment:fail cancel' });
      await expect(presentPayment(payResponse, context)).resolves.toEqual({ kind: 'cancelled' });
    });

    it('should report the shopper closing the sheet as cancelled', async () => {
      taroDouble.requestPayment = wxLikeRequestPayment({ errMsg: 'requestPayment:fail cancel' }).api;
      await expect(presentPayment(payResponse, context)).resolves.toEqual({ kind: 'cancelled' });
    });

    it('should report a signature error as failed, never as cancelled', async () => {
      taroDouble.requestPayment = wxLikeRequestPayment({ errMsg: 'requestPayment:fail 支付验证签名失败' }).api;
      await expect(presentPayment(payResponse, context)).resolves.toEqual({
        kind: 'failed',
        code: 'PAYMENT_PARAMS_INVALID',
        message: 'requestPayment:fail 支付验证签名失败',
      });
    });

    it('should report other failures as PAYMENT_FAILED', async () => {
      taroDouble.requestPayment = wxLikeRequestPayment({ errMsg: 'requestPayment:fail system error' }).api;
      await expect(presentPayment(payResponse, context)).resolves.toMatchObject({
        kind: 'failed',
        code: 'PAYMENT_FAILED',
      });
    });

    it('should refuse a pay response meant for another platform without opening the sheet', async () => {
      const requestPayment = jest.fn();
      taroDouble.requestPayment = requestPayment;
      const douyinAnswer = { platform: 'tt', orderInfo: {} };
      await expect(weappPay.presentPayment(douyinAnswer)).resolves.toMatchObject({
        kind: 'failed',
        code: 'PAYMENT_PLATFORM_MISMATCH',
      });
      expect(requestPayment).not.toHaveBeenCalled();
    });
  });

  describe('loginCode', () => {
    it('should return the wx.login code', async () => {
      taroDouble.login = async () => ({ code: 'abc', errMsg: 'login:ok' });
      await expect(loginCode()).resolves.toEqual({ code: 'abc' });
    });

    it('should turn a login failure into LOGIN_FAILED', async () => {
      taroDouble.login = () => Promise.reject({ errMsg: 'login:fail timeout' });
      await expect(loginCode()).rejects.toMatchObject({ code: 'LOGIN_FAILED', message: 'login:fail timeout' });
    });

    it('should treat an answer without a code as LOGIN_FAILED', async () => {
      taroDouble.login = async () => ({ errMsg: 'login:ok' });
      await expect(loginCode()).rejects.toMatchObject({ code: 'LOGIN_FAILED' });
    });
  });
});

describe('weapp payment result normalisation', () => {
  it.each([
    ['requestPayment:fail cancel', { kind: 'cancelled' }],
    ['requestPayment:fail cancel ', { kind: 'cancelled' }],
    [
      'requestPayment:fail parameter error: parameter.paySign should be String',
      { kind: 'failed', code: 'PAYMENT_PARAMS_INVALID' },
    ],
    ['requestPayment:fail invalid sign', { kind: 'failed', code: 'PAYMENT_PARAMS_INVALID' }],
    ['requestPayment:fail 缺少参数 total_fee', { kind: 'failed', code: 'PAYMENT_PARAMS_INVALID' }],
    ['requestPayment:fail no permission', { kind: 'failed', code: 'PAYMENT_FAILED' }],
    ['requestPayment:fail', { kind: 'failed', code: 'PAYMENT_FAILED' }],
  ])('should map rejection {errMsg: "%s"}', (errMsg, expected) => {
    expect(outcomeFromWeappPaymentFailure({ errMsg })).toMatchObject(expected);
  });

  it('should map rejections without errMsg to PAYMENT_FAILED', () => {
    expect(outcomeFromWeappPaymentFailure(new Error('boom'))).toMatchObject({
      kind: 'failed',
      code: 'PAYMENT_FAILED',
      message: 'boom',
    });
    expect(outcomeFromWeappPaymentFailure(undefined)).toMatchObject({ kind: 'failed', code: 'PAYMENT_FAILED' });
  });

  it('should not read a resolved "fail" errMsg as submitted', () => {
    expect(outcomeFromWeappPaymentSuccess({ errMsg: 'requestPayment:fail cancel' })).toEqual({ kind: 'cancelled' });
    expect(outcomeFromWeappPaymentSuccess({ errMsg: 'requestPayment:ok' })).toEqual({ kind: 'submitted' });
  });
});
