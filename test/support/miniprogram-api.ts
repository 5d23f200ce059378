/** What `wx.*` and `tt.*` APIs share: callbacks when any is given (and no return value), otherwise a Promise. */

export interface Callbacks {
  success?: (result: unknown) => void;
  fail?: (error: unknown) => void;
  complete?: (result: unknown) => void;
}

function hasCallbacks(options: Callbacks): boolean {
  return Boolean(options.success || options.fail || options.complete);
}

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
