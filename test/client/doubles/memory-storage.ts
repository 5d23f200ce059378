import type { KeyValueStorage } from '../../../src/session/storage';

export class MemoryStorage implements KeyValueStorage {
  readonly entries = new Map<string, unknown>();

  getItem(key: string): unknown {
    return this.entries.get(key);
  }

  setItem(key: string, value: unknown): void {
    this.entries.set(key, value);
  }

  removeItem(key: string): void {
    this.entries.delete(key);
  }
}
