import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirectory } from '../../make-directory';
import type { GatewayStore, StoreChange } from './store';

const JOURNAL_FILE = 'gateway.jsonl';
/** The journal is rewritten as a snapshot once it holds this many lines more than records. */
const COMPACT_SLACK = 10_000;

/**
 * Keeps the gateway emulator's state in a directory, as a real gateway keeps its bills across a
 * restart: bills (with their webhook attempts and whether delivery is still going on), refunds,
 * spent `bill_no`s, refund holds and the Alipay signing keys. Injected faults and held answers
 * are not kept: they are meant for the calls that follow them.
 *
 * The state is a journal of JSON lines, `gateway.jsonl`, each holding one whole record that
 * replaces any earlier line about it; a change is appended synchronously before the answer that
 * made it leaves, so a crash loses nothing that was answered. The journal is rewritten as a
 * snapshot when opened and whenever it grows far beyond the state (written aside, then renamed).
 */
export class GatewayJournal {
  private fd = -1;
  private lines = 0;

  private constructor(
    private readonly path: string,
    private readonly store: GatewayStore,
  ) {}

  /**
   * Loads what `directory` keeps into `store` (creating the directory if needed) and keeps every
   * later change of `store` there. A torn last line (a crash mid-write) is skipped.
   */
  static open(directory: string, store: GatewayStore): GatewayJournal {
    makeDirectory(directory);
    const journal = new GatewayJournal(join(directory, JOURNAL_FILE), store);
    if (existsSync(journal.path)) {
      for (const line of readFileSync(journal.path, 'utf8').split('\n')) {
        const change = parseLine(line);
        if (change) store.restore(change);
      }
    }
    journal.compact();
    store.onChange = (change) => journal.append(change);
    return journal;
  }

  /** Stops keeping changes; the state on disk stays as it is. */
  close(): void {
    if (this.store.onChange) this.store.onChange = undefined;
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private append(change: StoreChange): void {
    if (this.fd < 0) return;
    writeSync(this.fd, `${JSON.stringify(change)}\n`);
    this.lines += 1;
    if (this.lines > 2 * (this.store.bills.size + this.store.refunds.size) + COMPACT_SLACK) this.compact();
  }

  private compact(): void {
    if (this.fd >= 0) closeSync(this.fd);
    const records = [...this.store.snapshot()];
    const aside = `${this.path}.tmp`;
    writeFileSync(aside, records.map((record) => `${JSON.stringify(record)}\n`).join(''));
    renameSync(aside, this.path);
    this.fd = openSync(this.path, 'a');
    this.lines = records.length;
  }
}

function parseLine(line: string): StoreChange | undefined {
  if (line.trim() === '') return undefined;
  try {
    const change = JSON.parse(line) as StoreChange;
    return typeof change === 'object' && change !== null && typeof change.kind === 'string' ? change : undefined;
  } catch {
    return undefined;
  }
}
