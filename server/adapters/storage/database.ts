import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Client, Pool, PoolClient, types } from 'pg';
import { makeDirectory } from '../../make-directory';
import { lockDataDir } from './data-dir-lock';
import { removeCopiesCutShort, seedFromTemplate, templateTarball } from './pglite-template';

/**
 * One SQL interface over both storages: PGlite (PostgreSQL compiled to WebAssembly, in-process,
 * the zero-configuration default) and a PostgreSQL server through `pg`. Same SQL, same migrations.
 */
export interface QueryOptions {
  /** Prepare the statement once per connection under this name (hot paths): PostgreSQL plans it once. */
  prepareAs?: string;
}

export interface Queryable {
  query<Row = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<{ rows: Row[]; rowCount: number }>;
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface ChangeListener {
  onNotification(payload: string): void;
  /** The feed was interrupted (and is being re-established): notifications may have been missed. */
  onGap(): void;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** LISTENs on a channel until the returned function is called. */
  listen(channel: string, listener: ChangeListener): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

// int8 (counts, money) as a number, as PGlite gives it; beyond exact integers a bigint, never a
// silently rounded number: readers of money columns refuse it.
types.setTypeParser(types.builtins.INT8, (value) => {
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : BigInt(value);
});

/** Where PGlite keeps its cluster inside `DATA_DIR`. */
export function pgliteClusterDirectory(dataDir: string): string {
  return resolve(dataDir, 'pglite');
}

/**
 * PGlite in memory (no `dataDir`) or in `dataDir`, which this process then owns until `close()`:
 * throws `DataDirInUseError` while another live process has it open (`data-dir-lock.ts`).
 */
export async function openPglite(dataDir: string | undefined): Promise<Database> {
  if (!dataDir) {
    const template = templateTarball();
    return wrapPglite(await PGlite.create(template ? { loadDataDir: template } : {}));
  }
  const directory = pgliteClusterDirectory(dataDir);
  makeDirectory(dataDir);
  // Before the cluster is touched: seeding it from the template is a write too.
  const lock = lockDataDir(dataDir);
  try {
    removeCopiesCutShort(directory);
    seedFromTemplate(directory);
    makeDirectory(directory);
    return wrapPglite(await PGlite.create(directory), () => lock.release());
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** `onClosed` runs once PGlite has closed (or failed to): a data directory's lock is released there. */
export function wrapPglite(db: PGlite, onClosed?: () => void): Database {
  const wrap = (target: Pick<PGlite, 'query' | 'exec'>): Queryable => ({
    async query<Row>(sql: string, params?: unknown[]) {
      const result = await target.query<Row>(sql, params);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(sql: string) {
      await target.exec(sql);
    },
  });
  return {
    kind: 'pglite',
    ...wrap(db),
    transaction: (work) => db.transaction((tx) => work(wrap(tx))),
    async listen(channel, listener) {
      const unlisten = await db.listen(channel, (payload) => listener.onNotification(payload));
      return unlisten;
    },
    async close() {
      try {
        await db.close();
      } finally {
        onClosed?.();
      }
    },
  };
}

export async function openPostgres(connectionString: string, poolSize = 10): Promise<Database> {
  const pool = new Pool({ connectionString, max: poolSize });
  // An idle client losing its connection must not take the process down.
  pool.on('error', () => undefined);
  const wrap = (target: Pool | PoolClient): Queryable => ({
    async query<Row>(sql: string, params?: unknown[], options?: QueryOptions) {
      const result = await target.query({ text: sql, values: params, name: options?.prepareAs });
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
    },
    async exec(sql: string) {
      await target.query(sql);
    },
  });
  await pool.query('SELECT 1');
  return {
    kind: 'postgres',
    ...wrap(pool),
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    listen: (channel, listener) => listenWithReconnect(connectionString, channel, listener),
    close: () => pool.end(),
  };
}

/**
 * LISTEN on a dedicated connection (a pooled one would lose it on release). When the connection
 * drops, the listener hears of the gap, the connection is re-established, and the listener hears
 * of the gap once more when listening again (changes in between were not heard).
 */
async function listenWithReconnect(connectionString: string, channel: string, listener: ChangeListener) {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
  let stopped = false;
  let client: Client | undefined;
  let retry: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const candidate = new Client({ connectionString });
    candidate.on('notification', (message) => listener.onNotification(message.payload ?? ''));
    candidate.on('error', () => reconnectSoon(candidate));
    candidate.on('end', () => reconnectSoon(candidate));
    await candidate.connect();
    await candidate.query(`LISTEN ${channel}`);
    client = candidate;
  };
  const reconnectSoon = (failed: Client) => {
    if (stopped || failed !== client) return;
    client = undefined;
    listener.onGap();
    failed.end().catch(() => undefined);
    const attempt = () => {
      if (stopped) return;
      // What was remembered while nobody listened may have changed unheard: forget it again.
      connect().then(
        () => (stopped ? void client?.end().catch(() => undefined) : listener.onGap()),
        () => {
          retry = setTimeout(attempt, 1000);
          retry.unref();
        },
      );
    };
    retry = setTimeout(attempt, 100);
    retry.unref();
  };

  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => undefined);
  };
}
