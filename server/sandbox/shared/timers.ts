import { performance } from 'node:perf_hooks';

/**
 * Runs `work` once `performance.now()` has reached `due` (ms), never before. Node's timers count
 * from the event loop's cached clock, which lags behind on a busy loop, so a plain `setTimeout`
 * can fire early; the emulated providers never retry early, so a timer that fires before `due`
 * waits again for what is left. `onTimer` is given each pending timer (to cancel it with
 * `clearTimeout`), and `undefined` once `work` runs.
 */
export function runNotBefore(
  due: number,
  work: () => void,
  onTimer: (timer: NodeJS.Timeout | undefined) => void,
): void {
  const check = (): void => {
    const left = due - performance.now();
    if (left > 0) {
      onTimer(setTimeout(check, Math.ceil(left)));
      return;
    }
    onTimer(undefined);
    work();
  };
  // Always from a timer, as before: the work never runs inside the caller's turn.
  onTimer(setTimeout(check, Math.max(0, Math.ceil(due - performance.now()))));
}
