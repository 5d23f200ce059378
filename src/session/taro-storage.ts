import Taro from '@tarojs/taro';
import { KeyValueStorage } from './storage';

/**
 * Storage over Taro's sync storage APIs. A full or unavailable storage must not break checkout:
 * a token that cannot be cached only costs one more login.
 */
export const taroStorage: KeyValueStorage = {
  getItem(key) {
    try {
      return Taro.getStorageSync(key) as unknown;
    } catch {
      return undefined;
    }
  },
  setItem(key, value) {
    try {
      Taro.setStorageSync(key, value);
    } catch {
      // Storage unavailable: the session simply stays uncached.
    }
  },
  removeItem(key) {
    try {
      Taro.removeStorageSync(key);
    } catch {
      // Nothing cached to drop.
    }
  },
};
