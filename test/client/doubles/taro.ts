/**
 * Stands in for `@tarojs/taro` in unit tests (mapped in jest.config.js). Only the APIs the
 * client touches; each test installs the behaviour it needs and `resetTaroDouble` restores it.
 */
type Api = (options?: Record<string, unknown>) => unknown;

const unconfigured =
  (name: string): Api =>
  () => {
    throw new Error(`Taro.${name} not configured in this test`);
  };

type ApiName =
  | 'login'
  | 'requestPayment'
  | 'pay'
  | 'requestOrder'
  | 'getOrderPayment'
  | 'request'
  | 'getStorageSync'
  | 'setStorageSync'
  | 'removeStorageSync'
  | 'getLaunchOptionsSync'
  | 'getEnterOptionsSync';

/** `undefined` plays a platform or base library without that API. */
export const taroDouble: Record<ApiName, Api | undefined> = {
  login: unconfigured('login'),
  requestPayment: unconfigured('requestPayment'),
  pay: unconfigured('pay'),
  requestOrder: unconfigured('requestOrder'),
  getOrderPayment: unconfigured('getOrderPayment'),
  request: unconfigured('request'),
  getStorageSync: unconfigured('getStorageSync'),
  setStorageSync: unconfigured('setStorageSync'),
  removeStorageSync: unconfigured('removeStorageSync'),
  getLaunchOptionsSync: unconfigured('getLaunchOptionsSync'),
  getEnterOptionsSync: unconfigured('getEnterOptionsSync'),
};

export function resetTaroDouble(): void {
  for (const name of Object.keys(taroDouble) as (keyof typeof taroDouble)[]) {
    taroDouble[name] = unconfigured(name);
  }
}

export default taroDouble;
