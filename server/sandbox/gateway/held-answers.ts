/**
 * Gateway answers held back by a slow-gateway fault (`POST /sandbox/gateway/faults
 * {delay_ms}`). The operation has already been carried out when its answer is held, which
 * is what a client that times out meets in production: it cannot tell whether the bill or
 * refund exists. `releaseAll()` (on `Sandbox.close()`) lets every held answer go at once,
 * so closing never waits out a delay.
 */
export class AnswerHolds {
  private readonly pending = new Set<() => void>();
  private closed = false;

  /** Resolves after `ms`, or at once when the holds are (or get) released. */
  hold(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.pending.delete(release);
        resolve();
      };
      const timer = setTimeout(release, ms);
      // A held answer alone must not keep the process alive: the listening server does that.
      timer.unref();
      this.pending.add(release);
    });
  }

  /** How many answers are being held right now. */
  get size(): number {
    return this.pending.size;
  }

  /** Releases every held answer now; later holds resolve at once. */
  releaseAll(): void {
    this.closed = true;
    for (const release of [...this.pending]) release();
  }
}
