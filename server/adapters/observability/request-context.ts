import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The id of the HTTP request being served, carried through every await of its handling, so that
 * a log line written anywhere meanwhile (the domain included, which knows nothing of requests)
 * names the request it belongs to. Background work (the sweeper, the notifier) runs outside any.
 */
const requestIds = new AsyncLocalStorage<string>();

/** Runs `work` as part of the request `requestId`. */
export function withRequestId<T>(requestId: string, work: () => T): T {
  return requestIds.run(requestId, work);
}

/** The id of the request whose handling is running now, if any. */
export function currentRequestId(): string | undefined {
  return requestIds.getStore();
}
