import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { Database, openPglite, openPostgres } from '../../server/adapters/storage/database';

/**
 * The storages every storage-touching test runs on: PGlite always, PostgreSQL when
 * TEST_DATABASE_URL is set (`.ci/run` sets it). Each PostgreSQL database handle gets its own
 * schema, so test files running in parallel never see each other's rows.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;

export interface TestStorage {
  name: 'pglite' | 'postgres';
  open(): Promise<TestDatabase>;
}

export interface TestDatabase {
  db: Database;
  /** Another handle on the same data (a second server instance). */
  openAnother(): Promise<Database>;
  dispose(): Promise<void>;
}

const pglite: TestStorage = {
  name: 'pglite',
  async open() {
    const db = await openPglite(undefined);
    return {
      db,
      openAnother: () => Promise.reject(new Error('PGlite is one process: no second handle')),
      dispose: () => db.close(),
    };
  },
};

function withSearchPath(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', `-c search_path=${schema}`);
  return parsed.toString();
}

const postgres: TestStorage = {
  name: 'postgres',
  async open() {
    const url = TEST_DATABASE_URL!;
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const admin = new Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const handles: Database[] = [];
    const openHandle = async () => {
      const handle = await openPostgres(withSearchPath(url, schema), 20);
      handles.push(handle);
      return handle;
    };
    const db = await openHandle();
    return {
      db,
      openAnother: openHandle,
      async dispose() {
        for (const handle of handles) await handle.close();
        const cleanup = new Client({ connectionString: url });
        await cleanup.connect();
        await cleanup.query(`DROP SCHEMA ${schema} CASCADE`);
        await cleanup.end();
      },
    };
  },
};

export const STORAGES: TestStorage[] = TEST_DATABASE_URL ? [pglite, postgres] : [pglite];

/** `describe` for PostgreSQL-only behaviour (real concurrency, several instances). */
export const describePostgres: jest.Describe = TEST_DATABASE_URL ? describe : describe.skip;
