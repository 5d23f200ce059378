/** Time that passes only when the code under test sleeps, so backoff runs instantly and exactly. */
export class VirtualClock {
  readonly sleeps: number[] = [];
  private current = 1_700_000_000_000;

  now = (): number => this.current;

  sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.current += ms;
  };

  advance(ms: number): void {
    this.current += ms;
  }
}
