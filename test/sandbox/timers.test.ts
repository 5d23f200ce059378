import { performance } from 'node:perf_hooks';
import { runNotBefore } from '../../server/sandbox/shared/timers';

/**
 * The sandboxes' retries never go out early. A plain `setTimeout(work, due - now)` with a
 * fractional delay fires up to a millisecond early (libuv counts whole milliseconds from the
 * loop's cached clock), which is how a CI run saw a WeChat Pay retry 13 ms after a 15 ms one.
 */
describe('runNotBefore', () => {
  it('should never run before its due time, over many fractional delays', async () => {
    const lateness: number[] = [];
    for (let run = 0; run < 50; run += 1) {
      const due = performance.now() + 2.5;
      await new Promise<void>((resolve) =>
        runNotBefore(
          due,
          () => {
            lateness.push(performance.now() - due);
            resolve();
          },
          () => undefined,
        ),
      );
    }
    expect(lateness.filter((ms) => ms < 0)).toEqual([]);
  });

  it('should hand out each pending timer, so that a cancel stops the work', async () => {
    let ran = false;
    let pending: NodeJS.Timeout | undefined;
    runNotBefore(
      performance.now() + 5,
      () => (ran = true),
      (timer) => (pending = timer),
    );
    expect(pending).toBeDefined();
    clearTimeout(pending);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(ran).toBe(false);
  });
});
