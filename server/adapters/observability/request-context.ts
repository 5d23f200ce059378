import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The id of the HTTP request being served, carried through every await of its handling, so that
 * a log line written anywhere meanwhile (the domain included, which knows nothing of requests)
 * names the request it belongs to. Background work (the sweeper, the notifier) runs outside any.
 *
 * On Node 20 an AsyncLocalStorage costs every promise of the process a hook while it is enabled
 * (measured: about a third more CPU per status poll), so it is enabled only while some request
 * runs in it, and disabled again when the last one ends.
 */
const requestIds = new AsyncLocalStorage<string>();
let running = 0;

function left(): void {
  running -= 1;
  if (running === 0) requestIds.disable();
}

/** Runs `work` as part of the request `requestId`; settles as `work` does. */
export function withRequestId<T>(requestId: string, work: () => Promise<T>): Promise<T> {
  running += 1;
  let result: Promise<T>;
  try {
    result = requestIds.run(requestId, work);
  } catch (error) {
    left();
    throw error;
  }
  return result.finally(left);
}

/** The id of the request whose handling is running now, if any. */
export function currentRequestId(): string | undefined {
  return requestIds.getStore();
}
