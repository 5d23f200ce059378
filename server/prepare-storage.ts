import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { wrapPglite } from './adapters/storage/database';
import { migrate } from './adapters/storage/migrations';
import { isComplete, pgliteTemplate } from './adapters/storage/pglite-template';

/**
 * Makes the PGlite template new data directories start from, unless it exists: a cluster run
 * through initdb and every migration, and the same as a tarball. Built aside and renamed into
 * place, so it is whole or absent.
 */
export async function preparePgliteTemplate(template = pgliteTemplate()): Promise<'created' | 'present'> {
  if (isComplete(template)) return 'present';
  const directory = dirname(template.cluster);
  const partial = `${directory}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  try {
    const pglite = await PGlite.create(join(partial, 'cluster'));
    await migrate(wrapPglite(pglite));
    const dump = await pglite.dumpDataDir('gzip');
    writeFileSync(join(partial, 'cluster.tar.gz'), Buffer.from(await dump.arrayBuffer()));
    await pglite.close();
    rmSync(directory, { recursive: true, force: true });
    renameSync(partial, directory);
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  return 'created';
}

/** `npm install` runs this (postinstall). A failure only costs speed, so it never fails the install. */
async function main() {
  const started = Date.now();
  try {
    if ((await preparePgliteTemplate()) === 'created') {
      process.stdout.write(`PGlite template ready in ${Date.now() - started} ms (${pgliteTemplate().cluster})\n`);
    }
  } catch (error) {
    process.stderr.write(
      `Could not prepare the PGlite template (${error instanceof Error ? error.message : String(error)}); ` +
        'new data directories will run initdb on their first start instead.\n',
    );
  }
}

if (require.main === module) void main();
