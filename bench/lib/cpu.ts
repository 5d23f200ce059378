import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of a process and all its descendants (user + system), ms, from `/proc/<pid>/stat`
 * (Linux; 0 elsewhere). A server the bench starts is `tsx` with node (and esbuild) under it, so
 * the whole tree is counted; the tsx parent and esbuild sit idle once the server is up.
 */
export function processTreeCpuMs(rootPid: number): number {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return 0;
  }
  const parentOf = new Map<number, number>();
  const ticksOf = new Map<number, number>();
  for (const entry of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    parentOf.set(Number(entry), Number(fields[1]));
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after `state`.
    ticksOf.set(Number(entry), Number(fields[11]) + Number(fields[12]));
  }
  let ticks = 0;
  for (const [pid, own] of ticksOf) {
    for (let at: number | undefined = pid; at !== undefined && at > 0; at = parentOf.get(at)) {
      if (at === rootPid) {
        ticks += own;
        break;
      }
    }
  }
  // USER_HZ is 100 on every Linux build this runs on (`getconf CLK_TCK`).
  return ticks * 10;
}
