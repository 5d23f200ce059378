import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';

/**
 * A new PGlite database spends most of its first start in initdb (PGlite compiles and runs a
 * second WebAssembly module: about 3.5 s here) and in the first migrations. Their outcome is the
 * same for every data directory, so `npm install` makes one migrated cluster
 * (`server/prepare-storage.ts`) and every new data directory starts as a copy of it; `migrate`
 * then applies whatever migrations came later. Without the template, PGlite runs initdb as before.
 */
// Found from where PGlite is installed, not from this file: the compiled server (dist/server)
// runs from another depth of the tree.
const PGLITE_ENTRY = require.resolve('@electric-sql/pglite');
const NODE_MODULES = PGLITE_ENTRY.slice(0, PGLITE_ENTRY.lastIndexOf(`${sep}@electric-sql${sep}pglite${sep}`));
const PGLITE_PACKAGE = join(NODE_MODULES, '@electric-sql', 'pglite', 'package.json');

export interface PgliteTemplate {
  /** An initialised, migrated, cleanly shut down cluster. */
  cluster: string;
  /** The same cluster as PGlite's gzip'd tar dump (for in-memory databases). */
  tarball: string;
}

let pgliteVersion: string | undefined;

/** Where the template for the installed PGlite lives; another PGlite version gets its own. */
export function pgliteTemplate(cacheRoot = join(NODE_MODULES, '.cache', 'miniprogram-checkout')): PgliteTemplate {
  pgliteVersion ??= (JSON.parse(readFileSync(PGLITE_PACKAGE, 'utf8')) as { version: string }).version;
  const directory = join(cacheRoot, `pglite-${pgliteVersion}`);
  return { cluster: join(directory, 'cluster'), tarball: join(directory, 'cluster.tar.gz') };
}

export function isComplete(template: PgliteTemplate): boolean {
  return existsSync(join(template.cluster, 'PG_VERSION')) && existsSync(template.tarball);
}

/**
 * Gives a data directory that holds no cluster yet a copy of the template, copied aside and
 * renamed into place so that a crash never leaves half a cluster behind. False when there is no
 * template, the directory is already in use, or the copy failed (PGlite then runs initdb: the
 * template only ever saves time).
 */
export function seedFromTemplate(clusterDirectory: string, template = pgliteTemplate()): boolean {
  if (!isComplete(template)) return false;
  if (existsSync(clusterDirectory) && readdirSync(clusterDirectory).length > 0) return false;
  const partial = `${clusterDirectory}.partial-${process.pid}`;
  try {
    rmSync(partial, { recursive: true, force: true });
    cpSync(template.cluster, partial, { recursive: true });
    rmSync(clusterDirectory, { recursive: true, force: true });
    renameSync(partial, clusterDirectory);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
}

/**
 * Removes the copies `seedFromTemplate` left beside `clusterDirectory` when a crash (kill -9, a
 * power cut) cut them short: they are never renamed into place and would stay forever (tens of
 * megabytes each). Only for the holder of the data directory's lock, under which no other copy
 * can be under way.
 */
export function removeCopiesCutShort(clusterDirectory: string): void {
  const prefix = `${basename(clusterDirectory)}.partial-`;
  const parent = dirname(clusterDirectory);
  for (const name of readdirSync(parent)) {
    if (name.startsWith(prefix)) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

/** The template as a tarball PGlite can load into memory, when there is a readable one. */
export function templateTarball(template = pgliteTemplate()): Blob | undefined {
  if (!isComplete(template)) return undefined;
  try {
    return new Blob([readFileSync(template.tarball)]);
  } catch {
    return undefined;
  }
}
