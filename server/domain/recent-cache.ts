/**
 * A bounded in-memory map for the hot read paths (sessions, order status). Entries carry their
 * own deadline; the oldest entry goes when the map is full. Not shared between instances:
 * whatever may change elsewhere is either immutable or evicted by the change feed.
 */
export class RecentCache<Value> {
  private readonly entries = new Map<string, { value: Value; until: number }>();

  constructor(private readonly capacity: number) {}

  get(key: string, now: number): Value | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: Value, until: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, until });
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
