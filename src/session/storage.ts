/** Synchronous key–value storage, the shape of `Taro.getStorageSync` and friends. */
export interface KeyValueStorage {
  getItem(key: string): unknown;
  setItem(key: string, value: unknown): void;
  removeItem(key: string): void;
}

/** Storage that lasts as long as the page's JS: for defaults and tests, never the app's real storage. */
export function createMemoryStorage(): KeyValueStorage {
  const entries = new Map<string, unknown>();
  return {
    getItem: (key) => entries.get(key),
    setItem: (key, value) => void entries.set(key, value),
    removeItem: (key) => void entries.delete(key),
  };
}
