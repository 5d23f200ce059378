/**
 * A bounded in-memory map for the hot read paths (sessions, order status). Entries carry their
 * own deadline; the oldest entry goes when the map is full. Not shared between instances:
 * whatever may change elsewhere is either immutable or evicted by the change feed.
 */
export class RecentCache<Value> {
  private readonly entries = new Map<string, { value: Value; until: number }>();

  /**
   * @param onDrop called whenever an entry leaves the map (lapsed, pushed out by a newer one,
   *   deleted or cleared), not when `set` replaces it: lets a caller keep its own index in step.
   */
  constructor(
    private readonly capacity: number,
    private readonly onDrop?: (key: string, value: Value) => void,
  ) {}

  get(key: string, now: number): Value | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.drop(key, entry.value);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: Value, until: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, until });
    if (this.entries.size > this.capacity) {
      const [oldest] = this.entries;
      if (oldest) this.drop(oldest[0], oldest[1].value);
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry) this.drop(key, entry.value);
  }

  clear(): void {
    const dropped = [...this.entries];
    this.entries.clear();
    if (this.onDrop) for (const [key, entry] of dropped) this.onDrop(key, entry.value);
  }

  private drop(key: string, value: Value): void {
    this.entries.delete(key);
    this.onDrop?.(key, value);
  }
}
