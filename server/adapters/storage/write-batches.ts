import DataLoader from 'dataloader';

/** A write that can go to the database for many rows in one statement, or for one. */
export interface BatchableWrite<Row, Result> {
  /** One statement for all the rows; results in the same order. */
  many(rows: readonly Row[]): Promise<Result[]>;
  /** Whether these rows may share a statement (e.g. no row updated twice). */
  canShare?(rows: readonly Row[]): boolean;
}

const MAX_BATCH_SIZE = 200;

/**
 * Writes from requests that are in flight together go to the database as one statement: every
 * round trip costs a socket write and a commit on both ends, and at peak many checkouts are
 * in flight at once. Rows are collected until the event loop has handled the I/O at hand
 * (setImmediate), so a lone request waits no longer than that. A batch the database refuses is
 * written again row by row, so that a bad row fails only its own request.
 */
export function batchWrites<Row, Result>(write: BatchableWrite<Row, Result>): (row: Row) => Promise<Result> {
  const loader = new DataLoader<Row, Result>(
    async (rows) => {
      if (rows.length > 1 && (write.canShare?.(rows) ?? true)) {
        try {
          return await write.many(rows);
        } catch {
          // Written again below, one row at a time: each request gets its own outcome.
        }
      }
      const results: Array<Result | Error> = [];
      for (const row of rows) {
        try {
          const [result] = await write.many([row]);
          results.push(result);
        } catch (error) {
          results.push(error instanceof Error ? error : new Error(String(error)));
        }
      }
      return results;
    },
    { cache: false, maxBatchSize: MAX_BATCH_SIZE, batchScheduleFn: (flush) => setImmediate(flush) },
  );
  return (row) => loader.load(row);
}
