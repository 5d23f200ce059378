import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join, resolve, sep } from 'node:path';

/**
 * PGlite is PostgreSQL running inside this process, with no postmaster to keep a second process
 * out of its files (the `postmaster.pid` it writes lives in its own virtual file system and always
 * says pid -42). Two servers on one data directory each run their own PostgreSQL over the same
 * files, and one's writes silently replace the other's. This lock gives a data directory one owner.
 *
 * The lock is a file naming its holder. It is created complete and atomically (written aside, then
 * hard-linked into place, which fails if a lock exists). A lock whose holder is gone (a crash, a
 * kill -9, a reboot) is stale and taken over; a holder is gone when its pid no longer runs on this
 * host, or now belongs to a process started at another time (pid reuse, a restarted container).
 */
export const LOCK_FILE = 'pglite.lock';

/** What a lock file says about the process holding it. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the holder took the lock. */
  startedAt: string;
  /** The holder's command line. */
  command: string;
  /** Linux: the kernel's boot id; a lock from an earlier boot is stale. */
  bootId?: string;
  /** Linux: the holder's start time in clock ticks since boot (`/proc/<pid>/stat`), to tell pid reuse. */
  processStart?: string;
}

/** The data directory is held by another live process (or one on another host, which cannot be checked). */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
    readonly lockFile: string,
    reason: 'running' | 'other-host' | 'this-process',
  ) {
    const who = `pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}: ${holder.command}`;
    super(
      reason === 'running'
        ? `DATA_DIR ${dataDir} is in use by another checkout server (${who}). PGlite keeps its database ` +
            'inside one process: stop that server first, give each server its own DATA_DIR, or share ' +
            `one PostgreSQL between servers with DATABASE_URL. If pid ${holder.pid} is not a checkout server ` +
            `using this data directory, delete ${lockFile}.`
        : reason === 'other-host'
          ? `DATA_DIR ${dataDir} is locked by a checkout server on another host (${who}); whether it still ` +
            `runs cannot be checked from here. If no server uses this data directory any more, delete ${lockFile}.`
          : `DATA_DIR ${dataDir} is already open in this process.`,
    );
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  readonly file: string;
  /** Deletes the lock file, if it is still this holder's. */
  release(): void;
}

const heldHere = new Set<string>();

/**
 * Takes the lock of `dataDir` (an existing directory) for this process, replacing a stale one.
 * Throws `DataDirInUseError` while another live process holds it.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const directory = resolve(dataDir);
  const file = join(directory, LOCK_FILE);
  const mine = describeThisProcess();
  const content = JSON.stringify(mine);
  if (heldHere.has(file)) throw new DataDirInUseError(directory, mine, file, 'this-process');

  // Each pass either takes the lock, refuses, or removes a stale lock; a few passes cover
  // starters racing to replace the same stale lock.
  for (let attempt = 0; attempt < 10; attempt += 1) {
    if (createExclusively(file, content)) {
      heldHere.add(file);
      return {
        file,
        release() {
          if (!heldHere.delete(file)) return;
          if (readIfPresent(file) === content) rmSync(file, { force: true });
        },
      };
    }
    const found = readIfPresent(file);
    if (found === undefined) continue;
    const holder = parseHolder(found);
    const state = holder ? holderState(holder) : 'gone';
    if (state === 'running') throw new DataDirInUseError(directory, holder!, file, 'running');
    if (state === 'other-host') throw new DataDirInUseError(directory, holder!, file, 'other-host');
    removeIfUnchanged(file, found);
  }
  throw new Error(`Could not take the lock ${file}: it keeps changing (several servers starting at once?)`);
}

function describeThisProcess(): LockHolder {
  return {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    command: [process.execPath, ...process.execArgv, ...process.argv.slice(1)].join(' '),
    bootId: readProc('/proc/sys/kernel/random/boot_id'),
    processStart: processStat(process.pid)?.startTicks,
  };
}

function createExclusively(file: string, content: string): boolean {
  const aside = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(aside, content, { flag: 'wx' });
  try {
    linkSync(aside, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(aside, { force: true });
  }
}

function holderState(holder: LockHolder): 'running' | 'gone' | 'other-host' {
  if (holder.host !== hostname()) return 'other-host';
  const bootId = readProc('/proc/sys/kernel/random/boot_id');
  if (holder.bootId && bootId && holder.bootId !== bootId) return 'gone';
  // Not held here (checked first), so a lock naming this pid is a previous life's: a container
  // restarted after a crash starts its server under the same pid.
  if (holder.pid === process.pid) return 'gone';
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: the pid runs, as another user.
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return 'gone';
  }
  const stat = processStat(holder.pid);
  // A zombie has exited and closed its files; only its parent has not collected it yet.
  if (stat && (stat.state === 'Z' || stat.state === 'X')) return 'gone';
  if (holder.processStart && stat) return holder.processStart === stat.startTicks ? 'running' : 'gone';
  // No start time to compare (a lock written by hand, or a system without /proc): whether the
  // pid runs the command the lock names decides; when that cannot be read, the lock holds.
  return runsCommand(holder.pid, holder.command) === false ? 'gone' : 'running';
}

/**
 * Linux: whether process `pid` runs `command` as a holder records it (its node, then node's
 * arguments: every argument after the program's name is one of the command's, a relative path
 * resolved in the process's working directory); `undefined` when /proc cannot tell.
 */
