import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPglite } from '../../server/adapters/storage/database';
import {
  DataDirInUseError,
  LOCK_FILE,
  LockHolder,
  lockDataDir,
  removeIfUnchanged,
} from '../../server/adapters/storage/data-dir-lock';

const ROOT = join(__dirname, '..', '..');
const onLinux = existsSync('/proc/self/stat');
const linuxOnly = onLinux ? it : it.skip;

function startTicksOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

function holder(fields: Partial<LockHolder>): LockHolder {
  return { pid: 1, host: hostname(), startedAt: '2020-01-01T00:00:00.000Z', command: 'node server/main.ts', ...fields };
}

/** A process that lives until killed. */
function sleeper(): ChildProcess & { gone: Promise<void> } {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)'], { stdio: 'ignore' });
  return Object.assign(child, { gone: new Promise<void>((resolve) => child.on('exit', () => resolve())) });
}

async function waitFor(probe: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the DATA_DIR lock', () => {
  let dataDir: string;
  let lockFile: string;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'checkout-lock-'));
    lockFile = join(dataDir, LOCK_FILE);
  });

  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const plant = (content: LockHolder | string) =>
    writeFileSync(lockFile, typeof content === 'string' ? content : JSON.stringify(content));
  const holderOnDisk = () => JSON.parse(readFileSync(lockFile, 'utf8')) as LockHolder;

  it('should name this process in the lock, refuse a second lock in it, and free the directory on release', () => {
    const lock = lockDataDir(dataDir);
    expect(holderOnDisk()).toMatchObject({ pid: process.pid, host: hostname() });
    expect(holderOnDisk().command).toContain(process.execPath);
    expect(() => lockDataDir(dataDir)).toThrow(/already open in this process/);

    lock.release();
    expect(existsSync(lockFile)).toBe(false);
    lockDataDir(dataDir).release();
  });

  it('should refuse while the holder runs, naming DATA_DIR, its pid and command, and leave its lock alone', async () => {
    const running = sleeper();
    children.push(running);
    const planted = holder({ pid: running.pid!, processStart: onLinux ? startTicksOf(running.pid!) : undefined });
    plant(planted);

    let refusal: unknown;
    try {
      lockDataDir(dataDir);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(DataDirInUseError);
    expect((refusal as Error).message).toContain(`DATA_DIR ${dataDir} is in use`);
    expect((refusal as Error).message).toContain(`pid ${running.pid} on ${hostname()}`);
    expect((refusal as Error).message).toContain('node server/main.ts');
    expect((refusal as Error).message).toContain(`delete ${lockFile}`);
    expect(holderOnDisk()).toEqual(planted);
  });

  linuxOnly(
    'should take over a lock without a start time whose pid runs something else (init, a lock written by hand)',
    () => {
      plant(JSON.stringify({ pid: 1, host: hostname() }));
      lockDataDir(dataDir).release();

      const unrelated = sleeper();
      children.push(unrelated);
      plant(holder({ pid: unrelated.pid!, command: `${process.execPath} ${join(ROOT, 'server/main.ts')}` }));
      lockDataDir(dataDir).release();
    },
  );

  it('should refuse a lock without a start time whose pid runs the command it names, saying which file to delete', () => {
    const running = sleeper();
    children.push(running);
    // The command as a holder records it: its node, then node's arguments.
    plant(holder({ pid: running.pid!, command: `${process.execPath} -e setInterval(() => {}, 60_000)` }));
    expect(() => lockDataDir(dataDir)).toThrow(
      new RegExp(
        `DATA_DIR ${dataDir} is in use .*pid ${running.pid}.*If pid ${running.pid} is not a checkout server using this data directory, delete ${lockFile}`,
      ),
    );

    // Started as `node server.js` in its directory: the lock holds the script's absolute path.
    const script = join(dataDir, 'server.js');
    writeFileSync(script, 'setInterval(() => {}, 60_000);');
    const byPath = spawn(process.execPath, ['server.js'], { cwd: dataDir, stdio: 'ignore' });
    children.push(byPath);
    plant(holder({ pid: byPath.pid!, command: `${process.execPath} ${script}` }));
    expect(() => lockDataDir(dataDir)).toThrow(DataDirInUseError);
  });

  it('should take over the lock of a holder that exited without releasing it', async () => {
    const crashed = sleeper();
    crashed.kill('SIGKILL');
    await crashed.gone;
    plant(holder({ pid: crashed.pid! }));

    const lock = lockDataDir(dataDir);
    expect(holderOnDisk().pid).toBe(process.pid);
    lock.release();
  });

  linuxOnly('should take over a lock whose holder is a zombie (exited, not yet collected by its parent)', async () => {
    // The background `sleep 0` exits at once; its parent then runs `sleep`, which never collects it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(parent);
    let printed = '';
    parent.stdout!.on('data', (chunk) => (printed += chunk));
    await waitFor(() => /\d+\n/.test(printed), 5000, 'the zombie pid');
    const zombie = Number(printed.trim());
    await waitFor(() => readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z '), 5000, 'the zombie');
    plant(holder({ pid: zombie }));

    lockDataDir(dataDir).release();
  });

  linuxOnly('should take over a lock whose pid now belongs to another process, or that is from an earlier boot', () => {
    const reused = sleeper();
    children.push(reused);
    plant(holder({ pid: reused.pid!, processStart: '1' }));
    lockDataDir(dataDir).release();

    plant(holder({ pid: reused.pid!, bootId: '00000000-0000-0000-0000-000000000000' }));
    lockDataDir(dataDir).release();
  });

  it('should take over a lock naming this very pid: a previous life of this process (a restarted container)', () => {
    plant(holder({ pid: process.pid }));
    lockDataDir(dataDir).release();
  });

  it('should take over an unreadable lock: holders write theirs whole before it appears', () => {
    plant('');
    lockDataDir(dataDir).release();
    plant('{"pid": "twelve"');
    lockDataDir(dataDir).release();
  });

  it('should refuse a lock from another host, which cannot be checked, saying which file to delete', () => {
    plant(holder({ pid: 4242, host: 'elsewhere.example' }));
    expect(() => lockDataDir(dataDir)).toThrow(
      new RegExp(`pid 4242 on elsewhere\\.example.*If no server uses this data directory any more, delete ${lockFile}`),
    );
  });

  it('should not delete a lock that is no longer its own on release', () => {
    const lock = lockDataDir(dataDir);
    const other = holder({ pid: 4242 });
    plant(other);
    lock.release();
    expect(holderOnDisk()).toEqual(other);
  });

  it('should put back a fresh lock that replaced the stale one between reading and removing it', () => {
    const stale = JSON.stringify(holder({ pid: 4242 }));
    const fresh = holder({ pid: 4343 });
    plant(fresh);
    removeIfUnchanged(lockFile, stale);
    expect(holderOnDisk()).toEqual(fresh);

    plant(stale);
    removeIfUnchanged(lockFile, stale);
    expect(existsSync(lockFile)).toBe(false);
  });

  it('should let exactly one of several processes starting together over a stale lock have it', async () => {
    const crashed = sleeper();
    crashed.kill('SIGKILL');
    await crashed.gone;
    plant(holder({ pid: crashed.pid! }));

    // Each contender loads the lock, says so, and on "go" tries; a winner holds until stdin closes.
    const script = `
      const { lockDataDir } = require(${JSON.stringify(join(ROOT, 'server/adapters/storage/data-dir-lock.ts'))});
      process.stdout.write('ready\\n');
      process.stdin.once('data', () => {
        try { lockDataDir(${JSON.stringify(dataDir)}); process.stdout.write('locked\\n'); }
        catch (error) { process.stdout.write((error.name === 'DataDirInUseError' ? 'refused' : 'failed: ' + error.message) + '\\n'); }
        process.stdin.resume();
      });`;
    const outputs: string[] = [];
    const contenders = Array.from({ length: 6 }, (_, index) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      children.push(child);
      outputs[index] = '';
      child.stdout!.on('data', (chunk) => (outputs[index] += chunk));
      return child;
    });
    await waitFor(() => outputs.every((output) => output.includes('ready')), 30_000, 'every contender to load');
    for (const child of contenders) child.stdin!.write('go\n');
    await waitFor(() => outputs.every((output) => /locked|refused|failed/.test(output)), 10_000, 'every answer');

    const answers = outputs.map((output) => output.replace('ready\n', '').trim()).sort();
    expect(answers).toEqual(['locked', 'refused', 'refused', 'refused', 'refused', 'refused']);
  });

  it('should keep a second PGlite off an open data directory, and let it in once the first is closed', async () => {
    const first = await openPglite(dataDir);
    await expect(openPglite(dataDir)).rejects.toThrow(DataDirInUseError);
    await first.close();
    expect(existsSync(lockFile)).toBe(false);

    const second = await openPglite(dataDir);
    await second.query('SELECT 1');
    await second.close();
  });
});
