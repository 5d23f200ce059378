import { isRecord } from '../api/errors';

/** Mini-program APIs return a Promise or nothing, depending on the platform and on whether callbacks were given. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return isRecord(value) && typeof value.then === 'function';
}
