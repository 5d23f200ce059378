import { lstatSync, mkdirSync, readlinkSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Creates `directory` and whichever of its parents are missing, like `mkdir -p`, in a bounded
 * number of steps. Node's own `mkdirSync(path, { recursive: true })` (and its asynchronous
 * forms) never returns when the file system answers ENOENT for a child of a parent that exists:
 * /proc and /sys do that for any new name, and Node then creates the parent again and retries the
 * child, forever, at full CPU (seen with Node 20 on Linux: `DATA_DIR=/proc/x` hung the start).
 *
 * Throws a system error (`code` ENOENT, ENOTDIR, EACCES, EROFS…, `syscall` and `path`) whose
 * one-line message names the path that could not be made.
 */
export function makeDirectory(directory: string): void {
  const target = resolve(directory);
  const missing: string[] = [];
  for (let path = target; !exists(path); path = dirname(path)) {
    missing.unshift(path);
    if (dirname(path) === path) break;
  }
  for (const path of missing) {
    try {
      mkdirSync(path);
    } catch (error) {
      // Made by someone else in between: fine when it is a directory (checked below).
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  assertDirectory(target);
}

/** Whether anything, even a symbolic link to nothing, is at `path`. */
function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function assertDirectory(path: string): void {
  const followed = statSync(path, { throwIfNoEntry: false });
  if (followed?.isDirectory()) return;
  const error = new Error(
    followed
      ? `${path} is not a directory`
      : lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()
        ? `${path} is a symbolic link to ${readlinkSync(path)}, which does not exist`
        : `${path} does not exist`,
  ) as NodeJS.ErrnoException;
  Object.assign(error, { code: followed ? 'ENOTDIR' : 'ENOENT', syscall: 'mkdir', path });
  throw error;
}
