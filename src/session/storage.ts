/** Synchronous key–value storage, the shape of `Taro.getStorageSync` and friends. */
export interface KeyValueStorage {
  getItem(key: string): unknown;
  setItem(key: string, value: unknown): void;
  removeItem(key: string): void;
}
