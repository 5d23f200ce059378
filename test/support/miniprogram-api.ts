/** What the `wx` and `tt` doubles share, as the real APIs do. */

export interface Callbacks {
  success?: (result: unknown) => void;
  fail?: (error: unknown) => void;
  complete?: (result: unknown) => void;
}

function hasCallbacks(options: Callbacks): boolean {
  return Boolean(options.success || options.fail || options.complete);
}

/** Callbacks when any is given (and no return value), otherwise a Promise. */
export function callbackOrPromise<T>(options: Callbacks, run: () => Promise<T>): Promise<T> | undefined {
  const settled = run();
  if (!hasCallbacks(options)) return settled;
  settled.then(
    (result) => {
      options.success?.(result);
      options.complete?.(result);
    },
    (error: unknown) => {
      options.fail?.(error);
      options.complete?.(error);
    },
  );
  return undefined;
}

/** The synchronous storage and device APIs, alike on `wx` and `tt`, over one in-memory map. */
export function storageAndDeviceApis(storage: Map<string, unknown>) {
  return {
    getStorageSync(key: string) {
      return storage.has(key) ? storage.get(key) : '';
    },
    setStorageSync(key: string, value: unknown) {
      storage.set(key, value);
    },
    removeStorageSync(key: string) {
      storage.delete(key);
    },
    getSystemInfoSync() {
      return { platform: 'devtools', windowWidth: 375, windowHeight: 667, pixelRatio: 2, SDKVersion: '3.0.0' };
    },
  };
}
