import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Database, openPglite, wrapPglite } from '../../server/adapters/storage/database';
import { LOCK_FILE } from '../../server/adapters/storage/data-dir-lock';
import { migrate } from '../../server/adapters/storage/migrations';
import {
  PgliteTemplate,
  pgliteTemplate,
  seedFromTemplate,
  templateTarball,
} from '../../server/adapters/storage/pglite-template';
import { preparePgliteTemplate } from '../../server/prepare-storage';

/** Tables, columns, indexes and triggers of the public schema, in a comparable form. */
async function schemaOf(db: Database): Promise<string[]> {
  const { rows: columns } = await db.query<{ line: string }>(
    `SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') AS line
       FROM information_schema.columns WHERE table_schema = 'public'`,
  );
  const { rows: indexes } = await db.query<{ line: string }>(
    `SELECT indexdef AS line FROM pg_indexes WHERE schemaname = 'public'`,
  );
  const { rows: triggers } = await db.query<{ line: string }>(
    `SELECT tgname || ' ON ' || tgrelid::regclass::text AS line FROM pg_trigger WHERE NOT tgisinternal`,
  );
  return [...columns, ...indexes, ...triggers].map((row) => row.line).sort();
}

describe('the PGlite template new data directories start from', () => {
  let workspace: string;
  let template: PgliteTemplate;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'pglite-template-'));
    template = pgliteTemplate(join(workspace, 'cache'));
    expect(await preparePgliteTemplate(template)).toBe('created');
  });

  afterAll(() => rmSync(workspace, { recursive: true, force: true }));

  it('is made once per PGlite version, whole', async () => {
    expect(template.cluster).toMatch(/pglite-\d+\.\d+\.\d+[/\\]cluster$/);
    expect(existsSync(join(template.cluster, 'PG_VERSION'))).toBe(true);
    expect(existsSync(template.tarball)).toBe(true);
    expect(await preparePgliteTemplate(template)).toBe('present');
    expect(readdirSync(join(workspace, 'cache')).filter((name) => name.includes('.partial-'))).toEqual([]);
  });

  it('holds exactly the schema that initdb and every migration make', async () => {
    const fresh = wrapPglite(await PGlite.create());
    expect((await migrate(fresh)).length).toBeGreaterThan(0);
    const cluster = join(workspace, 'data-schema', 'pglite');
    expect(seedFromTemplate(cluster, template)).toBe(true);
    const seeded = wrapPglite(await PGlite.create(cluster));
    try {
      expect(await migrate(seeded)).toEqual([]);
      const expected = await schemaOf(fresh);
      expect(expected.some((line) => line.startsWith('orders.order_no '))).toBe(true);
      expect(await schemaOf(seeded)).toEqual(expected);
    } finally {
      await seeded.close();
      await fresh.close();
    }
  });

  it('gives an empty data directory a working cluster that keeps its data', async () => {
    const cluster = join(workspace, 'data-a', 'pglite');
    mkdirSync(cluster, { recursive: true });
    expect(seedFromTemplate(cluster, template)).toBe(true);

    const first = await PGlite.create(cluster);
    await first.exec(`CREATE TABLE kept (n int); INSERT INTO kept VALUES (42);`);
    await first.close();
    const again = await PGlite.create(cluster);
    expect((await again.query<{ n: number }>('SELECT n FROM kept')).rows).toEqual([{ n: 42 }]);
    await again.close();
  });

  it('never touches a data directory that already holds something', () => {
    const cluster = join(workspace, 'data-b', 'pglite');
    mkdirSync(cluster, { recursive: true });
    writeFileSync(join(cluster, 'PG_VERSION'), '17\n');
    expect(seedFromTemplate(cluster, template)).toBe(false);
    expect(readdirSync(cluster)).toEqual(['PG_VERSION']);
  });

  it('leaves the directory to initdb when there is no template', () => {
    const missing = pgliteTemplate(join(workspace, 'no-cache'));
    const cluster = join(workspace, 'data-c', 'pglite');
    expect(seedFromTemplate(cluster, missing)).toBe(false);
    expect(existsSync(cluster)).toBe(false);
    expect(templateTarball(missing)).toBeUndefined();
  });

  it('leaves the directory to initdb when the template cannot be copied', () => {
    const broken = pgliteTemplate(join(workspace, 'broken-cache'));
    mkdirSync(broken.cluster, { recursive: true });
    writeFileSync(join(broken.cluster, 'PG_VERSION'), '17\n');
    writeFileSync(broken.tarball, '');
    // A named pipe is something no copy can take along.
    execFileSync('mkfifo', [join(broken.cluster, 'unreadable')]);
    const cluster = join(workspace, 'data-d', 'pglite');
    expect(seedFromTemplate(cluster, broken)).toBe(false);
    expect(existsSync(cluster)).toBe(false);
    expect(readdirSync(join(workspace, 'data-d'))).toEqual([]);
  });

  it('is copied again by the next start after a crash cut the copy short, and the copy left behind is removed', async () => {
    // What a kill -9 during the first start's copy leaves: its lock, and half a copy beside no cluster.
    const dataDir = join(workspace, 'data-crashed');
    const partial = join(dataDir, 'pglite.partial-99999');
    mkdirSync(join(partial, 'base'), { recursive: true });
    writeFileSync(join(partial, 'PG_VERSION'), '17\n');
    const crashed = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((resolve) => crashed.on('exit', resolve));
    writeFileSync(
      join(dataDir, LOCK_FILE),
      JSON.stringify({ pid: crashed.pid, host: hostname(), startedAt: '', command: 'node' }),
    );

    const db = await openPglite(dataDir);
    try {
      expect(readdirSync(dataDir).sort()).toEqual(['pglite', LOCK_FILE]);
      await migrate(db);
      await db.exec(`CREATE TABLE kept (n int); INSERT INTO kept VALUES (42);`);
    } finally {
      await db.close();
    }
    // A copy cut short beside a cluster that is in use is removed too, and the cluster is kept.
    mkdirSync(join(dataDir, 'pglite.partial-99998'));
    const again = await openPglite(dataDir);
    try {
      expect(readdirSync(dataDir).sort()).toEqual(['pglite', LOCK_FILE]);
      expect((await again.query<{ n: number }>('SELECT n FROM kept')).rows).toEqual([{ n: 42 }]);
    } finally {
      await again.close();
    }
  });

  it('loads into an in-memory database', async () => {
    const tarball = templateTarball(template);
    expect(tarball).toBeDefined();
    const db = await PGlite.create({ loadDataDir: tarball });
    expect((await db.query<{ answer: number }>('SELECT 6 * 7 AS answer')).rows).toEqual([{ answer: 42 }]);
    await db.close();
  });
});
