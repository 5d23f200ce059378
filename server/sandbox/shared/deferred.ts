/**
 * Work an emulated provider does "shortly after" it answers (a refund settled, a callback started),
 * each task on its own timer so it never runs inside the request that asked for it. `stop()`
 * cancels what has not run yet and refuses later tasks, for a sandbox that is closing.
 */
export interface DeferredTasks {
  /** Runs `task` from a timer of its own; does nothing once stopped. */
  later(task: () => void): void;
  stop(): void;
}

/** A fresh set of deferred tasks (see `DeferredTasks`). */
export function deferredTasks(): DeferredTasks {
  const pending = new Set<NodeJS.Timeout>();
  let stopped = false;
  return {
    later(task) {
      if (stopped) return;
      const timer = setTimeout(() => {
        pending.delete(timer);
        task();
      }, 0);
      pending.add(timer);
    },
    stop() {
      stopped = true;
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
    },
  };
}