function runsCommand(pid: number, command: string): boolean | undefined {
  const cmdline = readProcRaw(`/proc/${pid}/cmdline`);
  if (cmdline === undefined) return undefined;
  const args = cmdline.split('\0').slice(1, -1);
  // A kernel thread has no command line; a checkout server always has at least its script.
  if (args.length === 0) return false;
  const words = new Set(command.split(' '));
  let cwd: string | undefined;
  for (const arg of args) {
    if (arg.includes(' ') ? command.includes(arg) : words.has(arg)) continue;
    // A holder records its script's absolute path: a relative one can only be it when some word ends so.
    if (isAbsolute(arg) || ![...words].some((word) => word.endsWith(`${sep}${arg}`))) return false;
    try {
      cwd ??= readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // Another user's process: its working directory cannot be read.
      return undefined;
    }
    if (!words.has(resolve(cwd, arg))) return false;
  }
  return true;
}

/**
 * Removes the lock `file` if it still holds `stale`, the content judged stale. Another starter
 * may have replaced it since it was read: the lock is moved aside first, and a fresh one goes
 * back in place.
 */
export function removeIfUnchanged(file: string, stale: string): void {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    if (readIfPresent(aside) !== stale) linkSync(aside, file);
  } catch (error) {
    // A third starter locked in the same instant. Only three starters racing over one stale
    // lock within microseconds get here (the fresh lock moved aside is then lost); this one
    // meets the newest lock on its next pass.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(aside, { force: true });
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(text) as Partial<LockHolder>;
    if (!Number.isSafeInteger(holder.pid) || holder.pid! <= 0 || typeof holder.host !== 'string') return undefined;
    return {
      pid: holder.pid!,
      host: holder.host,
      startedAt: String(holder.startedAt ?? 'at an unknown time'),
      command: String(holder.command ?? 'unknown command'),
      bootId: typeof holder.bootId === 'string' ? holder.bootId : undefined,
      processStart: typeof holder.processStart === 'string' ? holder.processStart : undefined,
    };
  } catch {
    // Holders write their lock whole before it appears, so unreadable content has no live holder.
    return undefined;
  }
}

function readIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function readProc(file: string): string | undefined {
  return readProcRaw(file)?.trim();
}

function readProcRaw(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Linux: fields 3 (state) and 22 (start time) of `/proc/<pid>/stat`, counted after the command
 * name, which may hold spaces and parentheses.
 */
function processStat(pid: number): { state: string; startTicks: string } | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, startTicks: fields[19]! };
}
